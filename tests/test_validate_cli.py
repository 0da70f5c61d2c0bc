"""`outreach validate`: exit 0 on good content, else every problem as `path:line: message`."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from worker.authoring import load_catalog
from worker.authoring.mailboxes import load_mailboxes
from worker.authoring.templates import HTML_SUFFIX, TEXT_SUFFIX, TemplateRenderer
from worker.cli import main
from worker.delivery.rendering import render_touch
from worker.leads.importing import read_rows
from worker.processes.batch import stop_embedded_workers
from worker.rehearsal.validation import validate
from worker.runtime import set_runtime
from worker.settings import Settings
from worker.store.models import Lead

REPO = Path(__file__).resolve().parent.parent
LOCATED = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+): (?P<message>.+)$")
SHIPPED_SEQUENCES = sorted((REPO / "sequences").glob("*.yaml"))
SHIPPED_TEMPLATES = sorted(
    path.relative_to(REPO / "templates").as_posix().removesuffix(TEXT_SUFFIX)
    for path in (REPO / "templates").rglob(f"*{TEXT_SUFFIX}")
    if "layouts" not in path.parts
    and "partials" not in path.parts
    and not path.name.endswith(f".de{TEXT_SUFFIX}")  # a step's German version, not a step
)
GERMAN_TEMPLATES = [
    name for name in SHIPPED_TEMPLATES if (REPO / "templates" / f"{name}.de{TEXT_SUFFIX}").is_file()
]

Invoke = Callable[..., Result]
SAMPLE_ROWS_KEPT = 5


def make_invoke(project: Path, tmp_path: Path) -> Invoke:
    """Run ``outreach --home PROJECT ARGS...`` in-process."""
    runner = CliRunner()
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "OUTREACH_SECRET_KEY": "test-secret",
        "OUTREACH_HOME": None,
        "REDIS_URL": None,
    }

    def run(*args: str) -> Result:
        return runner.invoke(main, ["--home", str(project), *args], env=env)

    return run


@pytest.fixture
def invoke_full(project: Path, tmp_path: Path) -> Iterator[Invoke]:
    """The CLI on an untouched copy of the project; the runtime is reset afterwards."""
    yield make_invoke(project, tmp_path)
    set_runtime(None)
    stop_embedded_workers()


@pytest.fixture
def invoke(project: Path, tmp_path: Path) -> Iterator[Invoke]:
    """The CLI on a copy whose sample leads file keeps its first five leads (faster)."""
    samples = project / "examples" / "leads.csv"
    lines = samples.read_text("utf-8").splitlines(keepends=True)
    samples.write_text("".join(lines[: SAMPLE_ROWS_KEPT + 1]), "utf-8")
    yield make_invoke(project, tmp_path)
    set_runtime(None)
    stop_embedded_workers()


def located_lines(result: Result) -> list[tuple[str, int, str]]:
    """Every ``path:line: message`` the command printed."""
    found = []
    for line in result.output.splitlines():
        match = LOCATED.match(line)
        if match:
            found.append((match["path"], int(match["line"]), match["message"]))
    return found


def problem_lines(result: Result) -> list[str]:
    """Printed lines except the closing summary."""
    return [
        line
        for line in result.output.splitlines()
        if line and "error(s) — nothing is sent" not in line and not line.startswith("ok:")
    ]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


# --- the command ------------------------------------------------------------------------


def test_shipped_content_is_valid_and_exits_zero(invoke_full: Invoke) -> None:
    result = invoke_full("validate")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: sequences and templates are valid (0 warning(s))"
    assert result.stderr == ""


def test_every_problem_in_several_broken_files_is_printed(invoke: Invoke, project: Path) -> None:
    seqs, tpls = project / "sequences", project / "templates"
    # 1. a schema error (typo'd key) in prospecting
    edit(seqs / "prospecting.yaml", "    wait: 3 business days\n", "    wiat: 3 business days\n")
    # 2. a missing template in qualification
    edit(seqs / "qualification.yaml", "qualification/02_bump", "qualification/02_bumpp")
    # 3. a template syntax error in a consideration touch
    with (tpls / "consideration" / "03_security_faq.txt.j2").open("a", encoding="utf-8") as fh:
        fh.write("{% if %}\n")
    # 4. a field the sample leads lack, with no default, in a delivery touch
    write(
        tpls / "delivery" / "02_kickoff.txt.j2",
        """\
        {% extends "layouts/base.txt.j2" %}
        {% block subject %}Kick-off{% endblock %}
        {% block body %}
        Hello {{ lead.nickname }},
        {% endblock %}
        """,
    )
    # 5. an unknown mailbox in decision
    edit(seqs / "decision.yaml", "mailbox: sales", "mailbox: salez")

    result = invoke("validate")

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = problem_lines(result)
    assert lines, result.output
    for line in lines:
        assert LOCATED.match(line), f"not path:line: message: {line!r}"
    found = located_lines(result)
    by_path = {path: (line, message) for path, line, message in found}

    line, message = by_path["sequences/prospecting.yaml"]
    assert line == 13
    assert "wiat" in message
    assert "did you mean 'wait'" in message

    line, message = by_path["sequences/qualification.yaml"]
    assert line == 12
    assert "templates/qualification/02_bumpp.txt.j2 not found" in message

    line, message = by_path["templates/consideration/03_security_faq.txt.j2"]
    assert line == 17
    assert "syntax error" in message

    line, message = by_path["templates/delivery/02_kickoff.txt.j2"]
    assert [p for p, _, _ in found].count("templates/delivery/02_kickoff.txt.j2") == 1
    assert line == 4
    assert "nickname" in message
    assert "default" in message

    line, message = by_path["sequences/decision.yaml"]
    assert line == 3
    assert "salez" in message
    assert "did you mean 'sales'" in message

    assert set(by_path) == {  # nothing else: the other files are fine
        "sequences/prospecting.yaml",
        "sequences/qualification.yaml",
        "sequences/decision.yaml",
        "templates/consideration/03_security_faq.txt.j2",
        "templates/delivery/02_kickoff.txt.j2",
    }
    errors = len({(p, n, m) for p, n, m in found})
    assert f"{errors} error(s)" in result.output


def test_a_broken_yaml_file_does_not_hide_problems_elsewhere(invoke: Invoke, project: Path) -> None:
    (project / "sequences" / "prospecting.yaml").write_text("name: [prospecting\n", "utf-8")
    edit(project / "sequences" / "decision.yaml", "mailbox: sales", "mailbox: nobody")
    with (project / "templates" / "delivery" / "03_import_running.txt.j2").open("a") as fh:
        fh.write("{{ lead. }}\n")

    result = invoke("validate")

    assert result.exit_code == 1
    paths = {path for path, _, _ in located_lines(result)}
    assert paths == {
        "sequences/prospecting.yaml",
        "sequences/decision.yaml",
        "templates/delivery/03_import_running.txt.j2",
    }


def test_templates_of_a_broken_sequence_are_still_checked(invoke: Invoke, project: Path) -> None:
    edit(project / "sequences" / "prospecting.yaml", "stage: prospecting", "stage: cold")
    edit(
        project / "templates" / "prospecting" / "01_intro.txt.j2",
        '{{ lead.first_name | default("there") }}',
        "{{ lead.nickname }}",
    )
    result = invoke("validate")
    assert result.exit_code == 1
    found = located_lines(result)
    assert any(p == "sequences/prospecting.yaml" and "cold" in m for p, _, m in found)
    assert any(
        p == "templates/prospecting/01_intro.txt.j2" and n == 4 and "nickname" in m
        for p, n, m in found
    ), result.output


def test_a_broken_mailbox_file_does_not_hide_other_problems(invoke: Invoke, project: Path) -> None:
    (project / "mailboxes.yaml").write_text("mailboxes:\n  - name: sales\n    adress: x\n", "utf-8")
    edit(project / "sequences" / "delivery.yaml", "stage: delivery", "stage: deliver")
    edit(  # fails only when rendered
        project / "templates" / "decision" / "04_stakeholders.txt.j2",
        "Who else needs",
        "{{ 1 / 0 }}Who else needs",
    )
    result = invoke("validate")
    assert result.exit_code == 1
    found = located_lines(result)
    paths = {path for path, _, _ in found}
    assert paths == {
        "mailboxes.yaml",
        "sequences/delivery.yaml",
        "templates/decision/04_stakeholders.txt.j2",
    }
    assert any(p == "mailboxes.yaml" and n == 2 for p, n, _ in found)
    assert any("ZeroDivisionError" in m for _, _, m in found)


def test_a_missing_mailbox_file_is_one_clear_problem(invoke: Invoke, project: Path) -> None:
    (project / "mailboxes.yaml").unlink()
    result = invoke("validate")
    assert result.exit_code == 1
    assert located_lines(result) == [
        (
            "mailboxes.yaml",
            1,
            "mailbox file not found — create it with a 'mailboxes:' list "
            "(name, address, display_name).",
        )
    ]


def test_a_bad_sample_lead_row_is_reported_with_its_line(invoke: Invoke, project: Path) -> None:
    with (project / "examples" / "leads.csv").open("a", encoding="utf-8") as fh:
        fh.write("not-an-address,X,Y,Z,,prospecting,,,,,,,,,\n")
    result = invoke("validate")
    assert result.exit_code == 1
    assert ("examples/leads.csv", SAMPLE_ROWS_KEPT + 2) in {
        (p, n) for p, n, _ in located_lines(result)
    }


def test_a_missing_field_in_a_subject_override_points_at_the_step(
    invoke: Invoke, project: Path
) -> None:
    edit(
        project / "sequences" / "prospecting.yaml",
        "  - template: prospecting/03_case_study\n",
        '  - template: prospecting/03_case_study\n    subject: "For {{ lead.nickname }}"\n',
    )
    result = invoke("validate")
    assert result.exit_code == 1
    found = located_lines(result)
    assert any(
        p == "sequences/prospecting.yaml" and "nickname" in m and "step subject" in m
        for p, _, m in found
    ), result.output


def test_on_complete_into_an_unknown_sequence_is_an_error(invoke: Invoke, project: Path) -> None:
    edit(
        project / "sequences" / "prospecting.yaml",
        "  action: stop",
        "  action: enroll\n  sequence: qualifcation",
    )
    lines = (project / "sequences" / "prospecting.yaml").read_text("utf-8").splitlines()
    line = lines.index("  sequence: qualifcation") + 1
    result = invoke("validate")
    assert result.exit_code == 1
    found = located_lines(result)
    assert ("sequences/prospecting.yaml", line) in {(p, n) for p, n, _ in found}
    assert any(
        "unknown sequence 'qualifcation' — did you mean 'qualification'?" in m for _, _, m in found
    ), found


def test_too_few_touches_is_a_warning_and_still_exits_zero(invoke: Invoke, project: Path) -> None:
    text = (project / "sequences" / "prospecting.yaml").read_text("utf-8")
    head, _, _ = text.partition("  # Social proof")
    (project / "sequences" / "prospecting.yaml").write_text(
        head + "on_complete:\n  action: stop\n", "utf-8"
    )
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert "sequences/prospecting.yaml:7: warning: 4 touches" in result.output
    assert "(1 warning(s))" in result.output


def test_validate_one_path_checks_only_that_sequence(invoke: Invoke, project: Path) -> None:
    edit(project / "sequences" / "decision.yaml", "mailbox: sales", "mailbox: salez")
    good = invoke("validate", str(project / "sequences" / "prospecting.yaml"))
    assert good.exit_code == 0, good.output
    bad = invoke("validate", str(project / "sequences" / "decision.yaml"))
    assert bad.exit_code == 1
    assert "sequences/decision.yaml:3: mailbox 'salez'" in bad.output


def test_validate_a_path_can_enroll_into_a_sequence_in_another_file(
    invoke: Invoke, project: Path
) -> None:
    path = project / "sequences" / "prospecting.yaml"
    edit(path, "  action: stop", "  action: enroll\n  sequence: qualification")
    result = invoke("validate", str(path))
    assert result.exit_code == 0, result.output


def test_validate_a_template_path_checks_the_sequences_using_it(
    invoke: Invoke, project: Path
) -> None:
    template = project / "templates" / "prospecting" / "03_case_study.txt.j2"
    assert invoke("validate", str(template)).exit_code == 0
    edit(
        project / "sequences" / "prospecting.yaml",
        "  - template: prospecting/03_case_study\n",
        '  - template: prospecting/03_case_study\n    subject: "{{ lead.nickname }}"\n',
    )
    result = invoke("validate", str(template))
    assert result.exit_code == 1
    assert any(
        p == "sequences/prospecting.yaml" and "nickname" in m for p, _, m in located_lines(result)
    ), result.output


@pytest.mark.parametrize("where", [".", "templates", "templates/layouts/base.txt.j2"])
def test_validate_the_project_or_a_layout_checks_every_sequence(
    invoke: Invoke, project: Path, where: str
) -> None:
    edit(project / "sequences" / "decision.yaml", "mailbox: sales", "mailbox: salez")
    result = invoke("validate", str(project / where))
    assert result.exit_code == 1
    assert "sequences/decision.yaml:3: mailbox 'salez'" in result.output


def test_validate_a_folder_without_sequences_or_templates_is_an_error(
    invoke: Invoke, project: Path
) -> None:
    result = invoke("validate", str(project / "examples"))
    assert result.exit_code == 1
    assert "no sequences or templates found here" in result.output


def test_help_has_examples(invoke: Invoke) -> None:
    result = invoke("validate", "--help")
    assert result.exit_code == 0
    assert "outreach validate" in result.output


def test_sequences_list_json_follows_the_contract(invoke: Invoke) -> None:
    result = invoke("sequences", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == [
        "consideration",
        "decision",
        "delivery",
        "prospecting",
        "qualification",
    ]
    for row in rows:
        assert {"name", "stage", "steps"} <= set(row)
        assert isinstance(row["steps"], int)
        assert 6 <= row["steps"] <= 8
    assert {row["name"]: row["stage"] for row in rows}["delivery"] == "delivery"


def test_sequences_list_leaves_out_invalid_files_and_says_so(invoke: Invoke, project: Path) -> None:
    edit(project / "sequences" / "decision.yaml", "stage: decision", "stage: decide")
    result = invoke("sequences", "list")
    assert result.exit_code == 0, result.output
    assert "prospecting" in result.stdout
    assert "decision" not in result.stdout
    assert "outreach validate" in result.stderr
    rows = json.loads(invoke("sequences", "list", "--json").stdout)
    assert "decision" not in {row["name"] for row in rows}


# --- data-driven: every shipped file ---------------------------------------------------


@pytest.fixture(scope="module")
def repo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    db = tmp_path_factory.mktemp("db") / "unused.db"
    return Settings.from_env({"DATABASE_URL": f"sqlite:///{db}"}, home=REPO)


@pytest.fixture(scope="module")
def shipped_problems(repo_settings: Settings) -> list[str]:
    """Validate the repository's own content once (every file checked)."""
    return [str(problem) for problem in validate(repo_settings)]


