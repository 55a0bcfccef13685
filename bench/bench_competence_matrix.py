"""Competence-matrix page and PDF for a unit of 200 people x 12 scopes with 5 years of records (SQLite).

    python bench/bench_competence_matrix.py               # 200 people, 20 page requests, 5 PDFs
    python bench/bench_competence_matrix.py --people 50 --requests 10 --pdf-requests 3

The records are inserted in bulk (Core inserts, no audit trail: this measures reading them): per
person, six of the twelve scopes each get five yearly grants (one suspended and reinstated), two
trainings, one witnessed examination and four supervised cases a year. Prints the page's median
and p95 over the requests (target < 300 ms) and the PDF's times (target < 3 s): the first request
(which also imports WeasyPrint and loads the fonts), then the median and the slowest of the others,
with the CPU time the process spent, which a busy shared machine inflates less than the wall
clock. The load average is printed before and after: compare figures taken at similar loads.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from benchapp import bench_app

PASSWORD = "matrix-figures-passphrase-1"
NAMES = ("Љубица Петровска", "Arben Gashi", "Ana Kovač", "Jovan Ilić", "Марија Николовска", "Drita Krasniqi")


def _app(instance: Path):  # type: ignore[no-untyped-def]
    return bench_app(instance, WTF_CSRF_ENABLED=False)  # the bench posts only its login


def _records(unit_id: int, people: list[int], scopes: list[int], qm_id: int, today: date) -> dict[str, list[dict]]:
    rng = random.Random(14)
    rows: dict[str, list[dict]] = {"authorisation_event": [], "training_record": [], "witnessing": [],
                                   "supervised_work": []}
    now = datetime.combine(today, datetime.min.time(), tzinfo=timezone.utc)
    for person in people:
        for scope in rng.sample(scopes, 6):
            common = {"unit_id": unit_id, "user_id": person, "scope_id": scope}
            for year in range(5):
                start = today - timedelta(days=365 * (5 - year))
                until = start + timedelta(days=365 + rng.randint(-90, 90))
                rows["authorisation_event"].append({**common, "kind": "granted", "valid_from": start,
                                                    "valid_until": until, "reason": "", "justification": "",
                                                    "unmet": [], "signed_by_id": qm_id, "signed_by_name": "QM",
                                                    "signature_meaning": "Authorised", "signed_at": now})
                if year == 2:
                    for kind in ("suspended", "reinstated"):
                        rows["authorisation_event"].append({**rows["authorisation_event"][-1], "kind": kind,
                                                            "reason": "Review"})
                for n in range(2):
                    day = start + timedelta(days=30 + 100 * n)
                    rows["training_record"].append({**common, "course": f"Course {year}.{n}", "provider": "Academy",
                                                    "started_on": day, "completed_on": day, "hours": 8.0,
                                                    "outcome": "passed", "certificate_name": "", "notes": "",
                                                    "recorded_by_id": qm_id, "recorded_at": now})
                rows["witnessing"].append({**common, "observer_id": qm_id, "observed_on": start + timedelta(days=200),
                                           "reference": f"Exercise {year}", "outcome": "satisfactory", "notes": "",
                                           "recorded_by_id": qm_id, "recorded_at": now})
                for n in range(4):
                    rows["supervised_work"].append({**common, "supervisor_id": qm_id, "reference": f"Case {year}/{n}",
                                                    "performed_on": start + timedelta(days=60 * n + 10), "notes": "",
                                                    "recorded_by_id": qm_id, "recorded_at": now})
    return rows


def _build(args: argparse.Namespace) -> tuple[int, str]:
    from qms.auth import services as accounts
    from qms.auth.models import Role
    from qms.db import today
    from qms.extensions import db
    from qms.people import services as people

    unit = accounts.create_unit(code="BENCH", name="Матрица бенч")
    qm = accounts.create_user(username="qm", full_name="Марија Петровска", password=PASSWORD, unit=unit,
                              roles=(Role.QUALITY_MANAGER,))
    for n in range(3):  # nine seeded scopes and three of the unit's own
        people.add_scope(unit.id, qm, code=f"extra_{n}", name=f"Extra scope {n}", min_supervised=3)
    ids = [accounts.create_user(username=f"p{n:03d}", full_name=f"{NAMES[n % len(NAMES)]} {n}", password=PASSWORD,
                                unit=unit, roles=(Role.EXAMINER,)).id for n in range(args.people - 1)]
    scopes = [s.id for s in people.scopes(unit.id)]
    assert len(scopes) == 12
    rows = _records(unit.id, ids, scopes, qm.id, today())
    for table, values in rows.items():
        db.session.execute(db.metadata.tables[table].insert(), values)
    db.session.commit()
    print(f"setup: {args.people} people x {len(scopes)} scopes, "
          + ", ".join(f"{len(v)} {k}" for k, v in rows.items()))
    return unit.id, qm.username


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _pdf(client, count: int) -> None:  # type: ignore[no-untyped-def]
    walls, cpus = [], []
    for _ in range(count):
        started, cpu = time.perf_counter(), time.process_time()
        response = client.get("/people/matrix.pdf")
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    rest = f", then median {statistics.median(walls[1:]):.2f} s, slowest {max(walls[1:]):.2f} s " \
           f"(CPU {statistics.median(cpus[1:]):.2f} s)" if count > 1 else ""
    print(f"PDF /people/matrix.pdf: first {walls[0]:.2f} s (CPU {cpus[0]:.2f} s){rest} over {count} requests "
          f"({len(response.data) / 1024:.0f} KiB) [target < 3 s]")


def _load() -> str:
    return "load average " + " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--requests", type=int, default=20, help="page requests timed (default 20)")
    parser.add_argument("--pdf-requests", type=int, default=5, help="PDF requests timed (default 5)")
    args = parser.parse_args()
    from qms.cli import upgrade_database

    print(f"before: {_load()} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="bench-matrix-") as scratch:
        app = _app(Path(scratch))
        with app.app_context():
            upgrade_database()
            _unit_id, username = _build(args)
        client = app.test_client()
        assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
        client.get("/people/matrix")  # warm the templates
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get("/people/matrix")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
        print(f"page /people/matrix: median {statistics.median(times) * 1000:.0f} ms, p95 {_p95(times) * 1000:.0f} ms "
              f"over {len(times)} requests ({len(response.data) / 1024:.0f} KiB) [target < 300 ms]")
        _pdf(client, max(1, args.pdf_requests))
        started = time.perf_counter()
        response = client.get("/people/matrix.xlsx")
        print(f"XLSX /people/matrix.xlsx: {time.perf_counter() - started:.2f} s ({len(response.data) / 1024:.0f} KiB)")
    print(f"after: {_load()}")


if __name__ == "__main__":
    main()
