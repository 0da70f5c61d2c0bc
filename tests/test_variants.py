"""A/B variants per step: a stable assignment, recorded on the touch and used to render it;
validated, previewed and counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.cli_support import Invoke, make_invoke, reset_cli_runtime
from tests.conftest import REPO, make_settings
from worker.analytics import build_report
from worker.analytics.variant_counts import variant_table as variant_counts
from worker.authoring.schema import StepSpec
from worker.delivery.sending import send_touches
from worker.delivery.tick import tick
from worker.delivery.variants import assign_variant, bucket
from worker.inbound.ingest import ingest
from worker.leads.importing import import_leads
from worker.processes.batch import run_batch
from worker.runtime import Runtime
from worker.store.models import Lead, Touch

ADA = "ada@northwind.test"
AB_SEQUENCE = """\
name: ab
stage: prospecting
mailbox: sales
steps:
  - template: prospecting/01_intro
    variants:
      - name: alpha
        subject: "Alpha for {{ lead.company | default('your team') }}"
      - name: bravo
        subject: "Bravo for {{ lead.company | default('your team') }}"
  - template: prospecting/02_bump
    wait: 3 business days
    same_thread: true
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def step_with(*variants: dict[str, object]) -> StepSpec:
    return StepSpec.model_validate({"template": "a/b", "variants": list(variants)})


def sample_emails() -> list[str]:
    lines = (REPO / "examples" / "leads.csv").read_text("utf-8").splitlines()[1:]
    return [line.split(",", 1)[0] for line in lines if line]


def recorded_variants(runtime: Runtime) -> dict[str, str | None]:
    with runtime.sessions() as session:
        query = select(Lead.email, Touch.variant).join(Touch, Touch.lead_id == Lead.id)
        return {row[0]: row[1] for row in session.execute(query)}


# ---- assignment --------------------------------------------------------------------------------


def test_the_assignment_is_a_pure_function_of_lead_sequence_and_step() -> None:
    step = step_with({"name": "a"}, {"name": "b"})
    first = [assign_variant(step, f"lead{i}@example.test", "ab", 0) for i in range(50)]
    again = [assign_variant(step, f"lead{i}@example.test", "ab", 0) for i in range(50)]
    assert first == again
    assert bucket("Ada@Northwind.test ", "ab", 0) == bucket(ADA, "ab", 0)  # normalised address
    # another step or sequence deals again, independently
    other_step = [assign_variant(step, f"lead{i}@example.test", "ab", 1) for i in range(50)]
    other_sequence = [assign_variant(step, f"lead{i}@example.test", "xy", 0) for i in range(50)]
    assert other_step != first
    assert other_sequence != first


def test_the_assignment_is_the_same_in_another_process_with_another_hash_seed() -> None:
    emails = sample_emails()
    spec = {
        "template": "a/b",
        "variants": [{"name": "a", "weight": 2}, {"name": "b"}, {"name": "c", "weight": 0.5}],
    }
    step = StepSpec.model_validate(spec)
    here = [assign_variant(step, email, "prospecting", 3).name for email in emails]  # type: ignore[union-attr]
    program = textwrap.dedent(
        f"""
        import json
        from worker.authoring.schema import StepSpec
        from worker.delivery.variants import assign_variant
        step = StepSpec.model_validate({spec!r})
        emails = {emails!r}
        print(json.dumps([assign_variant(step, e, "prospecting", 3).name for e in emails]))
        """
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=REPO,
    )
    assert json.loads(done.stdout) == here
    assert len(set(here)) == 3


def test_the_same_leads_get_the_same_variants_in_two_fresh_runtimes_and_databases(
    project: Path, clock, stub_broker, tmp_path: Path, postgres_url: str
) -> None:
    write(project / "sequences" / "ab.yaml", AB_SEQUENCE)
    found = []
    for url in (f"sqlite:///{tmp_path / 'first.db'}", postgres_url):
        runtime = Runtime.from_settings(make_settings(project, url), clock)
        try:
            import_leads(
                runtime.sessions,
                project / "examples" / "leads.csv",
                runtime.clock,
                runtime.catalog,
                sequence="ab",
            )
            tick(runtime)
            found.append(recorded_variants(runtime))
        finally:
            runtime.close()
    assert found[0] == found[1]
    assert len(found[0]) == 25
    expected = {
        email: assign_variant(runtime.catalog.get("ab").steps[0], email, "ab", 0).name  # type: ignore[union-attr]
        for email in sample_emails()
    }
    assert found[0] == expected