@pytest.mark.parametrize("path", SHIPPED_SEQUENCES, ids=lambda p: p.name)
def test_each_shipped_sequence_validates_cleanly(
    repo_settings: Settings, shipped_problems: list[str], path: Path
) -> None:
    catalog, _ = load_catalog(REPO / "sequences", REPO)
    spec = next(s.spec for s in catalog.sequences.values() if s.path == path)
    own_files = {f"sequences/{path.name}"} | {
        f"templates/{step.template}{suffix}"
        for step in spec.steps
        for suffix in (TEXT_SUFFIX, HTML_SUFFIX)
    }
    assert [p for p in shipped_problems if p.split(":", 1)[0] in own_files] == []


def test_the_whole_shipped_content_is_clean(shipped_problems: list[str]) -> None:
    assert shipped_problems == []


@pytest.fixture(scope="module")
def sample_leads() -> list[Lead]:
    leads = []
    for _line, row in read_rows(REPO / "examples" / "leads.csv"):
        assert isinstance(row, dict), str(row)
        leads.append(
            Lead(
                id=1,
                email=row["email"],
                stage=row.get("stage", "prospecting"),
                status="active",
                fields=row["fields"],
                **{
                    k: row.get(k)
                    for k in ("first_name", "last_name", "company", "timezone", "deal_value")
                },
            )
        )
    assert len(leads) >= 20
    return leads


