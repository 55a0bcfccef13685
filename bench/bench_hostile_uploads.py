"""Time to refusal and peak memory growth for every hostile file on every upload route (issue 13).

Run from the project root::

    python bench/bench_hostile_uploads.py              # 5 runs of each route x file
    python bench/bench_hostile_uploads.py --runs 9

A fresh migrated SQLite database and instance folder in a temporary directory; the application
runs in this process and is driven by Flask test clients, exactly as in
tests/qms/test_hostile_uploads.py (whose routes, set-up and generator `tests.hostile` are reused).
Each upload of each hostile file is sent `--runs` times; the table gives the median and maximum
wall time from the request to the refusal, and the largest growth of the process's peak resident
memory during one upload (VmHWM reset by writing 5 to /proc/self/clear_refs before each send,
compared with VmRSS just before it). Building a signed package around a hostile original is not
timed. Targets: every refusal under 0.5 s, every growth under 100 MiB; the exit status is 1 when
one is missed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qms import create_app  # noqa: E402
from tests.conftest import _base_config, _migrate  # noqa: E402
from tests.hostile import hostile_scans  # noqa: E402
from tests.qms.test_hostile_uploads import ROUTES, MiB, open_routes, peak_growth  # noqa: E402

TARGET_SECONDS = 0.5
TARGET_GROWTH = 100 * MiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="sends of each file to each route (default 5)")
    args = parser.parse_args()
    files = hostile_scans()  # built once, before anything is measured
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        config = _base_config(Path(folder) / "instance", f"sqlite:///{Path(folder) / 'qms.sqlite3'}")
        config["SEARCH_PROCESSES"] = 0
        _migrate(config)
        app = create_app(config)
        with app.app_context():
            routes = open_routes(app)
            rows = [_measure(routes, route, label, files, args.runs)
                    for route, spec in ROUTES.items() for label in spec.labels]
    _print(rows, args.runs)
    missed = [row for row in rows if row[4] >= TARGET_SECONDS or row[5] >= TARGET_GROWTH or not 400 <= row[2] < 500]
    print(f"\n{len(rows)} route x file pairs; slowest refusal {max(r[4] for r in rows) * 1000:.1f} ms, "
          f"largest peak growth {max(r[5] for r in rows) / MiB:.1f} MiB; "
          + ("every target met." if not missed else f"{len(missed)} missed a target."))
    return 1 if missed else 0


def _measure(routes, route: str, label: str, files, runs: int) -> tuple[str, str, int, float, float, int]:  # type: ignore[no-untyped-def]
    spec = ROUTES[route]
    name, data = spec.prepare(*files[label])
    times, growths, status = [], [], 0
    for _ in range(runs):
        started = time.perf_counter()
        response, growth = peak_growth(lambda: spec.send(routes, name, data))  # noqa: B023
        times.append(time.perf_counter() - started)
        growths.append(growth)
        status = response.status_code
    return route, label, status, statistics.median(times), max(times), max(growths)


def _print(rows: list[tuple[str, str, int, float, float, int]], runs: int) -> None:
    print(f"{'route':<24}{'hostile file':<22}{'status':>7}{'median ms':>11}{'max ms':>9}{'peak +MiB':>11}"
          f"   ({runs} runs each)")
    for route, label, status, median, worst, growth in rows:
        print(f"{route:<24}{label:<22}{status:>7}{median * 1000:>11.1f}{worst * 1000:>9.1f}{growth / MiB:>11.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
