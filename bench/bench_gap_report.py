"""Audit report figures: time and peak memory to build and render the PDF of a full ISO/IEC 17020 audit.

    python bench/bench_gap_report.py                 # 5 renders of the full audit
    python bench/bench_gap_report.py --runs 10 --findings 40 --keep report.pdf

The audit is made through the application's own services in a temporary SQLite database
(migrated by `qms.cli.upgrade_database`): every assessable sub-clause of ISO/IEC 17020 for a
type A body on the checklist, a result with an evidence note for each (Cyrillic and Albanian
text among them), some not applicable with a justification, 40 findings each with a corrective
action that has a correction, root cause and plan, and effective SOPs covering half of the
clauses. Each run then builds the report from the database and renders the PDF; the script
prints the median and worst time, the peak Python allocation (tracemalloc, measured on a
separate run because tracing slows Python down) and the process's peak RSS, then the time of the
CSV and XLSX exports of the same checklist. Target: under 5 s for the PDF.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchapp import bench_app  # noqa: E402

PASSWORD = "report-figures-passphrase-1"
NOTES = ("Записник за увид 14/2026 прегледан; потписи и датуми усклађени.",
         "Procedura u zbatua; dëshmitë u kontrolluan në çdo rast.",
         "Training records for all six CSI officers seen, each with a dated competence assessment.")


def _app(instance: Path):  # type: ignore[no-untyped-def]
    return bench_app(instance)


def _people(unit):  # type: ignore[no-untyped-def]
    from qms.auth import services as accounts
    from qms.auth.models import Role

    def person(username: str, name: str, *roles: Role):  # type: ignore[no-untyped-def]
        return accounts.create_user(username=username, full_name=name, password=PASSWORD, unit=unit, roles=roles)

    return (person("qm", "Марија Петровска", Role.QUALITY_MANAGER), person("lead", "Arben Gashi", Role.AUDITOR),
            person("auditor2", "Ana Kovač", Role.AUDITOR), person("examiner", "Jovan Ilić", Role.EXAMINER))


def _sops(unit, qm, examiner, requirement_ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    from qms.documents import services as documents

    for number, start in enumerate(range(0, len(requirement_ids), 6), start=1):
        sop = documents.create_sop(unit_id=unit.id, code=f"CSI-SOP-{number:03d}", title=f"Procedure {number}",
                                   discipline="quality management", author=qm, owner_id=qm.id,
                                   content_markdown=f"# Procedure {number}\n",
                                   requirement_ids=requirement_ids[start:start + 3])
        documents.submit(sop.revisions[0], qm)
        documents.approve(sop.revisions[0], examiner, password=PASSWORD)


def _result_for(position: int) -> str:
    from qms.audits.models import Result

    if position % 20 == 0:
        return Result.NOT_APPLICABLE.value
    cycle = (Result.CONFORMING, Result.CONFORMING, Result.PARTIALLY_CONFORMING, Result.NON_CONFORMING,
             Result.CONFORMING, Result.CONFORMING)
    return cycle[position % len(cycle)].value


def build_full_audit(findings: int) -> int:
    """The full audit, through the services; returns its id."""
    from qms.audits import services
    from qms.audits.models import Grade, Result, StepKind
    from qms.auth import services as accounts
    from qms.extensions import db

    unit = accounts.create_unit(code="BENCH", name="Forensic Centre (bench)")
    qm, lead, auditor2, examiner = _people(unit)
    import audits

    ids = [r.id for r in audits.load_catalogue("iso17020-2012").assessable("A")]
    _sops(unit, qm, examiner, ids)
    plan = services.AuditPlan(title="Full ISO/IEC 17020 internal audit", planned_start=date.today(),
                              planned_end=date.today() + timedelta(days=3), lead_auditor_id=lead.id,
                              checklist_template="full-17020-internal-audit", auditee="Quality manager",
                              areas="All processes", team=((auditor2.id, "auditor"),))
    audit = services.create_audit(plan, unit_id=unit.id, actor=qm)
    services.start_audit(audit, lead)
    nonconforming = []
    for item in audit.items:
        value = _result_for(item.position)
        justification = "No type B or C activity in this unit." if value == Result.NOT_APPLICABLE.value else ""
        services.record_result(item, lead, result=value, evidence_note=NOTES[item.position % 3],
                               justification=justification)
        if value in (Result.NON_CONFORMING.value, Result.PARTIALLY_CONFORMING.value):
            nonconforming.append(item)
    grades = (Grade.MAJOR, Grade.MINOR, Grade.MINOR, Grade.OBSERVATION)
    for number in range(findings):
        item = nonconforming[number % len(nonconforming)]
        finding = services.raise_finding(item, lead, grade=grades[number % 4].value,
                                         statement=f"Finding {number + 1}: records incomplete for {item.clause}.",
                                         evidence="Case files 2026/101 to 2026/120 sampled.")
        action = services.raise_action(finding, lead, title=f"Complete the records of {item.clause}",
                                       owner_id=examiner.id, due_on=date.today() + timedelta(days=30 + number))
        services.record_step(action, examiner, kind=StepKind.CORRECTION.value, text="Missing records completed.")
        services.record_step(action, examiner, kind=StepKind.ROOT_CAUSE.value, method="five_whys",
                             text="The form has no field for it; nobody checks it at case closure.")
        services.record_step(action, examiner, kind=StepKind.ACTION_PLAN.value,
                             text="Add the field to the form and a check at case closure; train all staff.")
    db.session.commit()
    return audit.id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--findings", type=int, default=40)
    parser.add_argument("--keep", type=Path, help="write the last PDF here")
    args = parser.parse_args(argv)

    from qms.cli import upgrade_database

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp))
        with app.app_context():
            upgrade_database()
            started = time.perf_counter()
            audit_id = build_full_audit(args.findings)
            print(f"setup: full audit built through the services in {time.perf_counter() - started:.1f} s")
            _measure(audit_id, args)
    return 0


def _render(audit_id: int) -> bytes:
    from qms.audits.models import Audit
    from qms.audits.report import gap_report_pdf
    from qms.extensions import db

    db.session.expunge_all()  # each run reads the database afresh, as a request would
    return gap_report_pdf(db.session.get(Audit, audit_id), generated_by="bench")


def _exports(audit_id: int) -> None:
    from qms.audits import exports
    from qms.audits.models import Audit
    from qms.extensions import db

    for name, export in (("CSV", exports.checklist_csv), ("XLSX", exports.checklist_xlsx)):
        db.session.expunge_all()
        started = time.perf_counter()
        data = export(db.session.get(Audit, audit_id))
        print(f"export: checklist {name} in {time.perf_counter() - started:.2f} s ({len(data) / 1024:.0f} KiB)")


def _measure(audit_id: int, args: argparse.Namespace) -> None:
    from qms.audits.models import Audit
    from qms.extensions import db

    audit = db.session.get(Audit, audit_id)
    print(f"audit: {len(audit.items)} checklist items, {len(audit.findings)} findings, "
          f"{sum(len(f.actions) for f in audit.findings)} corrective actions")
    pdf = _render(audit_id)  # warm-up: imports, fonts, template compilation
    times, cpu = [], []
    for _ in range(args.runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        pdf = _render(audit_id)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    tracemalloc.start()
    _render(audit_id)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"render: median {statistics.median(times):.2f} s, worst {max(times):.2f} s over {args.runs} runs "
          f"(build from the database + charts + WeasyPrint); CPU median {statistics.median(cpu):.2f} s; "
          f"PDF {len(pdf) / 1024:.0f} KiB")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} during the runs")
    print(f"memory: peak Python allocation {peak / 2**20:.0f} MiB (tracemalloc, one render); "
          f"peak RSS of the process {rss_mb:.0f} MiB")
    print(f"target: under 5 s -> {'met' if statistics.median(times) < 5 else 'NOT met'}")
    _exports(audit_id)
    if args.keep:
        args.keep.write_bytes(pdf)
        print(f"wrote {args.keep}")


if __name__ == "__main__":
    raise SystemExit(main())
