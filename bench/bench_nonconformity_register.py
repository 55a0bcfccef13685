"""Nonconformity register: time and SQL statements to list the register of a unit with 1,000 records.

    python bench/bench_nonconformity_register.py                 # 1,000 nonconformities + 60 audits' findings
    python bench/bench_nonconformity_register.py --nonconformities 5000 --runs 5

The records are made in a temporary SQLite database (migrated by `qms.cli.upgrade_database`) through the
services: nonconformities from four sources, a corrective action on every third (every ninth closed by
its status, as the register reads it), and 60 audits with a major and a minor finding each. Each run
calls `qms.quality.services.register` (the page's and the API's list) and, once, the dashboard's
`open_counts`; the script prints the median and worst time and the number of SQL statements of a call.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchapp import bench_app  # noqa: E402

PASSWORD = "register-figures-passphrase-1"
SOURCES = ("other", "custody_discrepancy", "equipment_impact", "complaint")


def _app(instance: Path):  # type: ignore[no-untyped-def]
    return bench_app(instance)


def build(nonconformities: int, audits: int) -> int:
    """One unit's register; returns the unit id."""
    from qms.audits import services as audit_services
    from qms.audits.models import ActionStatus
    from qms.auth import services as accounts
    from qms.auth.models import Role
    from qms.db import today
    from qms.extensions import db
    from qms.people import services as people
    from qms.people.models import Gate
    from qms.quality import services as quality

    unit = accounts.create_unit(code="BENCH", name="Forensic Centre (bench)")
    qm = accounts.create_user(username="qm", full_name="Quality Manager", password=PASSWORD, unit=unit,
                              roles=(Role.QUALITY_MANAGER,))
    lead = accounts.create_user(username="lead", full_name="Lead Auditor", password=PASSWORD, unit=unit,
                                roles=(Role.AUDITOR,))
    examiner = accounts.create_user(username="examiner", full_name="Examiner", password=PASSWORD, unit=unit,
                                    roles=(Role.EXAMINER,))
    for person in (qm, lead, examiner):
        people.authorise_by_operator(unit.id, person, [gate.value for gate in Gate], reason="bench")
    for n in range(audits):
        audit = audit_services.create_audit(audit_services.AuditPlan(
            title=f"Audit {n + 1}", planned_start=today(), planned_end=today() + timedelta(days=1),
            lead_auditor_id=lead.id, clauses=("17020:6.1",), auditee="Scene unit"), unit_id=unit.id, actor=qm)
        audit_services.start_audit(audit, lead)
        item = audit.items[0]
        audit_services.record_result(item, lead, result="non_conforming", evidence_note="Seen.")
        for grade in ("major", "minor"):
            audit_services.raise_finding(item, lead, grade=grade, statement=f"Finding of audit {n + 1}.")
    for n in range(nonconformities):
        found = quality.open_nonconformity(unit.id, quality.Source(SOURCES[n % len(SOURCES)]), quality.Found(
            title=f"Nonconformity {n + 1}", found_on=today() - timedelta(days=n % 1800)), found_by=qm)
        if n % 3 == 0:
            action = quality.raise_action(found, qm, title=f"Action {n + 1}", owner_id=examiner.id,
                                          due_on=today() + timedelta(days=30))
            if n % 9 == 0:
                action.status = ActionStatus.CLOSED.value  # the register reads the status only
    db.session.commit()
    return unit.id


def measure(call, runs: int) -> tuple[list[float], int, int]:  # type: ignore[no-untyped-def]
    """Times of `runs` calls (each from a cleared session), the rows and the SQL statements of the last."""
    from sqlalchemy import event

    from qms.extensions import db

    statements = []

    def count(*_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(1)

    engine = db.engine
    times, rows = [], 0
    for _ in range(runs):
        db.session.expire_all()
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        began = time.perf_counter()
        rows = len(call())
        times.append(time.perf_counter() - began)
        event.remove(engine, "before_cursor_execute", count)
    return times, rows, len(statements)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--nonconformities", type=int, default=1000)
    parser.add_argument("--audits", type=int, default=60)
    args = parser.parse_args(argv)
    from qms.cli import upgrade_database
    from qms.quality import services as quality

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp))
        with app.app_context():
            upgrade_database()
            began = time.perf_counter()
            unit_id = build(args.nonconformities, args.audits)
            print(f"records: {args.nonconformities} nonconformities, {args.audits} audits with 2 findings each "
                  f"(built in {time.perf_counter() - began:.1f} s)")
            for label, call in (("register", lambda: quality.register(unit_id)),
                                ("open_counts (dashboard)", lambda: quality.open_counts(unit_id))):
                times, rows, statements = measure(call, args.runs)
                print(f"{label}: {rows} rows, median {statistics.median(times):.3f} s, worst {max(times):.3f} s "
                      f"over {args.runs} runs, {statements} SQL statements per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
