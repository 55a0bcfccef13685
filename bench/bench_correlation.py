"""Upload to ranked candidates in the web application, and the correlation jobs the demo set-up sustains.

1. Latency: a unit's index of 10,000 entries (the 40 Fadul scans, the rest synthetic shots from
   `ballistics.synth`, 256 x 256 px at 6.25 µm, so stored at 128 x 128), the default configuration
   (one `qms worker` subprocess, SQLite queue and database, searches on a process pool over every
   core, shortlist 10, top 20). A Fadul scan is uploaded through the page (`POST
   /comparisons/entries/new`, Flask test client) and the clock runs until its job is done; the job's
   own stage timings are printed too. Several uploads, one after the other; medians. Two moments
   are timed: the ranked candidates visible (committed: what the entry page shows), and the job
   done (the review images of the first candidates made too).
2. Throughput: the demo set-up (`qms worker --workers 2`, as `qms demo` starts it) given N uploads at
   once (N = 1, 2, 4, 8 by default) on the same index: wall time until all are done, jobs per
   minute, and the slowest upload-to-candidates time. The rate it sustains is the jobs per minute at
   saturation; more simultaneous jobs only queue.

    python bench/bench_correlation.py                      # 10,000 entries, ~10 min on 2 cores
    python bench/bench_correlation.py --size 2000 --uploads 2 --concurrency 1 2
    python bench/bench_correlation.py --index-from /tmp/upload-index --concurrency   # latency only

`--index-from` copies an index built by `bench/bench_upload_search.py --work` into the unit instead
of building one (minutes at 10,000 entries); the Fadul scans get their database records under the
ids the copy holds them by. `QMS_SHARED_DATA` says where the Fadul scans are (default ../shared/data).
The worker runs the code of the checkout this script is in (run a copy of it in another checkout
to time that one).
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ballistics import index as ix  # noqa: E402
from ballistics.synth import firearm_signature, shot  # noqa: E402

FADUL = Path(os.environ.get("QMS_SHARED_DATA", ROOT.parent / "shared" / "data")) / "fadul"
PIXEL = 6.25e-6
PASSWORD = "timing-passphrase-correlation-1"


def _synthetic(count: int, shape: tuple[int, int], seed: int):  # type: ignore[no-untyped-def]
    signature, current = None, -1
    for number in range(count):
        firearm, s = divmod(number, 4)
        if firearm != current:
            signature, current = firearm_signature((seed, firearm), shape=shape, pixel_size=PIXEL), firearm
        draws = np.random.default_rng((seed, firearm, s, 1))
        surface = shot(signature, seed=(seed, firearm, s), rotation_deg=float(draws.uniform(-180, 180)),
                       marking=float(draws.uniform(0.6, 1.0)))
        yield ix.NewEntry(surface, file=f"synthetic-{number}", metadata={"firearm": f"S{firearm}"},
                          id=uuid.uuid4().hex)


def _app(instance: Path):  # type: ignore[no-untyped-def]
    from qms import create_app

    return create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                       "MFA_REQUIRED": False, "PASSWORD_HASH_FAST_FOR_TESTS": True})


def _examiner(unit):  # type: ignore[no-untyped-def]
    """The bench's examiner (also the unit's quality manager, to register the scanner), authorised for the
    gates an upload passes, as the operator's set-up command grants them (`qms authorise`)."""
    from qms.auth import services as accounts
    from qms.auth.models import Role
    from qms.people import services as people
    from qms.people.models import Gate

    examiner = accounts.create_user(username="bench", full_name="Bench Examiner", password=PASSWORD,
                                    unit=unit, roles=(Role.EXAMINER, Role.QUALITY_MANAGER))
    people.authorise_by_operator(unit.id, examiner, [Gate.EVIDENCE_CUSTODY.value, Gate.IMAGING.value,
                                                     Gate.COMPARISON.value], reason="bench set-up")
    return examiner


def _scanner(unit, examiner):  # type: ignore[no-untyped-def]
    """A calibrated 3D scanner in the unit's register: an upload names its imaging instrument."""
    from qms.equipment import services as equipment

    found = equipment.add(unit.id, examiner, equipment.Details(identifier="BENCH-SCAN", kind="3d_scanner",
                                                               calibration_interval_months=12))
    equipment.add_record(found, examiner, equipment.RecordInput(kind="calibration", result="pass",
                                                                performed_on=date.today() - timedelta(days=30)))
    return found


