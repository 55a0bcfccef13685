"""Latency of the dashboard and the audit-trail list under load, on SQLite and on PostgreSQL.

For each database: a fresh instance directory, `qms init`, `qms demo --no-serve` (accounts),
10,000 audit-trail rows inserted for the demo unit FC-MOI, a production server (waitress with
threads, or gunicorn with 2 workers when asked and installed) on 127.0.0.1, a login as `quality`,
then a bounded load (N requests per page at concurrency C) from Python threads with
http.client keep-alive connections. Prints a table and writes bench/out/web.json.

    python bench/bench_web.py                       # both databases, waitress, 500 req/page at 8
    python bench/bench_web.py --db sqlite --requests 200
    python bench/bench_web.py --server gunicorn     # needs `pip install gunicorn`

PostgreSQL: the postgres user on 127.0.0.1:5432 (trust); the script creates and drops its own
database (qms_bench) through the maintenance database `test`. Everything stays on loopback.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOST = "127.0.0.1"
OUT = Path(__file__).resolve().parent / "out" / "web.json"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_DB = "qms_bench"
UNIT_CODE = "FC-MOI"
USERNAME = "quality"
FILTER = {"entity": "Item", "action": "update"}  # served by ix_audit_event_entity (entity, entity_id)
ENTITIES = ("Case", "Item", "CustodyEvent", "StorageLocation", "Revision", "Finding", "CorrectiveAction")
USERS = ("quality", "auditor", "examiner", "verifier", "csi")


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    marker: str  # text the page must contain, so an error page is never timed as a success


@dataclass
class Figures:
    database: str
    page: str
    path: str
    requests: int
    concurrency: int
    errors: int
    median_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float
    throughput_rps: float
    body_bytes: int


# --- set-up ----------------------------------------------------------------------------------

def _qms() -> list[str]:
    beside = Path(sys.executable).with_name("qms")
    found = str(beside) if beside.exists() else shutil.which("qms")
    return [found] if found else [sys.executable, "-c", "from qms.cli import main; main()"]


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, check=False, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database for the run; dropped afterwards whatever happens."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_DB}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def prepare(env: dict[str, str], rows: int) -> tuple[str, int]:
    """Migrate, seed the demo accounts, insert the trail rows; returns (password, unit id)."""
    _run([*_qms(), "init"], env)
    _run([*_qms(), "demo", "--no-serve"], env)
    accounts = json.loads((Path(env["QMS_INSTANCE_PATH"]) / "demo-accounts.json").read_text())
    password = next(a["password"] for a in accounts if a["username"] == USERNAME)
    unit_id = insert_trail_rows(env["QMS_DATABASE_URL"], rows)
    return password, unit_id


def insert_trail_rows(url: str, rows: int) -> int:
    """Plain SQL INSERTs into audit_event (append-only forbids only UPDATE and DELETE)."""
    import sqlalchemy as sa

    from qms.trail.models import AuditEvent

    rng = random.Random(20261123)
    engine = sa.create_engine(url)
    start = datetime.now(UTC) - timedelta(days=365)
    with engine.begin() as conn:
        unit_id = conn.execute(sa.text("SELECT id FROM unit WHERE code = :code"), {"code": UNIT_CODE}).scalar_one()
        user_ids = dict(conn.execute(sa.text("SELECT username, id FROM user_account")).all())
        batch = []
        for i in range(rows):
            entity, username = rng.choice(ENTITIES), rng.choice(USERS)
            action = rng.choices(("insert", "update", "delete"), weights=(5, 4, 1))[0]
            entity_id = str(rng.randint(1, rows // 10))
            old = {"status": rng.choice(("open", "in review", "closed")), "note": f"note {i}"}
            new = {"status": rng.choice(("open", "in review", "closed")), "note": f"note {i + 1}"}
            batch.append({
                "at": start + timedelta(seconds=i * 365 * 86400 // rows),
                "user_id": user_ids.get(username), "username": username, "unit_id": unit_id,
                "action": action, "entity": entity, "entity_id": entity_id,
                "before": None if action == "insert" else old, "after": None if action == "delete" else new,
                "reason": "bench" if action == "delete" else "", "request_id": secrets.token_hex(16),
                "ip": "127.0.0.1",
            })
        for chunk in range(0, rows, 1000):
            conn.execute(sa.insert(AuditEvent.__table__), batch[chunk:chunk + 1000])
    engine.dispose()
    return int(unit_id)


@contextmanager
def serve(env: dict[str, str], server: str, threads: int) -> Iterator[int]:
    port = _free_port()
    if server == "gunicorn":
        args = [sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", str(threads // 2 or 1),
                "--bind", f"{HOST}:{port}", "--log-level", "warning", "qms:create_app()"]
    else:
        args = [sys.executable, "-m", "waitress", f"--host={HOST}", f"--port={port}", f"--threads={threads}",
                "--ident=CSI-QMS", "--call", "qms:create_app"]
    log = open(Path(env["QMS_INSTANCE_PATH"]) / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_health(proc, port)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_for_health(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}; see server.log in the instance dir")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not answer /health within 60 s")


# --- login and load --------------------------------------------------------------------------

def log_in(port: int, password: str) -> str:
    """The session cookie of `quality`, after the login form (with its CSRF token) was posted."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = _session_cookie(response)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if match is None:
        raise SystemExit("no csrf_token hidden input on /login")
    body = urllib.parse.urlencode({"csrf_token": match.group(1), "username": USERNAME, "password": password})
    conn.request("POST", "/login", body=body, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    if response.status != 302 or response.getheader("Location", "").rstrip("/") not in ("", f"http://{HOST}:{port}"):
        raise SystemExit(f"login as {USERNAME} failed: HTTP {response.status} -> {response.getheader('Location')}")
    conn.close()
    return _session_cookie(response)


def _session_cookie(response: http.client.HTTPResponse) -> str:
    for header, value in response.getheaders():
        if header.lower() == "set-cookie" and value.startswith("session="):
            return value.split(";", 1)[0]
    raise SystemExit("the server set no session cookie")


def hammer(port: int, cookie: str, target: Target, *, requests: int, concurrency: int, warmup: int
           ) -> tuple[list[float], int, int, float]:
    """`requests` timed GETs at `concurrency` (after `warmup` untimed ones); returns latencies (s)."""
    todo = iter(range(warmup + requests))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    sizes: list[int] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        while True:
            with lock:
                n = next(todo, None)
            if n is None:
                break
            started = time.perf_counter()
            try:
                conn.request("GET", target.path, headers={"Cookie": cookie})
                response = conn.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
                with lock:
                    errors.append(repr(error))
                continue
            elapsed = time.perf_counter() - started
            ok = response.status == 200 and target.marker.encode() in body
            with lock:
                if not ok:
                    errors.append(f"HTTP {response.status}")
                elif n >= warmup:
                    latencies.append(elapsed)
                    sizes.append(len(body))
        conn.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        print(f"  {target.name}: {len(errors)} errors, first: {errors[0]}", file=sys.stderr)
    return latencies, len(errors), max(sizes, default=0), wall


def figures(database: str, target: Target, latencies: list[float], errors: int, size: int, wall: float,
            concurrency: int) -> Figures:
    ms = sorted(x * 1000 for x in latencies) or [float("nan")]
    p95 = statistics.quantiles(ms, n=100, method="inclusive")[94] if len(ms) > 1 else ms[0]
    return Figures(database=database, page=target.name, path=target.path, requests=len(latencies),
                   concurrency=concurrency, errors=errors, median_ms=round(statistics.median(ms), 2),
                   p95_ms=round(p95, 2), mean_ms=round(statistics.fmean(ms), 2), max_ms=round(ms[-1], 2),
                   throughput_rps=round(len(latencies) / wall, 1), body_bytes=size)


# --- one database ----------------------------------------------------------------------------

def bench_database(database: str, url: str | None, args: argparse.Namespace) -> list[Figures]:
    instance = Path(tempfile.mkdtemp(prefix=f"qms-bench-{database}-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMS_")}
    env.update(QMS_INSTANCE_PATH=str(instance), QMS_DATABASE_URL=url or f"sqlite:///{instance / 'qms.sqlite3'}",
               # the bench logs in with a password only, as in the demo; everything else is default
               QMS_MFA_REQUIRED="false")
    if args.engine_options:
        env["QMS_SQLALCHEMY_ENGINE_OPTIONS"] = args.engine_options
    try:
        print(f"[{database}] preparing {args.rows} trail rows in {instance} ...", flush=True)
        password, _ = prepare(env, args.rows)
        last_page = -(-(args.rows + 9) // 50)  # the demo's own 9 FC-MOI rows are on the trail too
        targets = [
            Target("dashboard", "/", "<h1>Dashboard</h1>"),
            Target("trail, first page", "/trail", "<h1>Audit trail</h1>"),
            Target("trail, filtered", "/trail?" + urllib.parse.urlencode(FILTER), "<h1>Audit trail</h1>"),
            Target("trail, last page", f"/trail?page={last_page}", "<h1>Audit trail</h1>"),
        ]
        results = []
        with serve(env, args.server, args.threads) as port:
            cookie = log_in(port, password)
            for target in targets:
                latencies, errors, size, wall = hammer(port, cookie, target, requests=args.requests,
                                                       concurrency=args.concurrency, warmup=args.warmup)
                results.append(figures(database, target, latencies, errors, size, wall, args.concurrency))
                print(f"[{database}] {target.name}: median {results[-1].median_ms} ms, "
                      f"p95 {results[-1].p95_ms} ms", flush=True)
        return results
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def _pg_sessions() -> int:
    """Connections opened to the bench database so far (pool churn shows here)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL) as conn:
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (PG_DB,)).fetchone()
    return int(row[0]) if row else -1


def _pg_version() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


def print_table(rows: list[Figures]) -> None:
    head = f"{'database':<11}{'page':<20}{'n':>6}{'err':>5}{'median ms':>11}{'p95 ms':>9}{'mean ms':>9}" \
           f"{'max ms':>9}{'req/s':>8}{'KiB':>7}"
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r.database:<11}{r.page:<20}{r.requests:>6}{r.errors:>5}{r.median_ms:>11.1f}{r.p95_ms:>9.1f}"
              f"{r.mean_ms:>9.1f}{r.max_ms:>9.1f}{r.throughput_rps:>8.1f}{r.body_bytes / 1024:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--server", choices=("waitress", "gunicorn"), default="waitress")
    parser.add_argument("--threads", type=int, default=8, help="server threads (gunicorn: split over 2 workers)")
    parser.add_argument("--rows", type=int, default=10_000, help="audit-trail rows to insert")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per page")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per page first")
    parser.add_argument("--engine-options", default="",
                        help="JSON for QMS_SQLALCHEMY_ENGINE_OPTIONS, e.g. "
                             '\'{"pool_pre_ping": true, "pool_size": 10}\'')
    args = parser.parse_args()
    if args.server == "gunicorn" and shutil.which("gunicorn") is None:
        parser.error("gunicorn is not installed (pip install gunicorn), or use --server waitress")

    results: list[Figures] = []
    meta: dict[str, object] = {
        "server": f"waitress --threads={args.threads}" if args.server == "waitress"
        else f"gunicorn --workers 2 --threads {args.threads // 2 or 1}",
        "rows": args.rows, "requests_per_page": args.requests, "concurrency": args.concurrency,
        "warmup": args.warmup, "client": "python threads + http.client keep-alive, 127.0.0.1",
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "filter": FILTER,
        "engine_options": args.engine_options or "default (pool_pre_ping; QueuePool size 5 + overflow 10)",
    }
    if args.db in ("sqlite", "both"):
        results += bench_database("sqlite", None, args)
    if args.db in ("postgresql", "both"):
        meta["postgresql"] = _pg_version()
        with postgres_database() as url:
            results += bench_database("postgresql", url, args)
            meta["postgresql_sessions_opened"] = _pg_sessions()
    print_table(results)
    if "postgresql_sessions_opened" in meta:
        print(f"PostgreSQL connections opened during the run: {meta['postgresql_sessions_opened']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2) + "\n")
    print(f"\n{meta['server']}; {args.requests} requests per page at concurrency {args.concurrency}; "
          f"written to {OUT}")


if __name__ == "__main__":
    main()