@pytest.mark.parametrize(
    ("weights", "tolerance"),
    [((1, 1), 60), ((3, 1), 60), ((1, 2, 1), 60), ((0.25, 0.75), 60)],
)
def test_the_split_over_a_thousand_leads_follows_the_weights(
    weights: tuple[float, ...], tolerance: int
) -> None:
    step = step_with(*({"name": f"v{i}", "weight": w} for i, w in enumerate(weights)))
    counts = Counter(
        assign_variant(step, f"synthetic-{i}@leads.example.test", "prospecting", 3).name  # type: ignore[union-attr]
        for i in range(1000)
    )
    total = sum(weights)
    for i, weight in enumerate(weights):
        expected = 1000 * weight / total
        assert abs(counts[f"v{i}"] - expected) <= tolerance, (counts, weights)


def test_a_step_without_variants_gets_none() -> None:
    assert assign_variant(StepSpec(template="a/b"), ADA, "ab", 0) is None


# ---- recorded and rendered -----------------------------------------------------------------


def test_the_recorded_variant_is_the_one_whose_subject_went_out(
    runtime: Runtime, project: Path
) -> None:
    write(project / "sequences" / "ab.yaml", AB_SEQUENCE)
    # (the catalog is read on first use: the runtime sees ab.yaml)
    import_leads(
        runtime.sessions,
        project / "examples" / "leads.csv",
        runtime.clock,
        runtime.catalog,
        sequence="ab",
    )
    summary = run_batch(runtime)
    assert summary.totals() == {"sent": 25}
    variants = recorded_variants(runtime)
    with runtime.sessions() as session:
        query = select(Lead.email, Touch.subject).join(Touch, Touch.lead_id == Lead.id)
        stored = {row[0]: row[1] for row in session.execute(query)}
    sent = {}
    for path in (project / "outbox").glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        sent[message["To"].addresses[0].addr_spec] = str(message["Subject"])
    assert set(sent) == set(variants)
    for email, subject in sent.items():
        assert subject.startswith({"alpha": "Alpha for ", "bravo": "Bravo for "}[variants[email]])
        assert stored[email] == subject
    assert set(variants.values()) == {"alpha", "bravo"}


def test_a_touch_created_before_the_step_had_variants_is_assigned_at_render_time(
    runtime: Runtime, project: Path
) -> None:
    plain = AB_SEQUENCE.replace(
        AB_SEQUENCE[
            AB_SEQUENCE.index("    variants:") : AB_SEQUENCE.index("  - template: prospecting/02")
        ],
        "",
    )
    write(project / "sequences" / "ab.yaml", plain)
    before = Runtime.from_settings(runtime.settings, runtime.clock)
    import_leads(
        before.sessions,
        project / "examples" / "leads.csv",
        before.clock,
        before.catalog,
        sequence="ab",
    )
    ids = tick(before).to_enqueue  # created, not sent yet
    assert len(ids) == 25
    assert set(recorded_variants(before).values()) == {None}
    before.close()
    write(project / "sequences" / "ab.yaml", AB_SEQUENCE)  # the A/B test added meanwhile
    after = Runtime.from_settings(runtime.settings, runtime.clock)
    try:
        # The next tick applies the change (``on_change: migrate``): the queued touches stay
        # queued, now of the new version, whose step has the variants.
        assert tick(after).to_enqueue == []
        outcomes = send_touches(after, ids)
        assert {o.result for o in outcomes} == {"sent"}
        variants = recorded_variants(after)
        expected = {
            email: assign_variant(after.catalog.get("ab").steps[0], email, "ab", 0).name  # type: ignore[union-attr]
            for email in sample_emails()
        }
        assert variants == expected
        with after.sessions() as session:
            for email, subject in session.execute(
                select(Lead.email, Touch.subject).join(Touch, Touch.lead_id == Lead.id)
            ):
                assert subject.startswith(variants[email].capitalize() + " for ")
    finally:
        after.close()


# ---- validate ----------------------------------------------------------------------------------


@pytest.fixture
def invoke(project: Path, sqlite_url: str) -> Iterator[Invoke]:
    yield make_invoke(project, sqlite_url)
    reset_cli_runtime()