@pytest.fixture(scope="module")
def shipped() -> tuple[TemplateRenderer, dict[str, tuple[object, int, str | None]], object]:
    """Each template used by an email step (or one of its A/B variants), with where."""
    catalog, problems = load_catalog(REPO / "sequences", REPO)
    assert [p for p in problems if p.severity == "error"] == []
    steps: dict[str, tuple[object, int, str | None]] = {}
    for name in catalog.names():
        spec = catalog.get(name)
        for index, step in enumerate(spec.steps):
            if step.template is not None:  # manual steps (call, LinkedIn) have none
                steps.setdefault(step.template, (spec, index, None))
            for variant in step.variants or ():
                if variant.template is not None:
                    steps.setdefault(variant.template, (spec, index, variant.name))
    return TemplateRenderer(REPO / "templates"), steps, load_mailboxes(REPO / "mailboxes.yaml")


def test_every_shipped_template_is_used_by_a_sequence(shipped: tuple) -> None:
    _, steps, _ = shipped
    assert sorted(steps) == SHIPPED_TEMPLATES


@pytest.mark.parametrize("template", SHIPPED_TEMPLATES)
def test_each_shipped_template_renders_for_every_sample_lead(
    shipped: tuple, sample_leads: list[Lead], template: str
) -> None:
    renderer, steps, mailboxes = shipped
    spec, index, variant = steps[template]
    has_html = (REPO / "templates" / f"{template}{HTML_SUFFIX}").is_file()
    url = "https://outreach.example.test/u/1.sig"
    for lead in sample_leads:
        rendered = render_touch(
            renderer, lead, mailboxes.get(spec.mailbox), spec, index, url, variant
        )
        assert rendered.subject.strip(), lead.email
        assert "\n" not in rendered.subject
        assert url in rendered.text, f"{template}: no unsubscribe link for {lead.email}"
        assert "None" not in rendered.text, f"{template}: 'None' in the text for {lead.email}"
        assert "None" not in rendered.subject
        if has_html:
            assert rendered.html is not None
            assert url in rendered.html
            assert "None" not in rendered.html
        else:
            assert rendered.html is None


