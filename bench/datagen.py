"""Fictional benchmark data: temp projects, lead CSVs (``.test`` domains) and bulk DB inserts."""

from __future__ import annotations

import csv
import json
import random
import shutil
import subprocess
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, insert

from worker.review.reps import add_rep, rep_names
from worker.runtime import Runtime
from worker.store.models import Enrollment, Lead
from worker.web import create_app

REPO = Path(__file__).resolve().parent.parent

# The columns of examples/leads.csv (every field a template may use).
COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "stage",
    "timezone",
    "country",
    "deal_value",
    "industry",
    "pain_point",
    "crm",
    "team_size",
    "city",
    "referrer",
)
FIRST = ("Ada", "Klaus", "Sabine", "James", "Mara", "Olu", "Inès", "Kenji", "Priya", "Lars", "Zoë")
LAST = (
    "Winter",
    "Müller",
    "Schneider",
    "Carter",
    "Okafor",
    "Dubois",
    "Sato",
    "Rao",
    "Berg",
    "Nyström",
)
COMPANY = ("Northwind", "Brauhaus", "Alpenwerk", "Brightwave", "Kessler", "Fjordline", "Sakura")
SUFFIX = ("Traders", "Logistik GmbH", "Maschinenbau AG", "Media", "Analytics", "Systems", "Labs")
TITLE = ("Head of Sales", "VP Sales", "Director of Revenue Operations", "CRO", "Sales Manager")
PLACES = (
    ("Europe/London", "GB", "London"),
    ("Europe/Berlin", "DE", "München"),
    ("America/New_York", "US", "New York"),
    ("Europe/Paris", "FR", "Lyon"),
    ("Asia/Tokyo", "JP", "Osaka"),
    ("America/Los_Angeles", "US", "San Diego"),
    ("Europe/Stockholm", "SE", "Göteborg"),
)
INDUSTRY = ("wholesale", "logistics", "industrial machinery", "B2B software", "healthcare IT")
PAIN = (
    "forecast calls that still run on gut feeling",
    "stale deals inflating the pipeline",
    "duplicate accounts left over from the CRM migration",
    "",
)
CRM = ("Salesforce", "HubSpot", "Microsoft Dynamics 365", "Pipedrive")
REFERRER = ("", "", "", "Lena Hoffmann", "Tom Reyes")


def copy_project(target: Path) -> Path:
    """A project folder with the repository's sequences, templates, mailboxes and examples."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("sequences", "templates", "examples"):
        shutil.copytree(REPO / name, target / name)
    # Without the example's daily limits: the benchmarks measure throughput, not the limits.
    # Measure sending, not waiting: no send windows and no daily limits in the copy.
    for sequence in (target / "sequences").glob("*.yaml"):
        lines = sequence.read_text(encoding="utf-8").splitlines(keepends=True)
        kept_lines = [line for line in lines if not line.startswith("schedule:")]
        sequence.write_text("".join(kept_lines), encoding="utf-8")
    mailboxes = (REPO / "mailboxes.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in mailboxes if not line.lstrip().startswith("daily_limit:")]
    (target / "mailboxes.yaml").write_text("".join(kept), encoding="utf-8")
    return target


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def lead_rows(
    count: int, *, start: int = 0, seed: int = 7, tag: str = ""
) -> Iterator[dict[str, str]]:
    """``count`` fictional CSV rows (as strings), unique addresses on ``.test`` domains."""
    rng = random.Random(seed + start)
    for i in range(start, start + count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = f"{rng.choice(COMPANY)} {rng.choice(SUFFIX)} {i % 997}"
        zone, country, city = rng.choice(PLACES)
        yield {
            "email": f"{_ascii(first)}.{i}{tag}@c{i % 5003}.example-{i % 7}.test",
            "first_name": first,
            "last_name": last,
            "company": company,
            "title": rng.choice(TITLE),
            "stage": "prospecting",
            "timezone": zone,
            "country": country,
            "deal_value": str(rng.randrange(5_000, 120_000, 500)),
            "industry": rng.choice(INDUSTRY),
            "pain_point": rng.choice(PAIN),
            "crm": rng.choice(CRM),
            "team_size": str(rng.randrange(5, 400)),
            "city": city,
            "referrer": rng.choice(REFERRER),
        }


def write_leads_csv(path: Path, count: int, *, start: int = 0, tag: str = "") -> Path:
    """Write ``count`` fictional leads to ``path`` (streamed; any size)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in lead_rows(count, start=start, tag=tag):
            writer.writerow(row)
    return path


