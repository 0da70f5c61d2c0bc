"""The template environment: sandboxed Jinja, strict undefined, HTML autoescaped."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    select_autoescape,
)
from jinja2.exceptions import SecurityError

from worker.authoring.template_limits import BoundedSandbox, render_bounded, render_budget
from worker.errors import TemplateRenderError

TEXT_SUFFIX = ".txt.j2"
HTML_SUFFIX = ".html.j2"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedEmail:
    """The rendered parts of one email."""

    subject: str
    text: str
    html: str | None


def make_environment(templates_dir: Path, *, auto_reload: bool = False) -> BoundedSandbox:
    """The one Jinja environment: sandboxed with limits (``template_limits``), strict,
    autoescaping ``*.html.j2`` only."""
    return BoundedSandbox(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=auto_reload,
        cache_size=-1,
    )


def one_line(text: str) -> str:
    """Collapse all whitespace (CR/LF included) to single spaces: safe for a header."""
    return _SPACES.sub(" ", text).strip()


class TemplateRenderer:
    """Renders touches; compiled templates are cached and shared by threads."""

    def __init__(self, templates_dir: Path, *, auto_reload: bool = False) -> None:
        self.templates_dir = templates_dir
        self.env = make_environment(templates_dir, auto_reload=auto_reload)
        self._subjects: dict[str, Template] = {}
        self._has_html: dict[str, bool] = {}  # like compiled templates, read once
        self._lock = threading.Lock()

    def exists(self, template: str) -> bool:
        """True when ``template`` has its required text file."""
        return (self.templates_dir / f"{template}{TEXT_SUFFIX}").is_file()

    def render(
        self, template: str, context: dict[str, Any], subject_override: str | None = None
    ) -> RenderedEmail:
        """Render one touch; raise TemplateRenderError naming file and line on any problem."""
        text_name = f"{template}{TEXT_SUFFIX}"
        with render_budget():
            return self._render(template, text_name, context, subject_override)

    def _render(
        self,
        template: str,
        text_name: str,
        context: dict[str, Any],
        subject_override: str | None,
    ) -> RenderedEmail:
        try:
            text_template = self.env.get_template(text_name)
            text = render_bounded(text_template, context).strip() + "\n"
            if subject_override is not None:
                subject = self._render_subject_override(subject_override, context)
            elif "subject" in text_template.blocks:
                subject = self._render_subject_block(text_template, context)
            else:
                raise TemplateRenderError(
                    f"templates/{text_name}: no {{% block subject %}} — add one or set "
                    "'subject:' on the step."
                )
            html = None
            has_html = self._has_html.get(template)
            if has_html is None:
                has_html = (self.templates_dir / f"{template}{HTML_SUFFIX}").is_file()
                self._has_html[template] = has_html
            if has_html:
                html_template = self.env.get_template(f"{template}{HTML_SUFFIX}")
                html = render_bounded(html_template, context).strip()
        except TemplateRenderError:
            raise
        except TemplateNotFound as exc:
            raise TemplateRenderError(
                f"templates/{exc.name}: template not found — create it or fix the step's "
                "'template:'."
            ) from None
        except TemplateSyntaxError as exc:
            raise TemplateRenderError(
                f"templates/{exc.name or text_name}:{exc.lineno}: syntax error: {exc.message}"
            ) from None
        except UndefinedError as exc:
            where = self._where(exc, text_name)
            raise TemplateRenderError(
                f"{where}: {exc.message} — add the field to the lead or a "
                "default: {{ lead.x | default('...') }}"
            ) from None
        except SecurityError as exc:
            where = self._where(exc, text_name)
            raise TemplateRenderError(f"{where}: not allowed in templates: {exc}") from None
        except Exception as exc:
            where = self._where(exc, text_name)
            raise TemplateRenderError(f"{where}: {type(exc).__name__}: {exc}") from None
        subject = one_line(subject)
        if not subject:
            where = (
                f"step subject {subject_override!r}"
                if subject_override is not None
                else f"templates/{text_name}"
            )
            raise TemplateRenderError(f"{where}: the subject rendered empty.")
        return RenderedEmail(subject=subject, text=text, html=html)

    def _where(self, exc: BaseException, text_name: str) -> str:
        """``templates/x.txt.j2:LINE`` of the failing template line, else the touch's file."""
        return _template_frame(exc.__traceback__, self.templates_dir) or f"templates/{text_name}"

    def _render_subject_block(self, template: Template, context: dict[str, Any]) -> str:
        """Render only ``{% block subject %}`` of ``template``.

        Calling a block function directly bypasses Jinja's traceback rewriting, so an error
        would carry the line of the compiled Python code; ``handle_exception`` re-raises it
        with the template's own file and line.
        """
        block = template.blocks["subject"]
        try:
            return "".join(block(template.new_context(context)))
        except Exception:
            self.env.handle_exception()
            raise  # not reached: handle_exception always raises

    def _render_subject_override(self, source: str, context: dict[str, Any]) -> str:
        """Render a step's ``subject:``; errors name that subject, not the template file."""
        try:
            return render_bounded(self._subject_template(source), context)
        except TemplateSyntaxError as exc:
            problem = f"syntax error: {exc.message}"
        except UndefinedError as exc:
            problem = (
                f"{exc.message} — add the field to the lead or a default: "
                "{{ lead.x | default('...') }}"
            )
        except SecurityError as exc:
            problem = f"not allowed in templates: {exc}"
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        raise TemplateRenderError(f"step subject {source!r}: {problem}")

    def _subject_template(self, source: str) -> Template:
        with self._lock:
            compiled = self._subjects.get(source)
            if compiled is None:
                compiled = self.env.from_string(source)
                self._subjects[source] = compiled
            return compiled


def _template_frame(tb: TracebackType | None, templates_dir: Path) -> str | None:
    """The last template file and line in a traceback, as ``templates/x.txt.j2:LINE``.

    The path is taken relative to ``templates_dir`` (whatever that folder is called), so
    ``prospecting/01_intro.txt.j2`` keeps its sub-folder in the message.
    """
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    path = Path(found[0])
    try:
        rel = path.resolve().relative_to(templates_dir.resolve()).as_posix()
    except ValueError:
        return f"{path.name}:{found[1]}"
    return f"templates/{rel}:{found[1]}"
