"""Management review figures: time to gather the inputs and render the minutes PDF for a unit with 5 years of records.

    python bench/bench_management_review.py                # 3 runs, period = the last 5 years and the last year
    python bench/bench_management_review.py --runs 5 --nonconformities 2000 --keep minutes.pdf

The records are made in a temporary SQLite database (migrated by `qms.cli.upgrade_database`) through
the services where they are cheap (nonconformities, corrective actions, proficiency results, cases)
and, for the 60 audits, through `create_audit`/`start_audit`/`raise_finding` with their dates then
spread over the five years. Each run gathers the inputs from the database, draws the four charts
and renders the PDF (WeasyPrint); the script prints the median and worst time of each period.
It also times the quality manual's PDF of the same unit (issue 15 asks for both on 5 years of
records: 1,000 nonconformities, 200 complaints, 60 audits). Target: under 5 s each.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchapp import bench_app  # noqa: E402

PASSWORD = "review-figures-passphrase-1"
SOURCES = ("other", "custody_discrepancy", "equipment_impact", "complaint")


def _app(instance: Path):  # type: ignore[no-untyped-def]
    return bench_app(instance)


def build(nonconformities: int, audits: int, years: int, complaints: int) -> tuple[int, int]:
    """Five years of records of one unit; returns (unit id, quality manager id)."""
    from qms.audits import services as audit_services
    from qms.audits.models import Audit
    from qms.auth import services as accounts
    from qms.auth.models import Role
    from qms.db import today
    from qms.evidence.custody import register_case
    from qms.extensions import db
    from qms.people import services as people
    from qms.people.models import Gate
    from qms.quality import complaints as complaint_services
    from qms.quality import proficiency
    from qms.quality import services as quality

    unit = accounts.create_unit(code="BENCH", name="Forensic Centre (bench)")
    qm = accounts.create_user(username="qm", full_name="Марија Петровска", password=PASSWORD, unit=unit,
                              roles=(Role.QUALITY_MANAGER,))
    lead = accounts.create_user(username="lead", full_name="Arben Gashi", password=PASSWORD, unit=unit,
                                roles=(Role.AUDITOR,))
    examiner = accounts.create_user(username="examiner", full_name="Jovan Ilić", password=PASSWORD, unit=unit,
                                    roles=(Role.EXAMINER,))
    for person in (qm, lead, examiner):  # every gated scope, as the operator's set-up command grants them
        people.authorise_by_operator(unit.id, person, [gate.value for gate in Gate], reason="bench")
    days = 365 * years
    for n in range(audits):
        audit = audit_services.create_audit(audit_services.AuditPlan(
            title=f"Audit {n + 1}", planned_start=today(), planned_end=today() + timedelta(days=1),
            lead_auditor_id=lead.id, clauses=("17020:6.1",), auditee="Scene unit"), unit_id=unit.id, actor=qm)
        audit_services.start_audit(audit, lead)
        item = audit.items[0]
        audit_services.record_result(item, lead, result="non_conforming", evidence_note="Seen.")
        for grade in ("major", "observation"):
            audit_services.raise_finding(item, lead, grade=grade, statement=f"Finding of audit {n + 1}.")
        when = datetime.now(UTC) - timedelta(days=days * n // audits)
        audit.started_at = when
        for finding in audit.findings:
            finding.raised_at = when
    db.session.flush()
    for n in range(nonconformities):
        found = quality.open_nonconformity(unit.id, quality.Source(SOURCES[n % len(SOURCES)]), quality.Found(
            title=f"Nonconformity {n + 1}", found_on=today() - timedelta(days=days * n // nonconformities)),
            found_by=qm)
        if n % 3 == 0:
            quality.raise_action(found, qm, title=f"Action {n + 1}", owner_id=examiner.id,
                                 due_on=today() + timedelta(days=30))
    scopes = people.scopes(unit.id)
    for n in range(40):
        proficiency.record_result(unit.id, qm, proficiency.Result(
            provider="Forensic PT Ltd", scheme="Firearms ID", round=f"R{n}", participant_id=examiner.id,
            scope_id=scopes[n % len(scopes)].id, performed_on=today() - timedelta(days=days * n // 40),
            reported_result="Identification", z_score=(n % 7) * 0.6))
    for n in range(complaints):  # a third still awaiting a decision, the rest rejected as outside the unit's work
        record = complaint_services.receive(unit.id, qm, complaint_services.Received(
            complainant=f"Complainant {n + 1}", channel="letter", description=f"Complaint {n + 1}.",
            received_on=today() - timedelta(days=days * n // max(complaints, 1))))
        if n % 3:
            complaint_services.reject(record, qm, "Not about the unit's work.")
    for n in range(500):
        register_case(unit_id=unit.id, actor=qm, case_number=f"C-{n}", offence_type="Robbery",
                      opened_on=today() - timedelta(days=days * n // 500))
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count(Audit.id))) == audits
    return unit.id, qm.id


def time_render(unit_id: int, qm_id: int, start, end, runs: int, keep: Path | None) -> list[float]:  # type: ignore[no-untyped-def]
    from qms.auth.models import User
    from qms.extensions import db
    from qms.quality import review

    found = review.create_review(unit_id, db.session.get(User, qm_id), title="Bench review", period_start=start,
                                 period_end=end)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        pdf = review.render_minutes(found, review.gather(unit_id, start, end))
        times.append(time.perf_counter() - began)
    if keep is not None:
        keep.write_bytes(pdf)
    return times


def time_manual(unit_id: int, runs: int) -> list[float]:
    from qms.auth.models import Unit
    from qms.extensions import db
    from qms.quality import manual

    times = []
    for _ in range(runs):
        db.session.expire_all()
        began = time.perf_counter()
        manual.manual_pdf(db.session.get(Unit, unit_id))
        times.append(time.perf_counter() - began)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--nonconformities", type=int, default=1000)
    parser.add_argument("--audits", type=int, default=60)
    parser.add_argument("--complaints", type=int, default=200)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="write the last 5-year PDF here")
    args = parser.parse_args(argv)
    from qms.cli import upgrade_database
    from qms.db import today

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp))
        with app.app_context():
            upgrade_database()
            began = time.perf_counter()
            unit_id, qm_id = build(args.nonconformities, args.audits, args.years, args.complaints)
            print(f"records: {args.nonconformities} nonconformities, {args.complaints} complaints, {args.audits} "
                  f"audits, 40 proficiency results, 500 cases over {args.years} years "
                  f"(built in {time.perf_counter() - began:.1f} s)")
            for label, start in ((f"{args.years} years", today() - timedelta(days=365 * args.years)),
                                 ("last year", today() - timedelta(days=365))):
                times = time_render(unit_id, qm_id, start, today(), args.runs,
                                    args.keep if label != "last year" else None)
                print(f"minutes PDF, period {label}: median {statistics.median(times):.2f} s, "
                      f"worst {max(times):.2f} s over {args.runs} runs (target < 5 s)")
            times = time_manual(unit_id, args.runs)
            print(f"quality manual PDF of the same unit: median {statistics.median(times):.2f} s, "
                  f"worst {max(times):.2f} s over {args.runs} runs (target < 5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