def test_every_shipped_step_has_its_german_text_and_html() -> None:
    assert GERMAN_TEMPLATES == SHIPPED_TEMPLATES
    for name in SHIPPED_TEMPLATES:
        if (REPO / "templates" / f"{name}{HTML_SUFFIX}").is_file():
            assert (REPO / "templates" / f"{name}.de{HTML_SUFFIX}").is_file(), name


@pytest.mark.parametrize("template", GERMAN_TEMPLATES)
def test_each_shipped_template_renders_in_german_for_every_sample_lead(
    shipped: tuple, sample_leads: list[Lead], template: str
) -> None:
    renderer, steps, mailboxes = shipped
    spec, index, variant = steps[template]
    url = "https://outreach.example.test/u/1.sig"
    for lead in sample_leads:
        german = {**lead.fields, "email": lead.email, "company": lead.company or "Firma"}
        german["language"] = "de"
        mailbox = mailboxes.get(spec.mailbox)
        rendered = render_touch(renderer, german, mailbox, spec, index, url, variant)
        assert rendered.text.startswith("Guten Tag"), f"{template}: {lead.email}"
        assert f"Abmelden: {url}" in rendered.text
        assert "Viele Grüße" in rendered.text
        assert "Best," not in rendered.text
        assert "None" not in rendered.text
        assert rendered.html is None or ('lang="de"' in rendered.html and url in rendered.html)


