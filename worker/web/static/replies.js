// The reply form: picking a snippet fills the text; a sent form cannot be sent twice by a
// double click (the server sends each form once anyway).
"use strict";
for (const form of document.querySelectorAll("form.reply")) {
  const picker = form.querySelector("select[name=snippet]");
  const body = form.querySelector("textarea[name=body]");
  if (picker && body) {
    picker.addEventListener("change", () => {
      const chosen = [...form.querySelectorAll("template[data-snippet]")].find(
        (t) => t.dataset.snippet === picker.value,
      );
      if (chosen) {
        body.value = chosen.content.textContent;
        body.focus();
      }
    });
  }
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]");
    if (button) {
      setTimeout(() => { button.disabled = true; }, 0);
    }
  });
}
