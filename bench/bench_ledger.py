"""Custody events per second with the per-commit signed log, against the same without it.

    python bench/bench_ledger.py                       # SQLite, 2,000 events per run
    python bench/bench_ledger.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/bench_ledger.py --events 5000 --repeat 3
    python bench/bench_ledger.py --dir /dev/shm         # instance on tmpfs: no disk fsync cost

One writer records examinations through the custody service (`custody.examine`), one commit per
event, as one API request would: with the ledger each commit also appends a leaf and a signed tree
head to the log and fsyncs it before the database commits. Each run starts from a fresh database
and instance (on PostgreSQL a database `qms_bench_ledger` beside the one named in the URL); runs
alternate between with and without so load on the machine hits both alike; the best run of each
is reported, then the time to verify the database against the log.

Beside each rate: the CPU time this process spent per event (the code's own cost, apart from
waiting for fsyncs, the database server and other load on the machine), and once the floors the
rate stands on: one round trip to the database (SELECT 1) and one fsync in the instance's folder.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASSWORD = "ledger-figures-passphrase-1"


def _database(url: str | None, instance: Path) -> str:
    if not url:
        return f"sqlite:///{instance / 'bench.sqlite3'}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "qms_bench_ledger" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "qms_bench_ledger"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/qms_bench_ledger"


@dataclass
class Run:
    rate: float  # events per second
    cpu_ms: float  # CPU milliseconds of this process per event
    verify_seconds: float | None  # to verify the database against the log (None without the ledger)
    round_trip_ms: float  # one SELECT 1


def run(*, ledger: bool, events: int, url: str | None, folder: str | None) -> Run:
    from qms import create_app
    from qms.auth import services
    from qms.auth.models import Role
    from qms.cli import upgrade_database
    from qms.evidence import custody
    from qms.extensions import db
    from qms.ledger import verify_instance

    instance = Path(tempfile.mkdtemp(prefix="bench-ledger-", dir=folder))
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": _database(url, instance),
                      "SECRET_KEY": "bench", "MFA_REQUIRED": False, "LEDGER_ENABLED": ledger,
                      "PASSWORD_HASH_FAST_FOR_TESTS": True})
    with app.app_context():
        upgrade_database()
        unit = services.create_unit(code="BENCH", name="Bench unit")
        user = services.create_user(username="bench", full_name="Bench User", password=PASSWORD, unit=unit,
                                    roles=(Role.EXAMINER,))
        case = custody.register_case(unit_id=unit.id, actor=user, case_number="L-1", offence_type="bench",
                                     opened_on=date(2026, 1, 1))
        items = [custody.register_item(case, actor=user, exhibit_number=str(n), item_type="bullet",
                                       description="bench") for n in range(10)]
        db.session.commit()
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(events):
            custody.examine(items[n % len(items)], actor=user, notes=f"examination {n}")
            db.session.commit()
        rate = events / (time.perf_counter() - started)
        cpu_ms = (time.process_time() - cpu) / events * 1000
        with db.engine.connect() as connection:
            started = time.perf_counter()
            for _ in range(200):
                connection.execute(sa.text("SELECT 1"))
            round_trip_ms = (time.perf_counter() - started) / 200 * 1000
        verify_seconds = None
        if ledger:
            started = time.perf_counter()
            with db.engine.connect() as connection:
                report = verify_instance(connection)
            verify_seconds = time.perf_counter() - started
            assert report.ok, report.lines()
        db.session.remove()
        db.engine.dispose()
    return Run(rate, cpu_ms, verify_seconds, round_trip_ms)


def append_only(*, commits: int, folder: str | None) -> float:
    """The log's own cost: commits per second of prepare (leaf, signed head, fsync) + outcome, no database."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from qms.ledger.store import Ledger

    key = Ed25519PrivateKey.generate()
    ledger = Ledger(Path(tempfile.mkdtemp(prefix="bench-ledger-log-", dir=folder)) / "ledger.jsonl", key, "k" * 64)
    leaf = "custody_event 1 1 1 " + "a" * 64 + " " + "b" * 64
    started = time.perf_counter()
    for _ in range(commits):
        ledger.acquire()
        transaction = ledger.prepare([leaf], committed=lambda leaves: True, adopt=lambda: [])
        ledger.finish(transaction, "c")
        ledger.release()
    return commits / (time.perf_counter() - started)


def fsync_ms(folder: str | None, count: int = 200) -> float:
    """One append + fsync of a small line, as the log does per commit (the disk's floor)."""
    path = Path(tempfile.mkdtemp(prefix="bench-fsync-", dir=folder)) / "probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(count):
            os.write(fd, b"x" * 300 + b"\n")
            os.fsync(fd)
        return (time.perf_counter() - started) / count * 1000
    finally:
        os.close(fd)
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: SQLite file)")
    parser.add_argument("--dir", default=None, help="where the instance (SQLite file, key, log) goes, e.g. /dev/shm "
                                                    "to take the disk's fsync time out of the figure")
    args = parser.parse_args()
    engine = "postgresql" if args.database_url else "sqlite"
    print(f"one fsync in {args.dir or tempfile.gettempdir()}: {fsync_ms(args.dir):.2f} ms; "
          f"the log alone (signed head + fsync per commit): "
          f"{append_only(commits=args.events, folder=args.dir):,.0f} commits/s")
    runs: dict[bool, list[Run]] = {True: [], False: []}
    for _ in range(args.repeat):
        for ledger in (False, True):
            result = run(ledger=ledger, events=args.events, url=args.database_url, folder=args.dir)
            runs[ledger].append(result)
            print(f"[{engine}] {'with' if ledger else 'without'} the ledger: {result.rate:,.0f} events/s, "
                  f"{result.cpu_ms:.2f} ms CPU per event in this process; "
                  f"a database round trip {result.round_trip_ms:.2f} ms")
    with_ = max(runs[True], key=lambda r: r.rate)
    without = max(runs[False], key=lambda r: r.rate)
    verify = min(r.verify_seconds for r in runs[True] if r.verify_seconds is not None)
    print(f"[{engine}] best of {args.repeat} x {args.events:,} events, one writer, one commit each: "
          f"without {without.rate:,.0f}/s ({without.cpu_ms:.2f} ms CPU/event), with the signed log "
          f"{with_.rate:,.0f}/s ({with_.cpu_ms:.2f} ms CPU/event) ({(1 - with_.rate / without.rate) * 100:+.1f} % "
          f"slower); verifying the database against the log: {verify:.2f} s")


if __name__ == "__main__":
    main()