def _prepare(instance: Path, size: int, shape: tuple[int, int], casings: int,
             index_from: Path | None = None) -> dict[str, int]:
    """Database, an examiner, cases with casings, and the unit's index filled to `size` entries (or copied)."""
    from qms.auth import services as accounts
    from qms.cli import upgrade_database
    from qms.comparisons import services, unit_index
    from qms.evidence import custody
    from qms.extensions import db

    app = _app(instance)
    with app.app_context():
        upgrade_database()
        unit = accounts.create_unit(code="BENCH", name="Bench unit")
        examiner = _examiner(unit)
        device = _scanner(unit, examiner)
        case = custody.register_case(unit_id=unit.id, actor=examiner, case_number="BENCH/1", offence_type="Bench",
                                     opened_on=date(2026, 12, 1))
        items = [custody.register_item(case, actor=examiner, exhibit_number=str(n), item_type="cartridge_case",
                                       description=f"casing {n}") for n in range(casings)]
        db.session.commit()
        ids = {"unit": unit.id, "items": [i.id for i in items], "device": device.id}
        copied = {}
        if index_from is not None:
            t, target = time.perf_counter(), unit_index.unit_index_path(unit.id)
            shutil.copytree(index_from, target, ignore=shutil.ignore_patterns(".lock"))
            copied = {e.file: e.id for e in ix.open_index(target).entries() if e.file.startswith("Fadul")}
            print(f"index: {len(ix.open_index(target)):,} entries copied from {index_from} "
                  f"in {time.perf_counter() - t:.0f} s")
        fadul = sorted(FADUL.glob("Fadul *.x3p")) if FADUL.is_dir() else []
        for path in fadul:  # real scans in the database, as entries with their records
            entry = services.add_entry(items[0], actor=examiner, data=path.read_bytes(), filename=path.name,
                                       device_id=device.id, search=False)
            if path.name in copied:  # the copied index holds it already: the record names that copy
                entry.index_entry_id = copied[path.name]
            surface = unit_index.processed_surface(entry)  # kept, as a job keeps it
            if path.name not in copied:
                unit_index.index_entry(entry, surface)
        db.session.commit()
        if index_from is not None:
            db.engine.dispose()
            return ids
        index = unit_index.open_unit_index(unit.id)
        t = time.perf_counter()
        ix.add(index, _synthetic(size - len(fadul), shape, seed=11))
        print(f"index: {len(fadul)} Fadul + {size - len(fadul):,} synthetic {shape[0]}x{shape[1]} entries "
              f"built in {time.perf_counter() - t:.0f} s")
        db.engine.dispose()
    return ids


def _worker(instance: Path, workers: int, log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMS_")}
    env.update(QMS_INSTANCE_PATH=str(instance), QMS_SECRET_KEY="bench", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", "from qms.cli import main; main()", "worker", "--workers",
                             str(workers)], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=ROOT)


