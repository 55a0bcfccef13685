"""Exchange packages: time to export and to import N entries, package size, and the cost of refusing one.

Server A (its own SQLite database and instance folder) holds N entries made from the Fadul scans
(processed and indexed, without their searches); it exports them all in one package. Server B (a
second database and instance) trusts A's key and imports the package: limits, every SHA-256, the
canonical layout, the signature, decoding each surface, storing and indexing. Then the package with
one flipped byte is imported again, to time a refusal. Figures are medians over the repeats.
Finally the first few entries are searched on both servers and their rankings (entry uuids, order,
scores) compared: they must be identical.

    python bench/bench_exchange.py                 # 40 entries (the Fadul scans), 3 repeats, 5 searches
    python bench/bench_exchange.py --entries 10 --repeats 1 --searches 2
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FADUL = ROOT.parent / "shared" / "data" / "fadul"


def _app(instance: Path, name: str):  # type: ignore[no-untyped-def]
    from qms import create_app
    from qms.cli import upgrade_database

    config = {"INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'qms.sqlite3'}",
              "SECRET_KEY": "bench", "EXCHANGE_SERVER_ID": name, "SEARCH_PROCESSES": 0,
              "PASSWORD_HASH_FAST_FOR_TESTS": True}
    app = create_app(config)
    with app.app_context():
        upgrade_database()
    return app


def _people(code: str):  # type: ignore[no-untyped-def]
    from qms.auth import services as auth
    from qms.auth.models import Role
    from qms.extensions import db

    unit = auth.create_unit(code=code, name=f"Unit {code}")
    user = auth.create_user(username=f"exam-{code.lower()}", full_name=f"Examiner {code}",
                            password="bench-password-12345", unit=unit, roles=[Role.EXAMINER, Role.CSI_OFFICER])
    db.session.commit()
    return unit, user


def _entries(count: int, unit, user):  # type: ignore[no-untyped-def]
    """`count` entries of Fadul scans, processed and indexed (no search: that is not what is measured)."""
    from qms.comparisons import services, unit_index
    from qms.evidence import custody
    from qms.extensions import db

    scans = sorted(FADUL.glob("*.x3p"))
    entries = []
    for n in range(count):
        case = custody.register_case(unit_id=unit.id, actor=user, case_number=f"B-{n}", offence_type="Shooting",
                                     opened_on=date(2026, 11, 1))
        item = custody.register_item(case, actor=user, exhibit_number="1", item_type="cartridge_case",
                                     description="casing")
        path = scans[n % len(scans)]
        entry = services.add_entry(item, actor=user, data=path.read_bytes(), filename=path.name)
        unit_index.index_entry(entry, unit_index.processed_surface(entry))
        entries.append(entry)
    db.session.commit()
    return entries


def _ranking(entry):  # type: ignore[no-untyped-def]
    from qms.comparisons import jobs, unit_index

    return [(r.rank, r.hit.entry_id, r.hit.score, r.hit.high_cmc)
            for r in unit_index.search_entry(entry, executor=jobs.search_executor())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--searches", type=int, default=5, help="entries searched on both servers")
    args = parser.parse_args()
    if not FADUL.is_dir():
        sys.exit(f"the Fadul scans are not at {FADUL}")
    from qms.comparisons import exchange
    from qms.comparisons.exchange import PackageRefused
    from qms.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        app_a, app_b = _app(Path(folder) / "a", "server-a"), _app(Path(folder) / "b", "server-b")
        with app_a.app_context():
            unit_a, user_a = _people("A")
            entries = _entries(args.entries, unit_a, user_a)
            a_rankings = [_ranking(entry) for entry in entries[:args.searches]]
            public_pem = exchange.own_public_key()["pem"]
            exports = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                _, package = exchange.export_entries(entries, unit=unit_a, actor=user_a)
                db.session.commit()
                exports.append(time.perf_counter() - started)
        imports, refusals = [], []
        with app_b.app_context():
            for repeat in range(args.repeats):
                unit_b, user_b = _people(f"B{repeat}")
                exchange.add_partner_key(unit_id=unit_b.id, name="server A", key_text=public_pem, actor=user_b)
                db.session.commit()
                tampered = bytearray(package)
                tampered[len(package) // 2] ^= 1
                started = time.perf_counter()
                try:
                    exchange.import_package(bytes(tampered), unit=unit_b, actor=user_b)
                except PackageRefused:
                    refusals.append(time.perf_counter() - started)
                db.session.rollback()
                started = time.perf_counter()
                outcome = exchange.import_package(package, unit=unit_b, actor=user_b)
                db.session.commit()
                imports.append(time.perf_counter() - started)
                assert len(outcome.imported) == args.entries
                if repeat == 0:  # later units on server B get fresh index ids (B's database holds these)
                    b_rankings = [_ranking(entry) for entry in outcome.imported[:args.searches]]
    size = len(package)
    print(f"entries per package        {args.entries}")
    print(f"package size               {size / 1e6:.1f} MB ({size / args.entries / 1e3:.0f} kB per entry, "
          "processed surface + original)")
    print(f"export (sign, record)      {statistics.median(exports):.2f} s  "
          f"({statistics.median(exports) / args.entries * 1e3:.0f} ms per entry)")
    print(f"import (check, store, index) {statistics.median(imports):.2f} s  "
          f"({statistics.median(imports) / args.entries * 1e3:.0f} ms per entry)")
    print(f"refusal of a flipped byte  {statistics.median(refusals) * 1e3:.0f} ms (nothing stored)")
    same = sum(a == b for a, b in zip(a_rankings, b_rankings, strict=True))
    print(f"identical rankings A vs B  {same} of {len(a_rankings)} searches "
          f"(top {len(a_rankings[0]) if a_rankings else 0} candidates each)")


if __name__ == "__main__":
    main()
