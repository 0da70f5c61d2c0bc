"""``outreach leads pause|resume|stop|enroll|set|note|call|stage|assign|export-csv``: one
lead worked from the command line, each change on its timeline with who did it, and user
errors as one line with exit status 1."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.cli_support import make_invoke, reset_cli_runtime

ADA = "ada@northwind.test"


def test_a_lead_is_worked_from_the_command_line(project: Path, sqlite_url: str) -> None:
    invoke = make_invoke(project, sqlite_url)
    try:
        assert invoke("leads", "import", str(project / "examples" / "leads.csv")).exit_code == 0
        paused = invoke("leads", "pause", ADA, "--until", "2027-02-01", "--as", "rita", "--json")
        assert paused.exit_code == 0, paused.output
        assert json.loads(paused.output)["changed"] is True
        assert "resumed" in invoke("leads", "resume", ADA, "--as", "rita").output
        noted = invoke("leads", "note", ADA, "Met at the fair", "--as", "rita")
        assert noted.output.strip() == f"Note added to {ADA}."
        called = invoke("leads", "call", ADA, "--outcome", "voicemail", "--as", "rita")
        assert called.exit_code == 0, called.output
        edited = invoke("leads", "set", ADA, "company=Northwind Ltd", "crm=", "--as", "rita")
        assert edited.output.strip() == f"{ADA}: company, crm changed."
        moved = invoke("leads", "enroll", ADA, "qualification", "--as", "rita")
        assert "enrolled in 'qualification' (stopped prospecting)" in moved.output
        lost = invoke("leads", "stage", ADA, "lost", "--reason", "chose a rival", "--as", "rita")
        assert lost.exit_code == 0, lost.output

        for args, said in (
            (("set", ADA, "timezone=Mars/Olympus"), "timezone 'Mars/Olympus' is unknown"),
            (("enroll", ADA, "decison"), "did you mean 'decision'?"),
            (("stage", ADA, "won"), "a reason is required"),
            (("pause", ADA, "--until", "someday"), "is not a date"),
            (("assign", ADA, "nobody-known"), "No rep 'nobody-known'"),
            (("note", "ghost@example.com", "hi"), "No lead with email"),
        ):
            refused = invoke("leads", *args)
            assert refused.exit_code == 1, (args, refused.output)
            assert said in refused.output, (args, refused.output)
            assert "Traceback" not in refused.output
            assert len(refused.output.strip().splitlines()) == 1, refused.output

        shown = json.loads(invoke("leads", "show", ADA, "--json").output)
        worked = [(e["kind"], e["cause"]) for e in shown["timeline"] if e["cause"] == "rep: rita"]
        kinds = {kind for kind, _ in worked}
        assert {"paused", "resumed", "note_added", "call_logged", "fields_changed"} <= kinds
        assert {"enrolled", "stage_changed", "sequence_stopped"} <= kinds
        assert (shown["stage"], shown["status"], shown["company"]) == (
            "lost",
            "stopped",
            "Northwind Ltd",
        )

        exported = invoke("leads", "export-csv", "--stage", "lost")
        rows = list(csv.DictReader(io.StringIO(exported.output)))
        assert [(row["email"], row["company"], row["stage"]) for row in rows] == [
            (ADA, "Northwind Ltd", "lost")
        ]
        assert "Examples:" in invoke("leads", "stage", "--help").output
    finally:
        reset_cli_runtime()
