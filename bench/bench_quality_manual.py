"""Quality manual figures: time to build and render the quality-manual PDF of the demo unit.

    python bench/bench_quality_manual.py                 # 5 runs on the demo unit FC-MOI
    python bench/bench_quality_manual.py --runs 9 --keep manual.pdf

The demo data set (`qms.demo.seed_demo`, as `qms demo` makes it) is seeded in a temporary SQLite database
migrated by `qms.cli.upgrade_database`; its unit FC-MOI has the demo SOPs, personnel files, equipment,
audits, evidence and quality records, and two policy statements. Each run builds the manual from the
records (every ISO/IEC 17020 clause with its SOPs in force and the records that evidence it) and renders
the PDF (WeasyPrint), as the page's download and `issue_revision` do; the script prints the median and
worst time, the clauses, the gaps and the pages. Target: under 5 s.
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchapp import bench_app  # noqa: E402


def _app(instance: Path):  # type: ignore[no-untyped-def]
    return bench_app(instance)


def time_render(unit_code: str, runs: int, keep: Path | None) -> tuple[list[float], bytes]:
    """Times of `runs` renders of the unit's manual (each from a cleared session) and the last PDF."""
    from sqlalchemy import select

    from qms.auth.models import Unit
    from qms.extensions import db
    from qms.quality import manual

    times, pdf = [], b""
    for _ in range(runs):
        db.session.expire_all()
        unit = db.session.scalar(select(Unit).where(Unit.code == unit_code))
        began = time.perf_counter()
        pdf = manual.manual_pdf(unit)
        times.append(time.perf_counter() - began)
    if keep is not None:
        keep.write_bytes(pdf)
    return times, pdf


def _pages(pdf: bytes) -> str:
    """The page count as pdfinfo (poppler-utils) reads it, or "?" without it."""
    if shutil.which("pdfinfo") is None:
        return "?"
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    found = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
    return found.group(1) if found else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--unit", default="FC-MOI", help="the demo unit whose manual is rendered")
    parser.add_argument("--keep", type=Path, default=None, help="write the last PDF here")
    args = parser.parse_args(argv)
    from sqlalchemy import select

    from qms.auth.models import Unit
    from qms.cli import upgrade_database
    from qms.demo import seed_demo
    from qms.extensions import db
    from qms.quality import manual

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(Path(tmp))
        with app.app_context():
            upgrade_database()
            began = time.perf_counter()
            seed_demo()
            unit = db.session.scalar(select(Unit).where(Unit.code == args.unit))
            built = manual.build(unit)
            print(f"demo data set seeded in {time.perf_counter() - began:.1f} s; manual of {args.unit}: "
                  f"{len(built.clauses)} clauses, {len(built.gaps)} gaps, "
                  f"{sum(bool(entry.sops) for entry in built.clauses)} covered by an SOP, "
                  f"{len(built.authorisations)} scopes of authorisation")
            began = time.perf_counter()
            manual.manual_pdf(unit)  # the first render of the process also loads fonts and fills WeasyPrint's caches
            first = time.perf_counter() - began
            times, pdf = time_render(args.unit, args.runs, args.keep)
            print(f"quality manual PDF: median {statistics.median(times):.2f} s, worst {max(times):.2f} s over "
                  f"{args.runs} runs, first render of the process {first:.2f} s ({_pages(pdf)} pages, "
                  f"{len(pdf) / 1024:.0f} KiB; target < 5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
