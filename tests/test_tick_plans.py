"""The tick's per-sequence version checks are index scans on PostgreSQL with real statistics.

At a million enrollments a plan that reads the whole table costs 0.2 to 0.4 s per sequence and
tick, so these check the plans PostgreSQL chooses for the statements the tick runs, after
ANALYZE, on a table where every sequence's enrollments share one version (the steady state).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from worker.authoring.versions import SequenceVersion
from worker.delivery.sequence_changes import unpinned_query, unseen_query
from worker.store.db import make_engine, migrate

SEQUENCES = ("prospecting", "qualification", "consideration", "decision", "delivery")
WEIGHTS = (47, 21, 14, 9, 9)  # percent of the enrollments in each
ROWS = 40_000


@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(postgres_url)
    migrate(engine)
    yield engine
    engine.dispose()


def version_of(sequence: str) -> str:
    return hashlib.sha256(sequence.encode()).hexdigest()


def fill(engine: sa.Engine, *, pinned: bool) -> None:
    """ROWS leads, each enrolled in one sequence (by WEIGHTS), pinned or not, then ANALYZE."""
    bounds, total = [], 0
    for weight in WEIGHTS:
        total += weight * ROWS // 100
        bounds.append(total)
    which = "CASE " + " ".join(
        f"WHEN g <= {bound} THEN '{name}'" for bound, name in zip(bounds, SEQUENCES, strict=True)
    )
    version = "CASE " + " ".join(
        f"WHEN g <= {bound} THEN '{version_of(name)}'"
        for bound, name in zip(bounds, SEQUENCES, strict=True)
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO leads (id, email, stage, status, fields, created_at, updated_at) "
            "SELECT g, 'p' || g || '@example.test', 'prospecting', 'active', '{}', now(), now() "
            f"FROM generate_series(1, {ROWS}) g"
        )
        seen = f"{version} END" if pinned else "NULL"
        conn.exec_driver_sql(
            "INSERT INTO enrollments (lead_id, sequence, status, current_step, enrolled_at, "
            f"version, seen_version) SELECT g, {which} END, 'active', 0, now(), {seen}, {seen} "
            f"FROM generate_series(1, {ROWS}) g"
        )
        conn.exec_driver_sql("ANALYZE leads")
        conn.exec_driver_sql("ANALYZE enrollments")


def plan(engine: sa.Engine, query: sa.Select) -> str:  # type: ignore[type-arg]
    sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))


def test_the_check_for_another_version_reads_an_index_when_every_lead_is_up_to_date(
    engine: sa.Engine,
) -> None:
    fill(engine, pinned=True)
    for sequence in SEQUENCES:
        current = SequenceVersion(sequence, version_of(sequence), "", {})
        shown = plan(engine, unseen_query(current, 0))
        assert "ix_enrollments_sequence_seen" in shown, shown
        assert "enrollments_pkey" not in shown, shown
        assert "Seq Scan" not in shown, shown


def test_the_pin_of_new_enrollments_reads_its_partial_index_even_with_stale_statistics(
    engine: sa.Engine,
) -> None:
    fill(engine, pinned=False)  # analysed while every enrollment was unpinned
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE enrollments SET seen_version = 'v', version = 'v'")
        )  # pinned since: the statistics still count them all as unpinned
    for sequence in SEQUENCES:
        shown = plan(engine, unpinned_query(sequence))
        assert "ix_enrollments_unpinned" in shown, shown
        assert "Seq Scan" not in shown, shown
