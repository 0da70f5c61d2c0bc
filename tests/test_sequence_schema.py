"""The sequence YAML schema: every mistake is an error naming file:line, never silently ignored."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from worker.authoring import load_catalog
from worker.authoring.problems import Problem
from worker.errors import NotFoundError

STEPS_7 = "".join(
    f"  - template: prospecting/0{n}\n    wait: {0 if n == 1 else 3} business days\n"
    for n in range(1, 8)
)
HEADER = "name: {name}\nstage: prospecting\nmailbox: sales\nsteps:\n"


def write(folder: Path, filename: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(folder: Path) -> tuple[list[str], list[Problem]]:
    catalog, problems = load_catalog(folder, folder.parent)
    return catalog.names(), problems


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def only_error(problems: list[Problem]) -> Problem:
    found = errors(problems)
    assert len(found) == 1, [str(p) for p in problems]
    return found[0]


@pytest.fixture
def seqs(tmp_path: Path) -> Path:
    return tmp_path / "sequences"


def test_a_valid_sequence_loads_without_problems(seqs: Path) -> None:
    write(seqs, "good.yaml", HEADER.format(name="good") + STEPS_7)
    names, problems = load(seqs)
    assert names == ["good"]
    assert problems == []


def test_unknown_key_names_file_line_and_suggests_wait(seqs: Path) -> None:
    write(
        seqs,
        "typo.yaml",
        """\
        name: typo
        stage: prospecting
        mailbox: sales
        steps:
          - template: prospecting/01
            wait: 0 days
          - template: prospecting/02
            wiat: 3 business days
        """,
    )
    names, problems = load(seqs)
    problem = only_error(problems)
    assert names == []
    assert (problem.path, problem.line) == ("sequences/typo.yaml", 8)
    assert "wiat" in problem.message
    assert "did you mean 'wait'" in problem.message
    assert str(problem).startswith("sequences/typo.yaml:8: ")


def test_unknown_top_level_key_is_an_error_with_a_suggestion(seqs: Path) -> None:
    write(seqs, "s.yaml", HEADER.format(name="s") + STEPS_7 + "on_compleet:\n  action: stop\n")
    problem = only_error(load(seqs)[1])
    assert problem.line == 19
    assert "on_compleet" in problem.message
    assert "on_complete" in problem.message


def test_unknown_key_without_close_match_lists_allowed_keys(seqs: Path) -> None:
    write(seqs, "s.yaml", HEADER.format(name="s") + STEPS_7 + "colour: blue\n")
    problem = only_error(load(seqs)[1])
    assert "colour" in problem.message
    assert "allowed:" in problem.message
    assert "steps" in problem.message


@pytest.mark.parametrize("wait", ["three days", "3 months", "-1 days", "soon", "true", "1.5"])
def test_bad_wait_text_is_an_error_on_its_line(seqs: Path, wait: str) -> None:
    write(
        seqs,
        "w.yaml",
        HEADER.format(name="w") + f"  - template: a/1\n    wait: 0 days\n  - template: a/2\n"
        f"    wait: {wait}\n",
    )
    names, problems = load(seqs)
    problem = only_error(problems)
    assert names == []
    assert problem.line == 8
    assert "wait" in problem.message
    assert "2 business days" in problem.message  # says how to write it


@pytest.mark.parametrize(
    ("missing", "line", "hint"),
    [("stage", 1, "stage: prospecting"), ("mailbox", 1, "mailboxes.yaml"), ("steps", 1, "steps:")],
)
def test_missing_required_top_level_key_is_reported_with_what_to_add(
    seqs: Path, missing: str, line: int, hint: str
) -> None:
    text = HEADER.format(name="m") + STEPS_7
    kept = [
        row
        for row in text.splitlines(keepends=True)
        if not row.startswith(f"{missing}:") and not (missing == "steps" and row.startswith(" "))
    ]
    write(seqs, "m.yaml", "".join(kept))
    problems = errors(load(seqs)[1])
    assert len(problems) == 1, problems
    assert problems[0].message.startswith(f"missing required key {missing!r} — ")
    assert hint in problems[0].message
    assert problems[0].line == line


def test_step_without_template_is_reported_at_the_step(seqs: Path) -> None:
    write(
        seqs,
        "m.yaml",
        HEADER.format(name="m") + "  - template: a/1\n  - wait: 2 days\n    same_thread: true\n",
    )
    problem = only_error(load(seqs)[1])
    assert problem.line == 6
    assert "missing required key" in problem.message
    assert "template" in problem.message


def test_empty_steps_is_an_error(seqs: Path) -> None:
    write(seqs, "e.yaml", HEADER.format(name="e").replace("steps:\n", "steps: []\n"))
    problem = only_error(load(seqs)[1])
    assert problem.line == 4
    assert "steps" in problem.message


@pytest.mark.parametrize("stage", ["prospect", "won", "Prospecting", "negotiation"])
def test_unknown_stage_is_an_error_listing_the_stages(seqs: Path, stage: str) -> None:
    write(seqs, "s.yaml", HEADER.format(name="s").replace("prospecting", stage) + STEPS_7)
    problem = only_error(load(seqs)[1])
    assert problem.line == 2
    assert repr(stage) in problem.message
    assert "qualification" in problem.message


@pytest.mark.parametrize("name", ["Prospecting", "cold outreach", "-x", "a_b"])
def test_bad_sequence_name_is_an_error(seqs: Path, name: str) -> None:
    write(seqs, "n.yaml", HEADER.format(name=f'"{name}"') + STEPS_7)
    problem = only_error(load(seqs)[1])
    assert problem.line == 1
    assert "lowercase" in problem.message


def test_on_complete_enroll_without_sequence_is_an_error(seqs: Path) -> None:
    write(seqs, "o.yaml", HEADER.format(name="o") + STEPS_7 + "on_complete:\n  action: enroll\n")
    problem = only_error(load(seqs)[1])
    assert problem.line == 19
    assert "enroll" in problem.message
    assert "sequence" in problem.message


def test_on_complete_sequence_without_enroll_is_an_error(seqs: Path) -> None:
    write(
        seqs,
        "o.yaml",
        HEADER.format(name="o") + STEPS_7 + "on_complete:\n  action: stop\n  sequence: other\n",
    )
    problem = only_error(load(seqs)[1])
    assert "only used with action 'enroll'" in problem.message


def test_on_complete_enroll_with_sequence_is_valid(seqs: Path) -> None:
    write(
        seqs,
        "o.yaml",
        HEADER.format(name="o")
        + STEPS_7
        + "on_complete:\n  after: 5 business days\n  action: enroll\n  sequence: next\n",
    )
    names, problems = load(seqs)
    assert names == ["o"]
    assert problems == []


def test_unknown_on_complete_action_is_an_error(seqs: Path) -> None:
    write(seqs, "o.yaml", HEADER.format(name="o") + STEPS_7 + "on_complete:\n  action: archive\n")
    problem = only_error(load(seqs)[1])
    assert problem.line == 20
    assert "action" in problem.message


def test_same_thread_on_the_first_step_is_an_error(seqs: Path) -> None:
    write(
        seqs,
        "t.yaml",
        HEADER.format(name="t") + "  - template: a/1\n    same_thread: true\n" + STEPS_7,
    )
    problem = only_error(load(seqs)[1])
    assert problem.line == 4
    assert "first step" in problem.message
    assert "same thread" in problem.message


def test_same_thread_on_a_later_step_is_fine(seqs: Path) -> None:
    text = HEADER.format(name="t") + STEPS_7.replace(
        "prospecting/02\n    wait: 3 business days\n",
        "prospecting/02\n    wait: 3 business days\n    same_thread: true\n",
    )
    write(seqs, "t.yaml", text)
    catalog, problems = load_catalog(seqs)
    assert problems == []
    assert catalog.get("t").steps[1].same_thread is True


def test_multi_line_subject_override_is_an_error(seqs: Path) -> None:
    write(
        seqs,
        "s.yaml",
        HEADER.format(name="s")
        + STEPS_7
        + '  - template: a/8\n    wait: 1 day\n    subject: "one\\ntwo"\n',
    )
    problem = only_error(load(seqs)[1])
    assert problem.line == 21
    assert "single line" in problem.message


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # an indentation mistake in a step
        (
            "name: y\nstage: prospecting\nmailbox: sales\nsteps:\n  - template: a/1\n"
            "   wait: 1 day\n",
            6,
        ),
        # a tab used for indentation
        ("name: y\nstage: prospecting\nmailbox: sales\nsteps:\n\t- template: a/1\n", 5),
        # an unclosed quote: the line where it was opened, not the end of the file
        ('name: y\nstage: "prospecting\nmailbox: sales\nsteps:\n  - template: a/1\n', 2),
        # an unclosed bracket
        ("name: y\nstage: prospecting\nmailbox: sales\nsteps: [\n  {template: a/1}\n\n\n", 4),
    ],
)
def test_yaml_syntax_error_reports_its_line(seqs: Path, text: str, line: int) -> None:
    write(seqs, "y.yaml", text)
    names, problems = load(seqs)
    problem = only_error(problems)
    assert names == []
    assert problem.path == "sequences/y.yaml"
    assert problem.line == line
    assert "YAML syntax error" in problem.message


def test_duplicate_key_in_one_file_is_an_error_not_silently_overwritten(seqs: Path) -> None:
    write(
        seqs,
        "d.yaml",
        HEADER.format(name="d")
        + "  - template: a/1\n    wait: 0 days\n    wait: 3 days\n"
        + STEPS_7[STEPS_7.index("  - template: prospecting/02") :],
    )
    names, problems = load(seqs)
    problem = only_error(problems)
    assert names == []
    assert problem.line == 7
    assert "duplicate key 'wait'" in problem.message
    assert "line 6" in problem.message


def test_a_yaml_bomb_is_one_error_in_under_a_second_and_the_others_still_load(
    seqs: Path,
) -> None:
    """Nine levels of nine aliases expand to 387 million values: refused before they are
    built, with the line where the expansion passes the limit; the good file loads."""
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for upper, lower in zip("bcdefghi", "abcdefgh", strict=True):
        levels.append(f"{upper}: &{upper} [{', '.join([f'*{lower}'] * 9)}]")
    write(seqs, "bomb.yaml", "name: bomb\n" + "\n".join(levels) + "\n")
    write(seqs, "loop.yaml", "name: loop\nsteps: &s\n  - *s\n")
    write(seqs, "good.yaml", HEADER.format(name="good") + STEPS_7)
    started = time.monotonic()
    names, problems = load(seqs)
    assert time.monotonic() - started < 1.0
    assert names == ["good"]
    by_file = {p.path: p for p in problems if p.severity == "error"}
    assert "expands to more than 100,000 values" in by_file["sequences/bomb.yaml"].message
    assert by_file["sequences/bomb.yaml"].line == 6
    assert "refers to a node that contains it" in by_file["sequences/loop.yaml"].message


def test_a_file_that_is_not_a_mapping_is_an_error(seqs: Path) -> None:
    write(seqs, "l.yaml", "- just\n- a list\n")
    problem = only_error(load(seqs)[1])
    assert problem.line == 1
    assert "mapping" in problem.message


def test_an_empty_file_is_an_error(seqs: Path) -> None:
    write(seqs, "empty.yaml", "# nothing yet\n")
    problem = only_error(load(seqs)[1])
    assert problem.path == "sequences/empty.yaml"


def test_duplicate_names_across_files_are_reported_and_the_first_kept(seqs: Path) -> None:
    write(seqs, "cold.yaml", HEADER.format(name="cold") + STEPS_7)
    write(
        seqs / "more", "cold.yml", "# the same name again\n" + HEADER.format(name="cold") + STEPS_7
    )
    catalog, problems = load_catalog(seqs, seqs.parent)
    problem = only_error(problems)
    assert (problem.path, problem.line) == ("sequences/more/cold.yml", 2)
    assert "'cold'" in problem.message
    assert "sequences/cold.yaml" in problem.message
    assert catalog.sequences["cold"].path.name == "cold.yaml"


def test_several_problems_in_one_file_are_all_reported(seqs: Path) -> None:
    write(
        seqs,
        "many.yaml",
        """\
        name: many
        stage: prospect
        steps:
          - template: a/1
            wiat: 1 day
          - template: a/2
            wait: tomorrow
        on_complete:
          action: enroll
        """,
    )
    problems = errors(load(seqs)[1])
    lines = sorted(p.line for p in problems)
    assert lines == [1, 2, 5, 7, 8]  # missing mailbox, stage, wiat, wait, on_complete


def test_a_broken_file_does_not_hide_the_others(seqs: Path) -> None:
    write(seqs, "a_broken.yaml", "name: [\n")
    write(seqs, "good.yaml", HEADER.format(name="good") + STEPS_7)
    write(seqs, "bad.yaml", HEADER.format(name="bad").replace("sales", "sales\ncolour: x"))
    names, problems = load(seqs)
    assert names == ["good"]
    assert sorted({p.path for p in errors(problems)}) == [
        "sequences/a_broken.yaml",
        "sequences/bad.yaml",
    ]


@pytest.mark.parametrize("count", [1, 5, 9, 12])
def test_fewer_than_six_or_more_than_eight_touches_is_a_warning(seqs: Path, count: int) -> None:
    steps = "".join(f"  - template: a/{n}\n    wait: 2 days\n" for n in range(count))
    write(seqs, "w.yaml", HEADER.format(name="w") + steps)
    names, problems = load(seqs)
    assert names == ["w"]  # still valid
    assert len(problems) == 1
    assert problems[0].severity == "warning"
    assert problems[0].line == 4
    assert f"{count} touches" in problems[0].message
    assert str(problems[0]).startswith("sequences/w.yaml:4: warning: ")


@pytest.mark.parametrize("count", [6, 7, 8])
def test_six_to_eight_touches_is_not_a_warning(seqs: Path, count: int) -> None:
    steps = "".join(f"  - template: a/{n}\n    wait: 2 days\n" for n in range(count))
    write(seqs, "w.yaml", HEADER.format(name="w") + steps)
    assert load(seqs) == (["w"], [])


def test_the_first_wait_defaults_to_zero_days_and_units_parse(seqs: Path) -> None:
    write(
        seqs,
        "u.yaml",
        HEADER.format(name="u")
        + "  - template: a/1\n  - template: a/2\n    wait: 2 business days\n"
        + "  - template: a/3\n    wait: 6 hours\n  - template: a/4\n    wait: 3 days\n"
        + "  - template: a/5\n    wait: 1 day\n  - template: a/6\n    wait: 0 days\n"
        + "  - template: a/7\n    wait: 2 weeks\n",
    )
    catalog, problems = load_catalog(seqs)
    assert problems == []
    waits = [str(step.wait) for step in catalog.get("u").steps]
    assert waits == ["0 days", "2 business days", "6 hours", "3 days", "1 day", "0 days", "14 days"]


def test_a_later_step_without_wait_is_an_error_at_the_step_saying_what_to_write(
    seqs: Path,
) -> None:
    write(
        seqs,
        "w.yaml",
        HEADER.format(name="w")
        + "  - template: a/1\n  - template: a/2\n    wait: 2 days\n  - template: a/3\n",
    )
    names, problems = load(seqs)
    problem = only_error(problems)
    assert names == []  # nothing is sent from it: two emails back to back is never meant
    assert (problem.path, problem.line) == ("sequences/w.yaml", 8)
    assert problem.message.startswith("step 3 has no 'wait:'")
    assert "after step 2" in problem.message
    assert "'wait: 3 business days'" in problem.message
    assert "'wait: 0 days'" in problem.message


@pytest.mark.parametrize(
    ("written", "fix"),
    [
        ("wait: 3", "'wait: 3 days', 'wait: 3 business days' or 'wait: 3 hours'"),
        ('wait: "3"', "'wait: 3 days', 'wait: 3 business days' or 'wait: 3 hours'"),
        ("wait: 1.5", "a whole number with a unit"),
        ("timeout: 2", "'timeout: 2 days'"),
    ],
)
def test_a_bare_number_is_an_error_saying_how_to_write_it(
    seqs: Path, written: str, fix: str
) -> None:
    step = (
        "  - type: call\n    task: Call them\n    wait: 1 day\n"
        if written.startswith("timeout")
        else "  - template: a/2\n"
    )
    write(
        seqs, "b.yaml", HEADER.format(name="b") + "  - template: a/1\n" + step + f"    {written}\n"
    )
    problem = only_error(load(seqs)[1])
    assert problem.line == (9 if written.startswith("timeout") else 7)
    assert "has no unit" in problem.message
    assert fix in problem.message
    assert problem.message.startswith("step 2 ")  # counted from 1, as the author counts


def test_on_complete_after_as_a_bare_number_is_an_error(seqs: Path) -> None:
    write(seqs, "o.yaml", HEADER.format(name="o") + STEPS_7 + "on_complete:\n  after: 5\n")
    problem = only_error(load(seqs)[1])
    assert problem.line == 20
    assert "on_complete.after: 5 has no unit — write 'after: 5 days'" in problem.message


def test_a_name_other_than_the_file_name_is_an_error_saying_both_fixes(seqs: Path) -> None:
    write(seqs, "cold-outreach.yaml", "# cold\n" + HEADER.format(name="cold") + STEPS_7)
    names, problems = load(seqs)
    problem = only_error(problems)
    assert names == []
    assert (problem.path, problem.line) == ("sequences/cold-outreach.yaml", 2)
    assert "rename the file to cold.yaml" in problem.message
    assert "'name: cold-outreach'" in problem.message


def test_the_name_is_taken_from_the_file_name_when_left_out(seqs: Path) -> None:
    write(seqs, "warm-up.yaml", HEADER.format(name="x").replace("name: x\n", "") + STEPS_7)
    names, problems = load(seqs)
    assert (names, problems) == (["warm-up"], [])


def test_a_file_name_that_is_no_sequence_name_says_how_to_rename_it(seqs: Path) -> None:
    write(seqs, "Warm Up.yaml", HEADER.format(name="x").replace("name: x\n", "") + STEPS_7)
    problem = only_error(load(seqs)[1])
    assert "rename the file" in problem.message
    assert "warm-up.yaml" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ("stage: prospecting", "stage: prospekting", 2, "did you mean 'prospecting'?"),
        (
            "  - template: prospecting/01\n",
            "  - type: emial\n    template: prospecting/01\n",
            5,
            "did you mean 'email'?",
        ),
        ("steps:\n", "on_complete:\n  action: stpo\nsteps:\n", 5, "did you mean 'stop'?"),
        ("steps:\n", "on_reply:\n  negative: [lots]\nsteps:\n", 5, "did you mean 'lost'?"),
        ("steps:\n", "on_reply:\n  positiv: flag\nsteps:\n", 5, "did you mean 'positive'?"),
        ("steps:\n", "on_reply:\n  referral: enrol:x\nsteps:\n", 5, "'enroll:x'"),
        (
            "steps:\n",
            "on_company_reply:\n  match: domian\nsteps:\n",
            5,
            "did you mean 'domain'?",
        ),
        (
            "steps:\n",
            "on_company_reply:\n  positive: paus\nsteps:\n",
            5,
            "did you mean 'pause'?",
        ),
    ],
)
def test_a_mistyped_value_gets_one_error_with_a_suggestion(
    seqs: Path, old: str, new: str, line: int, expected: str
) -> None:
    text = HEADER.format(name="t") + STEPS_7
    assert old in text
    write(seqs, "t.yaml", text.replace(old, new, 1))
    problem = only_error(load(seqs)[1])
    assert problem.line == line, problem
    assert expected in problem.message


def test_errors_count_steps_and_variants_from_one(seqs: Path) -> None:
    steps = STEPS_7.replace(
        "  - template: prospecting/02\n",
        "  - template: prospecting/02\n    variants:\n      - name: a\n"
        "      - name: b\n        weight: 0\n        wieght: 1\n",
    )
    write(seqs, "v.yaml", HEADER.format(name="v") + steps)
    messages = [p.message for p in errors(load(seqs)[1])]
    assert "unknown key 'wieght' in step 2 variant 2 — did you mean 'weight'?" in messages
    assert any(m.startswith("step 2 variant 2 weight: ") for m in messages), messages
    assert not any("steps." in m or "variants." in m for m in messages), messages


def test_every_problem_of_one_file_is_reported_at_once(seqs: Path) -> None:
    write(
        seqs,
        "many.yaml",
        """\
        name: many
        stage: prospecting
        mailbox: sales
        steps:
          - template: a/1
          - template: a/2
          - type: email
            template: a/3
            wait: 3
          - type: cal
            task: Call
            wait: 1 day
        on_complete:
          action: stpo
        """,
    )
    names, problems = load(seqs)
    assert names == []
    found = [(p.line, p.message.split(" — ")[0]) for p in errors(problems)]
    assert [line for line, _ in found] == [6, 9, 10, 14], found


def test_unknown_sequence_lookup_suggests_the_closest_name(seqs: Path) -> None:
    write(seqs, "prospecting.yaml", HEADER.format(name="prospecting") + STEPS_7)
    catalog, _ = load_catalog(seqs)
    with pytest.raises(NotFoundError, match="did you mean 'prospecting'"):
        catalog.get("prospectin")


def test_looking_up_a_sequence_whose_file_is_invalid_says_so(seqs: Path) -> None:
    write(seqs, "prospecting.yaml", HEADER.format(name="prospecting") + "  - wiat: 1 day\n")
    write(seqs, "other.yaml", HEADER.format(name="other") + STEPS_7)
    catalog, _ = load_catalog(seqs)
    with pytest.raises(NotFoundError, match=r"sequences/prospecting\.yaml is invalid"):
        catalog.get("prospecting")
    with pytest.raises(NotFoundError, match=r"1 invalid file\(s\) left out"):
        catalog.get("nothing-like-it")


@pytest.mark.parametrize(
    "wait", ["1000000000 days", "731 days", "20000 hours", "600 business days"]
)
def test_a_wait_longer_than_two_years_is_an_error_on_its_line(seqs: Path, wait: str) -> None:
    steps = STEPS_7.replace("wait: 3 business days", f"wait: {wait}", 1)
    write(seqs, "w.yaml", HEADER.format(name="w") + steps)
    problem = only_error(load(seqs)[1])
    assert problem.line == 8  # the second step's wait
    assert "longer than two years" in problem.message


def test_a_wait_of_two_years_is_accepted(seqs: Path) -> None:
    steps = STEPS_7.replace("wait: 3 business days", "wait: 730 days", 1)
    write(seqs, "w.yaml", HEADER.format(name="w") + steps)
    assert errors(load(seqs)[1]) == []