def test_a_missing_path_or_a_folder_for_a_file_is_one_line_and_exit_1(
    invoke: Invoke, tmp_path: Path
) -> None:
    folder = tmp_path / "some-folder.csv"
    folder.mkdir()
    cases = [
        (("validate", str(tmp_path / "no-such-file.yaml")), "no such file or folder"),
        (("leads", "import", str(folder)), "is a folder — give the CSV file itself"),
        (("leads", "import", str(tmp_path / "nope.csv")), "no such CSV file"),
    ]
    for args, says in cases:
        result = invoke(*args)
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1, result.output
        assert says in lines[0]
        assert "Usage:" not in result.output


# --- a broken file still has its other mistakes found -----------------------------------


def test_one_schema_error_does_not_hide_the_other_problems_of_the_file(
    invoke: Invoke, project: Path
) -> None:
    path = project / "sequences" / "delivery.yaml"
    edit(
        path,
        "  - template: delivery/02_kickoff\n",
        "  - type: emial\n    template: delivery/02_kickoff\n",
    )
    edit(path, "    wait: 5 business days\n", "    wait: 5\n")  # step 3
    edit(path, "delivery/05_validation", "delivery/05_validaton")  # a valid step, bad template
    edit(path, "mailbox: success", "mailbox: sucess")
    lines = path.read_text("utf-8").splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if text in line)

    result = invoke("validate")

    assert result.exit_code == 1
    found = [(n, m) for p, n, m in located_lines(result) if p == "sequences/delivery.yaml"]
    assert [n for n, _ in found] == sorted(n for n, _ in found)  # top to bottom
    messages = dict(found)
    assert "did you mean 'success'?" in messages[line_of("mailbox: sucess")]
    assert "step 2: type 'emial'" in messages[line_of("type: emial")]
    assert "did you mean 'email'?" in messages[line_of("type: emial")]
    assert "step 3 wait: 5 has no unit" in messages[line_of("    wait: 5")]
    assert messages[line_of("delivery/05_validaton")] == (
        "step 5: template templates/delivery/05_validaton.txt.j2 not found — "
        "did you mean 'delivery/05_validation'?"
    )
    assert len(found) == 4, found