def _upload(client, ids: dict, n: int, scan: Path) -> int:  # type: ignore[no-untyped-def]
    response = client.post("/comparisons/entries/new", data={
        "item_id": str(ids["items"][n % len(ids["items"])]), "device_id": str(ids["device"]),
        "scan": (io.BytesIO(scan.read_bytes()), scan.name)}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


@dataclass
class Finished:
    ranked: float  # when its candidates were first committed (visible on the entry page)
    done: float  # when the job was done, review images made
    timings: dict


def _wait_done(app, entry_ids: list[int], timeout: float) -> dict[int, Finished]:  # type: ignore[no-untyped-def]
    """Poll until every entry's job is done; {entry id: when ranked, when done, job timings}."""
    from qms.comparisons.models import Candidate, CorrelationJob
    from qms.extensions import db

    ranked: dict[int, float] = {}
    finished: dict[int, Finished] = {}
    deadline = time.monotonic() + timeout
    while len(finished) < len(entry_ids) and time.monotonic() < deadline:
        with app.app_context():
            jobs = list(db.session.scalars(db.select(CorrelationJob).where(CorrelationJob.entry_id.in_(entry_ids))))
            with_candidates = set(db.session.scalars(db.select(Candidate.job_id).where(
                Candidate.job_id.in_([j.id for j in jobs])).distinct()))
            now = time.perf_counter()
            for job in jobs:
                if job.id in with_candidates or job.state == "done":
                    ranked.setdefault(job.entry_id, now)
                if job.entry_id not in finished and job.state in ("done", "failed"):
                    assert job.state == "done", job.error
                    finished[job.entry_id] = Finished(ranked[job.entry_id], now, dict(job.timings))
            db.session.remove()
        time.sleep(0.05)
    assert len(finished) == len(entry_ids), "jobs did not finish in time"
    return finished


def _client(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert client.post("/login", data={"username": "bench", "password": PASSWORD}).status_code == 302
    return client


def latency(instance: Path, ids: dict, uploads: int, log: Path) -> None:
    app = _app(instance)
    scans = [FADUL / f"Fadul {n}-{k}.x3p" for n in range(1, 11) for k in (1, 2)] if FADUL.is_dir() else []
    worker = _worker(instance, 1, log)
    try:
        client, ranked, done, stages = _client(app), [], [], []
        for n in range(uploads + 1):  # the first one warms the worker's process pool up
            scan = scans[n % len(scans)]
            start = time.perf_counter()
            entry_id = _upload(client, ids, n, scan)
            finished = _wait_done(app, [entry_id], 600)[entry_id]
            if n == 0:
                print(f"warm-up upload: {finished.done - start:.1f} s (starts the worker's process pool)")
                continue
            ranked.append(finished.ranked - start)
            done.append(finished.done - start)
            stages.append(finished.timings)
            print(f"  upload {n}: ranked candidates visible {ranked[-1]:.3f} s, job done {done[-1]:.3f} s; "
                  f"load average {os.getloadavg()[0]:.2f}")
        for label, times in (("upload to ranked candidates visible", ranked), ("upload to job done (images)", done)):
            print(f"{label}: median {statistics.median(times):.2f} s over {len(times)} uploads "
                  f"(min {min(times):.2f}, max {max(times):.2f})")
        for key in ("process_s", "index_s", "search_s", "ranked_s", "images_s", "total_s"):
            values = [s[key] for s in stages if key in s]
            if values:
                print(f"  job {key[:-2]:>8}: median {statistics.median(values):.2f} s")
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def throughput(instance: Path, ids: dict, levels: list[int], log: Path) -> None:
    app = _app(instance)
    scans = sorted(FADUL.glob("Fadul *.x3p"))
    worker = _worker(instance, 2, log)
    try:
        client = _client(app)
        _wait_done(app, [_upload(client, ids, 0, scans[0])], 600)  # warm-up
        for level in levels:
            start = time.perf_counter()
            entry_ids = [_upload(client, ids, n, scans[(n + 1) % len(scans)]) for n in range(level)]
            finished = _wait_done(app, entry_ids, 1800)
            wall = max(f.done for f in finished.values()) - start
            print(f"{level} simultaneous uploads on `qms worker --workers 2`: all done in {wall:.1f} s, "
                  f"{60 * level / wall:.1f} jobs/min, slowest upload-to-candidates {wall:.1f} s")
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="entries in the unit's index")
    parser.add_argument("--shape", type=int, default=256, help="side of the synthetic shots, pixels")
    parser.add_argument("--uploads", type=int, default=5, help="uploads timed for the latency")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--index-from", type=Path, help="copy this built index instead of building one")
    args = parser.parse_args()
    if not FADUL.is_dir():
        sys.exit(f"the Fadul scans are needed as queries: not found at {FADUL}")
    print(f"{os.cpu_count()} cores; Python {sys.version.split()[0]}; code from {ROOT}; "
          f"load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-correlation-") as folder:
        instance, log = Path(folder) / "instance", Path(folder) / "worker.log"
        ids = _prepare(instance, args.size, (args.shape, args.shape), casings=max(args.concurrency + [1]),
                       index_from=args.index_from)
        try:
            latency(instance, ids, args.uploads, log)
            if args.concurrency:
                throughput(instance, ids, args.concurrency, log)
        except BaseException:
            print(log.read_text()[-3000:])
            raise


if __name__ == "__main__":
    main()
