"""Chain-of-custody figures: verification throughput over N events, and the item page with 1,000 events.

    python bench/bench_custody.py                                  # SQLite, 1,000,000 events
    python bench/bench_custody.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/bench_custody.py --events 100000                  # quicker

The events are bulk-loaded with correct hash chains (computed with the application's own hash
function, then inserted with executemany in batches), spread over items of 100 events, plus one
item with 1,000 events for the page. On PostgreSQL a fresh database `qms_bench_custody` is created
beside the one named in the URL. Prints one line per figure.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASSWORD = "custody-figures-passphrase-1"


def _database(url: str | None, instance: Path) -> str:
    if not url:
        return f"sqlite:///{instance / 'bench.sqlite3'}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "qms_bench_custody" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "qms_bench_custody"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/qms_bench_custody"


def _load(connection: sa.Connection, *, unit_id: int, case_id: int, user_id: int, items: int, per_item: int,
          big_item_events: int, batch: int = 20_000) -> tuple[int, int, float]:
    from qms.evidence.chain import chain_rows
    from qms.evidence.models import CustodyEvent, Item

    items_table, events_table = Item.__table__, CustodyEvent.__table__
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    sizes = [big_item_events] + [per_item] * items
    item_rows = [{"unit_id": unit_id, "case_id": case_id, "exhibit_number": f"B{i}", "item_type": "cartridge_case",
                  "description": "bench", "make": "", "model": "", "serial_number": "", "calibre": "9 mm",
                  "packaging": "", "collected_place": "", "collected_by_id": user_id, "collected_at": base,
                  "label_code": f"BENCH{i:09d}", "created_at": base, "head_seq": 0, "head_hash": "0" * 64,
                  "state": "in_custody", "holder_id": user_id, "seal_number": "", "sealed": False}
                 for i in range(len(sizes))]
    connection.execute(sa.insert(items_table), item_rows)
    ids = list(connection.scalars(sa.select(items_table.c.id).order_by(items_table.c.id)))
    kinds = ["examined", "sealed", "seal_broken", "resealed", "photographed"]
    started, pending, heads, total = time.perf_counter(), [], [], 0
    for item_id, size in zip(ids, sizes, strict=True):
        rows = [{"unit_id": unit_id, "item_id": item_id, "seq": seq,
                 "kind": kinds[seq % 5] if seq > 1 else "collected",
                 "occurred_at": base + timedelta(minutes=seq), "utc_offset_minutes": 60,
                 "recorded_at": base + timedelta(minutes=seq, seconds=1), "actor_id": user_id, "from_user_id": None,
                 "to_user_id": None, "witness_id": None, "location_id": None, "seal_number": f"S-{seq}",
                 "refers_to_seq": None, "notes": f"bench event {seq} of item {item_id}",
                 "details": {"parties": {"actor": "bench (Bench User)"}}} for seq in range(1, size + 1)]
        rows = chain_rows(rows)
        heads.append({"b_id": item_id, "b_seq": size, "b_hash": rows[-1]["hash"]})
        pending.extend(rows)
        total += size
        if len(pending) >= batch:
            connection.execute(sa.insert(events_table), pending)
            pending = []
    if pending:
        connection.execute(sa.insert(events_table), pending)
    connection.execute(sa.update(items_table).where(items_table.c.id == sa.bindparam("b_id")).values(
        head_seq=sa.bindparam("b_seq"), head_hash=sa.bindparam("b_hash")), heads)
    return ids[0], total, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-item", type=int, default=100)
    parser.add_argument("--page-events", type=int, default=1000)
    parser.add_argument("--page-requests", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="PostgreSQL server URL (default: SQLite file)")
    args = parser.parse_args()

    from qms import create_app
    from qms.auth import services
    from qms.auth.models import Role
    from qms.cli import upgrade_database
    from qms.evidence import custody
    from qms.evidence.chain import verify_chains
    from qms.evidence.checkpoints import verify_all, write_checkpoint
    from qms.extensions import db

    instance = Path(tempfile.mkdtemp(prefix="bench-custody-"))
    url = _database(args.database_url, instance)
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "MFA_REQUIRED": False, "WTF_CSRF_ENABLED": False})
    engine_name = url.split(":", 1)[0]
    with app.app_context():
        upgrade_database()
        unit = services.create_unit(code="BENCH", name="Bench unit")
        user = services.create_user(username="bench", full_name="Bench User", password=PASSWORD, unit=unit,
                                    roles=(Role.EXAMINER,))
        case = custody.register_case(unit_id=unit.id, actor=user, case_number="BENCH-1", offence_type="bench",
                                     opened_on=date(2026, 1, 1))
        db.session.commit()
        items = max(0, (args.events - args.page_events) // args.per_item)
        with db.engine.begin() as connection:
            big_item, total, load_seconds = _load(connection, unit_id=unit.id, case_id=case.id, user_id=user.id,
                                                  items=items, per_item=args.per_item,
                                                  big_item_events=args.page_events)
        print(f"[{engine_name}] loaded {total:,} events in {items + 1:,} items: {load_seconds:.1f} s "
              f"({total / load_seconds:,.0f} events/s, hashes included)")
        if engine_name.startswith("postgresql"):
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE custody_event"))
        write_checkpoint(db.session, reason="bench")
        db.session.commit()

        for label, check in (("chains only", lambda c: verify_chains(c)), ("chains + checkpoint", verify_all)):
            with db.engine.connect() as connection:
                started = time.perf_counter()
                report = check(connection)
                seconds = time.perf_counter() - started
            chains = getattr(report, "chains", report)
            assert report.ok and chains.events_checked == total, "the loaded data must verify clean"
            print(f"[{engine_name}] verify {label}: {chains.events_checked:,} events in {seconds:.1f} s = "
                  f"{chains.events_checked / seconds:,.0f} events/s")

        client = app.test_client()
        assert client.post("/login", data={"username": "bench", "password": PASSWORD}).status_code == 302
        times = []
        for _ in range(args.page_requests):
            started = time.perf_counter()
            response = client.get(f"/evidence/items/{big_item}")
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200 and f"bench event {args.page_events} of item" in response.get_data(
                as_text=True)
        times.sort()
        print(f"[{engine_name}] item page with {args.page_events:,} events: median {statistics.median(times):.0f} ms, "
              f"p95 {times[int(len(times) * 0.95) - 1]:.0f} ms, max {times[-1]:.0f} ms "
              f"({args.page_requests} requests, test client, one process)")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