def test_a_missing_wait_and_a_name_mismatch_are_reported_with_the_fix(
    invoke: Invoke, project: Path
) -> None:
    path = project / "sequences" / "decision.yaml"
    edit(path, "name: decision", "name: decisions")
    text = path.read_text("utf-8")
    second_wait = [line for line in text.splitlines() if line.startswith("    wait:")][1]
    edit(path, second_wait + "\n", "")
    result = invoke("validate")
    assert result.exit_code == 1
    messages = [m for p, _, m in located_lines(result) if p == "sequences/decision.yaml"]
    assert any(m.startswith("name 'decisions' does not match the file name") for m in messages)
    assert any(m.startswith("step 2 has no 'wait:'") for m in messages), messages


# --- --leads: the templates against a real leads file -----------------------------------


def _custom_column_template(project: Path) -> None:
    """The intro uses a column the sample leads file does not have, without a default."""
    edit(
        project / "templates" / "prospecting" / "01_intro.txt.j2",
        "{% block body %}",
        "{% block body %}\nAs a {{ lead.segment }} team,",
    )


def test_a_custom_column_passes_with_leads_that_have_it(
    invoke: Invoke, project: Path, tmp_path: Path
) -> None:
    _custom_column_template(project)
    assert invoke("validate").exit_code == 1  # the sample leads have no 'segment'
    real = tmp_path / "real-leads.csv"
    real.write_text(
        "email,first_name,company,segment\n"
        "ana@one.test,Ana,One,retail\n"
        "bo@two.test,Bo,Two,logistics\n",
        "utf-8",
    )
    result = invoke("validate", "--leads", str(real))
    assert result.exit_code == 0, result.output
    assert f"valid for every lead in {real}" in result.output


def test_leads_reports_each_row_missing_a_field_with_its_row_number(
    invoke: Invoke, project: Path, tmp_path: Path
) -> None:
    _custom_column_template(project)
    real = tmp_path / "real-leads.csv"
    real.write_text(
        "email,first_name,company,segment\n"
        "ana@one.test,Ana,One,retail\n"
        "bo@two.test,Bo,Two,\n"
        "not-an-email,Cy,Three,retail\n"
        "di@four.test,Di,Four,\n",
        "utf-8",
    )
    result = invoke("validate", "--leads", str(real))
    assert result.exit_code == 1
    rows = [(n, m) for p, n, m in located_lines(result) if p == str(real)]
    assert [n for n, _ in rows] == [3, 4, 5], result.output
    assert rows[0][1].startswith("bo@two.test has no 'segment' (used at ")
    assert "templates/prospecting/01_intro.txt.j2:" in rows[0][1]
    assert "{{ lead.segment | default('…') }}" in rows[0][1]
    assert "not a valid address" in rows[1][1]
    assert rows[2][1].startswith("di@four.test has no 'segment'")
    # The template itself is not blamed: the rows are.
    assert not any(p.startswith("templates/") for p, _, _ in located_lines(result))


def test_leads_without_the_column_at_all_is_one_problem_not_one_per_row(
    invoke: Invoke, project: Path, tmp_path: Path
) -> None:
    _custom_column_template(project)
    real = tmp_path / "real-leads.csv"
    real.write_text(
        "email,first_name,company\n" + "".join(f"p{n}@x.test,P{n},Co{n}\n" for n in range(50)),
        "utf-8",
    )
    result = invoke("validate", "--leads", str(real))
    assert result.exit_code == 1
    rows = [(n, m) for p, n, m in located_lines(result) if p == str(real)]
    assert len(rows) == 1, rows
    assert rows[0][0] == 1
    assert "no lead in this file has 'segment'" in rows[0][1]
    assert "add the column 'segment'" in rows[0][1]


def test_leads_that_is_not_a_file_is_one_clear_error(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("validate", "--leads", str(tmp_path / "missing.csv"))
    assert result.exit_code == 1
    assert "no such leads file" in result.output
    assert "Traceback" not in result.output