def line_of(path: Path, text: str, start: int = 0) -> int:
    lines = path.read_text("utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if n > start and text in line)


def test_validate_reports_duplicate_names_zero_weights_and_missing_templates_with_file_line(
    invoke: Invoke, project: Path
) -> None:
    dup = write(
        project / "sequences" / "dup.yaml",
        """\
        name: dup
        stage: prospecting
        mailbox: sales
        steps:
          - template: prospecting/01_intro
            variants:
              - name: short
                subject: "One"
              - name: short
                subject: "Two"
        """,
    )
    zero = write(
        project / "sequences" / "zero.yaml",
        """\
        name: zero
        stage: prospecting
        mailbox: sales
        steps:
          - template: prospecting/01_intro
            variants:
              - name: one
              - name: two
                weight: 0
        """,
    )
    missing = write(
        project / "sequences" / "missing.yaml",
        """\
        name: missing
        stage: prospecting
        mailbox: sales
        steps:
          - template: prospecting/01_intro
          - template: prospecting/02_bump
            variants:
              - name: one
              - name: two
                template: prospecting/02_bump_shorter
                subject: "Still {{ lead.nickname }}"
              - name: three
                subject: "Hi {{ lead.nickname }}"
        """,
    )
    result = invoke("validate")
    assert result.exit_code == 1
    output = result.output
    assert (
        f"sequences/dup.yaml:{line_of(dup, 'variants:')}: step 1 variants: variant name "
        "'short' is used twice (variants 1 and 2)"
    ) in output
    assert (
        f"sequences/zero.yaml:{line_of(zero, 'weight: 0')}: step 1 variant 2 weight: "
        "weight must be a number greater than 0 (got 0)"
    ) in output
    assert (
        f"sequences/missing.yaml:{line_of(missing, 'template: prospecting/02_bump_shorter')}: "
        "step 2 variant 'two': template templates/prospecting/02_bump_shorter.txt.j2 not found"
    ) in output
    three = line_of(missing, "- name: three")
    rendered = [
        line for line in output.splitlines() if line.startswith(f"sequences/missing.yaml:{three}: ")
    ]
    assert rendered, output
    assert "nickname" in rendered[0]
    assert "(sample lead examples/leads.csv:2 (ada@northwind.test))" in rendered[0]


def test_validate_accepts_the_shipped_variant_step(invoke: Invoke, project: Path) -> None:
    result = invoke("validate", str(project / "sequences" / "prospecting.yaml"))
    assert result.exit_code == 0, result.output


def test_bad_variant_names_unknown_keys_and_a_lone_variant_are_errors(
    invoke: Invoke, project: Path
) -> None:
    lone = write(
        project / "sequences" / "lone.yaml",
        """\
        name: lone
        stage: prospecting
        mailbox: sales
        steps:
          - template: prospecting/01_intro
            variants:
              - name: only
        """,
    )
    path = write(
        project / "sequences" / "one.yaml",
        """\
        name: one
        stage: prospecting
        mailbox: sales
        steps:
          - template: prospecting/01_intro
            variants:
              - name: Only One
                wieght: 2
        """,
    )
    result = invoke("validate", str(path), str(lone))
    assert result.exit_code == 1
    assert "sequences/lone.yaml:6: step 1 variants: an A/B test needs at least two" in (
        result.output
    )
    assert "sequences/one.yaml:7: step 1 variant 1 name: name must be lowercase" in result.output
    assert (
        "sequences/one.yaml:8: unknown key 'wieght' in step 1 variant 1 — did you mean 'weight'"
        in result.output
    )


# ---- preview -----------------------------------------------------------------------------------


def headers_of(output: str) -> dict[str, str]:
    head = output.partition("\n\n")[0]
    return dict(line.split(": ", 1) for line in head.splitlines())


def test_preview_shows_the_leads_own_variant_or_the_one_asked_for(invoke: Invoke) -> None:
    own = invoke("preview", "prospecting", "--lead", ADA, "--step", "4")
    assert own.exit_code == 0, own.output
    question = invoke(
        "preview", "prospecting", "--lead", ADA, "--step", "4", "--variant", "question"
    )
    statement = invoke(
        "preview", "prospecting", "--lead", ADA, "--step", "4", "--variant", "statement"
    )
    assert question.exit_code == 0, question.output
    assert statement.exit_code == 0, statement.output
    assert headers_of(question.stdout)["Subject"] == "Is one in five of your open deals stale?"
    assert headers_of(statement.stdout)["Subject"] == "The deals nobody has touched in 60 days"
    body = question.stdout.partition("\n\n")[2]
    assert body == statement.stdout.partition("\n\n")[2]  # one template, two subjects
    from worker.authoring.sequences import load_catalog

    catalog, _ = load_catalog(REPO / "sequences", REPO)
    mine = assign_variant(catalog.get("prospecting").steps[3], ADA, "prospecting", 3)
    assert mine is not None
    expected = question if mine.name == "question" else statement
    assert headers_of(own.stdout)["Subject"] == headers_of(expected.stdout)["Subject"]
    assert f"Variant: {mine.name} (this lead's own)" in own.stderr


def test_preview_of_an_unknown_variant_is_one_line_with_a_suggestion(invoke: Invoke) -> None:
    result = invoke("preview", "prospecting", "--lead", ADA, "--step", "4", "--variant", "questoin")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "did you mean 'question'" in result.stderr
    plain = invoke("preview", "prospecting", "--lead", ADA, "--step", "1", "--variant", "question")
    assert plain.exit_code == 1
    assert "has no A/B variants" in plain.stderr


# ---- counted -----------------------------------------------------------------------------------


def reply_to(path: Path, touch: Touch, sender: str, text: str) -> Path:
    path.write_bytes(
        (
            f"From: {sender}\r\nTo: ada.fischer@northwind-analytics.example\r\n"
            f"Subject: Re: {touch.subject}\r\nMessage-ID: <reply-{touch.id}@lead.example.test>\r\n"
            f"In-Reply-To: {touch.message_id}\r\nReferences: {touch.message_id}\r\n"
            "Date: Mon, 04 Jan 2027 12:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"\r\n{text}\r\n"
        ).encode()
    )
    return path


def sent_ab_sequence(runtime: Runtime, project: Path) -> dict[str, str | None]:
    """The sample leads enrolled in the A/B sequence, its first step sent; their variants."""
    write(project / "sequences" / "ab.yaml", AB_SEQUENCE)
    import_leads(
        runtime.sessions,
        project / "examples" / "leads.csv",
        runtime.clock,
        runtime.catalog,
        sequence="ab",
    )
    run_batch(runtime)
    return recorded_variants(runtime)


def test_variants_counts_sends_and_replies_per_variant(
    runtime: Runtime, project: Path, tmp_path: Path
) -> None:
    variants = sent_ab_sequence(runtime, project)
    with runtime.sessions() as session:
        ada = session.scalar(
            select(Touch).join(Lead, Lead.id == Touch.lead_id).where(Lead.email == ADA)
        )
    folder = tmp_path / "replies"
    folder.mkdir()
    reply_to(
        folder / "ada.eml",
        ada,
        ADA,
        "Hi Ada,\n\nthis sounds interesting. Could you send me a calendar invite for a "
        "30-minute call next Tuesday?\n\nBest regards,\nAda",
    )
    ingest(runtime, str(folder))
    with runtime.sessions() as session:
        rows = variant_counts(session, runtime.catalog, "ab")
    sent = Counter(variants.values())
    by_name = {row["variant"]: row for row in rows}
    assert [(r["sequence"], r["step"]) for r in rows] == [("ab", 1), ("ab", 1)]
    assert {name: row["sent"] for name, row in by_name.items()} == dict(sent)
    theirs = by_name[variants[ADA]]
    other = by_name[({"alpha", "bravo"} - {variants[ADA]}).pop()]
    assert theirs["replied"] == 1
    assert sum(theirs["replies"].values()) == 1
    assert other["replied"] == 0
    assert other["replies"] == {}

    invoke = make_invoke(project, runtime.settings.database_url)
    try:
        shown = invoke("variants", "ab", "--json")
        text = invoke("variants")
        lead = invoke("leads", "show", ADA, "--json")
        unknown = invoke("variants", "abb")
    finally:
        reset_cli_runtime()
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == rows
    assert text.exit_code == 0, text.output
    assert "prospecting" in text.stdout  # the shipped A/B test, nothing sent yet
    assert "alpha" in text.stdout
    touches = json.loads(lead.stdout)["touches"]
    assert [(t["kind"], t["variant"]) for t in touches] == [("email", variants[ADA])]
    assert unknown.exit_code == 1
    assert "did you mean 'ab'" in unknown.stderr


def test_variants_and_the_report_count_a_variants_replies_by_one_definition(
    runtime: Runtime, project: Path, tmp_path: Path
) -> None:
    """Two messages from one prospect are one replied touch; an out-of-office is no reply."""
    variants = sent_ab_sequence(runtime, project)
    with runtime.sessions() as session:
        rows = session.execute(select(Lead.email, Touch).join(Lead, Lead.id == Touch.lead_id))
        touches: dict[str, Touch] = {row[0]: row[1] for row in rows}
    away = next(email for email, name in variants.items() if name != variants[ADA])
    folder = tmp_path / "replies"
    folder.mkdir()
    first = reply_to(folder / "1.eml", touches[ADA], ADA, "Yes, let's talk on Tuesday.")
    second = folder / "2.eml"
    second.write_bytes(
        first.read_bytes().replace(b"<reply-", b"<again-").replace(b"Tuesday", b"Wednesday")
    )
    reply_to(
        folder / "3.eml",
        touches[away],
        away,
        "I am out of the office until 11 January 2027 with no access to email.",
    )
    ingest(runtime, str(folder))

    with runtime.sessions() as session:
        table = {row["variant"]: row for row in variant_counts(session, runtime.catalog, "ab")}
        report = {row["variant"]: row for row in build_report(session)["variants"]}
    assert table[variants[ADA]]["replied"] == 1
    assert table[variants[away]]["replied"] == 0
    assert table[variants[away]]["replies"] == {"ooo": 1}
    for name, row in table.items():
        assert (row["sent"], row["replied"]) == (report[name]["sent"], report[name]["replied"])
