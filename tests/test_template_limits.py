"""A template cannot make the worker spend minutes or gigabytes: each limit is one clear error
naming the template's file and line, raised fast; ordinary templates render as before."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from worker.authoring.templates import TemplateRenderer
from worker.errors import TemplateRenderError

CONTEXT = {"lead": {"first_name": "Ada", "company": "Northwind"}}


def renderer_with(tmp_path: Path, body: str) -> TemplateRenderer:
    root = tmp_path / "templates"
    (root / "t").mkdir(parents=True)
    (root / "t" / "x.txt.j2").write_text(
        "{% block subject %}Hello{% endblock %}\nHi {{ lead.first_name }},\n" + body + "\n",
        encoding="utf-8",
    )
    return TemplateRenderer(root)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
            "loops ran more than 100,000 times",
        ),
        ("{% for a in range(10 ** 9) %}.{% endfor %}", "range() of 1,000,000,000 items"),
        ('{{ "x" * 1000000000 }}', "multiplied to 1,000,000,000 items"),
        ("{{ [1, 2] * 10 ** 8 }}", "multiplied to 200,000,000 items"),
        ("{{ 2 ** (10 ** 9) }}", "a power with exponent 1000000000"),
        ('{{ "%999999999s" | format("x") }}', "a formatting width of 999,999,999"),
        ('{{ "{:>999999999}".format("x") }}', "a formatting width of 999,999,999"),
        ('{{ "x" | center(1000000000) }}', "center() width of 1,000,000,000"),
        (
            '{% for a in range(50000) %}{{ "abcdefghijklmnopqrstuvwxyz" }}{% endfor %}',
            "rendered more than 1,000,000 characters",
        ),
        ("{{ lipsum(100000) }}", "'lipsum' is undefined"),
    ],
)
def test_a_template_that_would_run_away_is_one_error_on_its_line(
    tmp_path: Path, body: str, says: str
) -> None:
    renderer = renderer_with(tmp_path, body)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(TemplateRenderError) as caught:
        renderer.render("t/x", CONTEXT)
    assert time.monotonic() - started < 3.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    assert says in str(caught.value)
    # the line that ran away; the output limit counts the whole template, so only its file
    where = "templates/t/x.txt.j2" + ("" if "characters" in says else ":3")
    assert str(caught.value).startswith(f"{where}: "), str(caught.value)


def test_ordinary_loops_powers_and_formatting_still_render(tmp_path: Path) -> None:
    body = (
        "{% for n in range(3) %}{{ n }}{% endfor %} {{ 2 ** 10 }} {{ '-' * 20 }}"
        ' {{ "%5.1f" | format(3.14159) }} {{ "{:>6}".format("ok") }} {{ "x" | center(5) }}'
    )
    rendered = renderer_with(tmp_path, body).render("t/x", CONTEXT)
    assert "012 1024 " + "-" * 20 + "   3.1     ok   x\n" in rendered.text


def test_the_loop_budget_is_per_render_not_per_process(tmp_path: Path) -> None:
    renderer = renderer_with(tmp_path, "{% for n in range(90000) %}{% endfor %}done")
    for _ in range(3):  # 270,000 loop items over three touches: each within its own budget
        assert "done" in renderer.render("t/x", CONTEXT).text