def bulk_enrolled_leads(
    engine: Engine,
    *,
    total: int,
    due: int,
    now: datetime,
    sequence: str = "prospecting",
    mailbox: str = "sales",
    chunk: int = 20_000,
) -> int:
    """Insert ``total`` leads, each actively enrolled in ``sequence``; ``due`` of them are due.

    Due enrollments are spread evenly through the id range (every ``total // due``-th lead)
    and due one minute ago; the others are due in the far future. Plain Core bulk inserts
    (COPY on PostgreSQL), no events: this only builds a lead list to measure the tick against.
    """
    stride = max(1, total // max(1, due))
    past = now - timedelta(minutes=1)
    future = now + timedelta(days=3650)
    made_due = 0
    with engine.begin() as conn:
        for offset in range(0, total, chunk):
            size = min(chunk, total - offset)
            leads: list[dict[str, Any]] = []
            for n, row in enumerate(lead_rows(size, start=offset, tag="b")):
                leads.append(
                    {
                        "id": offset + n + 1,
                        "email": row["email"],
                        "first_name": row["first_name"],
                        "last_name": row["last_name"],
                        "company": row["company"],
                        "timezone": row["timezone"],
                        "country": row["country"],
                        "deal_value": float(row["deal_value"]),
                        "stage": "prospecting",
                        "status": "active",
                        "fields": {
                            k: row[k]
                            for k in ("title", "industry", "pain_point", "crm", "team_size", "city")
                            if row[k]
                        },
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            _insert(conn, Lead, leads)
            enrollments = []
            for lead in leads:
                is_due = (lead["id"] - 1) % stride == 0 and made_due < due
                made_due += is_due
                enrollments.append(
                    {
                        "id": lead["id"],
                        "lead_id": lead["id"],
                        "sequence": sequence,
                        "mailbox": mailbox,
                        "status": "active",
                        "current_step": 0,
                        "next_due_at": past if is_due else future,
                        "enrolled_at": now,
                    }
                )
            _insert(conn, Enrollment, enrollments)
    return made_due


def _insert(conn: Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    """Core executemany on SQLite; COPY on PostgreSQL (several times faster)."""
    if conn.dialect.name != "postgresql":
        conn.execute(insert(model), rows)
        return
    columns = list(rows[0])
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:  # type: ignore[attr-defined]
        copy_sql = f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(v) if isinstance(v, dict) else v for v in row.values()])


@contextmanager
def postgres_schema(admin_url: str, prefix: str = "bench", keep: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL schema (dropped afterwards unless ``keep``); yields a DATABASE_URL
    whose search_path is that schema."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        if keep:
            print(f"kept schema {schema}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def signed_in_client(runtime: Runtime, at: datetime) -> FlaskClient:
    """A test client of the web app, signed in as the rep ``bench`` (added when missing)."""
    with runtime.sessions.begin() as session:
        if "bench" not in rep_names(session):
            add_rep(session, "bench", "bench password 1", at=at)
    client = create_app(runtime).test_client()
    token_page = client.get("/login").get_data(as_text=True)
    token = token_page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/login", data={"name": "bench", "password": "bench password 1", "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    return client


def run_in_fresh_shell(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` through ``/bin/sh``: a child forked straight from a large process would
    carry that process's peak RSS into its own ``ru_maxrss``."""
    return subprocess.run(
        ["/bin/sh", "-c", '"$0" "$@"; exit $?', *command],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
