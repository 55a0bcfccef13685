"""Firearm register: time to match one new record against a register of 1,000,000 firearms (target: 200 ms).

    python bench/bench_firearm_matching.py                      # 1,000,000 records, 51 runs of each kind
    python bench/bench_firearm_matching.py --records 100000 --runs 21

The register is built in a temporary SQLite database (migrated by `qms.cli.upgrade_database`) by bulk
inserts of generated records: 30 makes, serials of 6 to 10 characters, 2 % partly obliterated (one or
two unknown positions), 3 % without a serial; their keys are computed by `qms.firearms.matching.keys_of`
as the services do; each has one status event in the last five years (35 % stolen or lost reports, the
others seizures, findings and surrenders). Each run adds one new record with an event 30 days ago
(a seizure; a stolen report for the records without a serial) through the ORM (not timed), then times
`qms.firearms.leads.match` on it, which queries the candidates, checks them and adds the leads, and
rolls back. Kinds of new record:

- exact: the serial of a register record, retyped with look-alike characters (O for 0, I for 1...);
- wildcard: the serial of a register record with one or two positions unreadable ("?");
- no serial: a make, model and calibre of the register, reported stolen (matched by profile).

The script prints the median and worst time of each kind (after one run that warms the caches), the
leads found, and SQLite's query plans. `--keep DIR` keeps the built database there and reuses it.
"""
from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
MAKES = [("Zastava", "M70", "7.62x39 mm"), ("Zastava", "CZ 99", "9x19 mm"), ("Zastava", "M57", "7.62x25 mm"),
         ("Glock", "17", "9x19 mm"), ("Glock", "19", "9x19 mm"), ("CZ", "75", "9x19 mm"), ("Beretta", "92", "9x19"),
         ("Walther", "P99", "9x19"), ("Tokarev", "TT-33", "7.62x25"), ("Makarov", "PM", "9x18"),
         ("Smith & Wesson", "Model 10", ".38 Special"), ("Colt", "M1911", ".45 ACP"), ("Heckler & Koch", "USP", "9x19"),
         ("SIG Sauer", "P226", "9x19"), ("Browning", "HP", "9x19"), ("Kalashnikov", "AKM", "7.62x39"),
         ("Mauser", "98k", "7.92x57"), ("Remington", "870", "12 gauge"), ("Baikal", "MP-153", "12 gauge"),
         ("Zoraki", "914", "9 mm P.A.K."), ("Ekol", "Firat", "9 mm P.A.K."), ("Crvena Zastava", "M48", "7.92x57"),
         ("Arsenal", "SLR-95", "7.62x39"), ("FN", "Five-seveN", "5.7x28"), ("Taurus", "PT92", "9x19"),
         ("Ruger", "10/22", ".22 LR"), ("Mossberg", "500", "12 gauge"), ("Steyr", "M9", "9x19"),
         ("Tanfoglio", "Force", "9x19"), ("Unknown", "FGC-9", "9x19")]
LOOK = {"0": "O", "1": "I", "5": "S", "8": "B", "2": "Z"}


def _app(instance: Path):  # type: ignore[no-untyped-def]
    from qms import create_app

    return create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite3'}",
                       "SECRET_KEY": "bench-secret-key", "PASSWORD_HASH_FAST_FOR_TESTS": True,
                       "MFA_REQUIRED": False})


def _serial(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(6, 10)))


def _obliterate(rng: random.Random, serial: str) -> str:
    chars = list(serial)
    for position in rng.sample(range(len(chars)), rng.choice((1, 1, 2))):
        chars[position] = "?"
    return "".join(chars)


def build(records: int, rng: random.Random) -> tuple[int, list[tuple[str, str, str, str]]]:
    """One unit's register by bulk insert; the unit id and every record's (serial, make, model, calibre)."""
    from sqlalchemy import insert

    from qms.auth import services as accounts
    from qms.db import utcnow
    from qms.extensions import db
    from qms.firearms.matching import keys_of
    from qms.firearms.models import Firearm

    unit = accounts.create_unit(code="BENCH", name="Firearms register (bench)")
    db.session.commit()
    now, kept, batch = utcnow(), [], []
    for n in range(records):
        make, model, calibre = MAKES[n % len(MAKES)]
        roll = rng.random()
        serial = "" if roll < 0.03 else _obliterate(rng, _serial(rng)) if roll < 0.05 else _serial(rng)
        keys = keys_of(serial_number=serial, make=make, model=model, calibre=calibre)
        batch.append({"unit_id": unit.id, "make": make, "model": model, "firearm_type": "pistol", "calibre": calibre,
                      "serial_number": serial, "other_markings": "", "country_of_manufacture": "",
                      "printed": "", "conversion": "", "home_made": False, "modified": False, "description": "",
                      "created_at": now, **vars(keys)})
        kept.append((serial, make, model, calibre))
        if len(batch) == 50_000:
            db.session.execute(insert(Firearm), batch)
            batch.clear()
    if batch:
        db.session.execute(insert(Firearm), batch)
    _events(unit.id, records, rng)
    db.session.commit()
    db.session.execute(db.text("ANALYZE"))
    return unit.id, kept


def _events(unit_id: int, records: int, rng: random.Random) -> None:
    """One status event per record (the table is new: its records are numbered 1 to `records`)."""
    from sqlalchemy import insert

    from qms.db import utcnow
    from qms.extensions import db
    from qms.firearms.models import FirearmEvent

    kinds = ["reported_stolen"] * 30 + ["reported_lost"] * 5 + ["seized"] * 45 + ["found"] * 10 + ["surrendered"] * 10
    now, batch = utcnow(), []
    for firearm_id in range(1, records + 1):
        kind = rng.choice(kinds)
        report = kind.startswith("reported")
        batch.append({"unit_id": unit_id, "firearm_id": firearm_id, "kind": kind,
                      "occurred_on": date.today() - timedelta(days=rng.randint(0, 5 * 365)),
                      "place": "Skopje", "reporter": "Owner" if report else "", "notes": "",
                      "police_reference": "SVR 1/2026" if report else "", "recorded_at": now})
        if len(batch) == 50_000:
            db.session.execute(insert(FirearmEvent), batch)
            batch.clear()
    if batch:
        db.session.execute(insert(FirearmEvent), batch)


def _new_record(kind: str, rng: random.Random, register: list[tuple[str, str, str, str]]):  # type: ignore[no-untyped-def]
    from qms.firearms import services

    full = [r for r in rng.sample(register, 50) if r[0] and "?" not in r[0]]
    serial, make, model, calibre = full[0]
    if kind == "exact":
        serial = "".join(LOOK.get(c, c) for c in serial)
    elif kind == "wildcard":
        serial = _obliterate(rng, serial)
    else:
        serial = ""
    return services.Details(firearm_type="pistol", make=make, model=model, calibre=calibre, serial_number=serial)


def measure(kind: str, runs: int, unit_id: int, actor, rng: random.Random,  # type: ignore[no-untyped-def]
            register: list[tuple[str, str, str, str]]) -> tuple[list[float], list[int], str]:
    from qms.extensions import db
    from qms.firearms import leads, services
    from qms.firearms.models import Firearm

    times, found, slowest = [], [], ""
    for run in range(runs + 1):  # the first run warms the statement caches and is not counted
        record = Firearm(unit_id=unit_id, created_by_id=actor.id)
        services._apply(record, _new_record(kind, rng, register), unit_id)
        db.session.add(record)
        db.session.flush()
        services._record_event(record, actor, services.EventInput(
            kind="reported_stolen" if kind == "no serial" else "seized", occurred_on=date.today() - timedelta(days=30),
            place="Skopje", reporter="Owner", police_reference="SVR 1/2026"))
        began = time.perf_counter()
        made = leads.match(record)
        if run:
            times.append(time.perf_counter() - began)
            found.append(len(made))
            slowest = record.serial_number if times[-1] == max(times) else slowest
        db.session.rollback()
    return times, found, slowest


def _reuse():  # type: ignore[no-untyped-def]
    """The unit, its records' (serial, make, model, calibre) and the examiner of a database built before."""
    from sqlalchemy import select

    from qms.auth.models import Unit, User
    from qms.extensions import db
    from qms.firearms.models import Firearm

    unit = db.session.scalar(select(Unit).where(Unit.code == "BENCH"))
    rows = db.session.execute(select(Firearm.serial_number, Firearm.make, Firearm.model, Firearm.calibre)
                              .where(Firearm.unit_id == unit.id)).tuples().all()
    return unit.id, rows, db.session.scalar(select(User).where(User.username == "examiner"))


def plans(unit_id: int) -> list[str]:
    """SQLite's plan for each candidate query of a full and of a partial key."""
    from sqlalchemy.dialects import sqlite

    from qms.extensions import db
    from qms.firearms import matching

    lines = []
    statements = []
    original = db.session.execute

    def capture(stmt, *args, **kwargs):  # type: ignore[no-untyped-def]
        statements.append(stmt)
        return original(stmt, *args, **kwargs)

    db.session.execute = capture  # type: ignore[method-assign]
    try:
        matching.serial_matches(unit_id, "1234AB78")
        matching.serial_matches(unit_id, "1234?B78")
    finally:
        db.session.execute = original  # type: ignore[method-assign]
    for stmt in statements:
        compiled = stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
        rows = db.session.execute(db.text(f"EXPLAIN QUERY PLAN {compiled}")).all()
        lines.append("; ".join(row[-1] for row in rows))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=51)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the built database in this directory and reuse it when it is there")
    args = parser.parse_args(argv)
    from qms.auth import services as accounts
    from qms.auth.models import Role, Unit
    from qms.cli import upgrade_database
    from qms.extensions import db

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        instance = args.keep or Path(tmp)
        reuse = (instance / "bench.sqlite3").exists()
        app = _app(instance)
        with app.app_context():
            if reuse:
                unit_id, register, actor = _reuse()
                print(f"register: {len(register):,} firearms in one unit (reused from {instance})")
            else:
                upgrade_database()
                began = time.perf_counter()
                unit_id, register = build(args.records, rng)
                print(f"register: {args.records:,} firearms in one unit (built in {time.perf_counter() - began:.1f} s)")
                actor = accounts.create_user(username="examiner", full_name="Examiner", password="bench-passphrase-18",
                                             unit=db.session.get(Unit, unit_id), roles=(Role.EXAMINER,))
                db.session.commit()
            # The bench keeps the register's 1,000,000 serials in memory to draw new records from; a full
            # garbage collection would walk them all (~250 ms) in the middle of a timed run. A server holds
            # no such list: it is frozen out of the collector's sight.
            gc.freeze()
            for kind in ("exact", "wildcard", "no serial"):
                times, found, slowest = measure(kind, args.runs, unit_id, actor, rng, register)
                print(f"{kind}: median {statistics.median(times) * 1000:.1f} ms, worst {max(times) * 1000:.1f} ms "
                      f"(serial {slowest!r}) over {args.runs} runs; leads per record: median "
                      f"{statistics.median(found):g}, most {max(found)}")
            for line in plans(unit_id):
                print(f"plan: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
