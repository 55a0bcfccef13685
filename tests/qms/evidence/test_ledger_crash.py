"""A real server killed with SIGKILL while custody events are recorded: nothing acknowledged is lost.

Each round starts waitress on the test's database and instance (same log, same key), lets three
clients record examinations through the API, and kills the server at a random moment. An event
counts as acknowledged when its 201 answer reached the client. After 20 rounds and a last restart,
every acknowledged event is in the database and in the log as committed, and the two agree.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.evidence import custody
from qms.evidence.chain import verify_chains
from qms.evidence.models import CustodyEvent
from qms.extensions import db
from qms.ledger import ledger_path, verify_instance
from qms.ledger.store import COMMITTED, read_lines

EVENTS = CustodyEvent.__table__
ROUNDS = int(os.environ.get("CRASH_ROUNDS", "20"))
CLIENTS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Importing the application takes seconds on a busy machine; a launcher imports it once and forks
# a fresh server process per round (the process that is killed is a real, separate server).
LAUNCHER = """
import os, signal, sys
from qms import create_app
from waitress import serve
create_app()  # import every module once, before forking
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed servers are reaped by the kernel
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        serve(create_app(), listen="127.0.0.1:" + line.strip(), threads=4, _quiet=True)
        os._exit(0)
    print(pid, flush=True)
"""


def _launcher(app_config: dict) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
           "QMS_DATABASE_URL": app_config["DATABASE_URL"], "QMS_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "QMS_SECRET_KEY": "crash-test", "QMS_MFA_REQUIRED": "false", "QMS_PASSWORD_HASH_FAST_FOR_TESTS": "true"}
    return subprocess.Popen([sys.executable, "-c", LAUNCHER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)


def _start(launcher: subprocess.Popen, port: int) -> int:
    """A new server process on the port; its pid once it accepts connections."""
    assert launcher.stdin is not None and launcher.stdout is not None
    launcher.stdin.write(f"{port}\n")
    launcher.stdin.flush()
    pid = int(launcher.stdout.readline())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return pid
        except OSError:
            time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError("the server did not start")


def _post_event(port: int, token: str, item_id: int, notes: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/evidence/items/{item_id}/events", method="POST",
                                     data=json.dumps({"kind": "examined", "notes": notes}).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, {}


def _record_until_stopped(port: int, token: str, item_id: int, stop: threading.Event, acknowledged: list) -> None:
    while not stop.is_set():
        try:
            status, body = _post_event(port, token, item_id, "looked")
        except (OSError, http.client.HTTPException):
            return  # the server is gone: whatever had no answer was not acknowledged
        if status == 201:
            acknowledged.append((item_id, body["seq"], body["hash"]))


def test_sigkill_while_recording_loses_no_acknowledged_event(lab, db_session, app_config):
    items = [custody.register_item(lab.case, actor=lab.examiner, exhibit_number=f"K{n}", item_type="bullet",
                                   description="Bullet") for n in range(CLIENTS)]
    _token, clear = auth_services.issue_token(lab.examiner, unit_id=lab.unit.id, role=Role.EXAMINER, name="crash")
    db_session.commit()
    item_ids = [item.id for item in items]
    db.session.remove()
    db.engine.dispose()  # the server owns the database while it runs (SQLite: one writer)
    acknowledged: list[tuple[int, int, str]] = []
    rng = random.Random(13)
    launcher = _launcher(app_config)
    try:
        _crash_rounds(launcher, clear, item_ids, acknowledged, rng)
        # One more start: the first write settles what the last killed process left open.
        _start_and_record_once(launcher, clear, item_ids[0], acknowledged)
    finally:
        launcher.kill()
        launcher.wait()
    _check(acknowledged)


def _crash_rounds(launcher, token, item_ids, acknowledged, rng) -> None:  # type: ignore[no-untyped-def]
    for _round in range(ROUNDS):
        port = _free_port()
        pid = _start(launcher, port)
        stop = threading.Event()
        clients = [threading.Thread(target=_record_until_stopped,
                                    args=(port, token, item_id, stop, acknowledged))
                   for item_id in item_ids]
        for client in clients:
            client.start()
        before, deadline = len(acknowledged), time.monotonic() + 10
        while len(acknowledged) == before and time.monotonic() < deadline:  # the first answer, then the kill
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(pid, signal.SIGKILL)
        stop.set()
        for client in clients:
            client.join()


def _check(acknowledged: list[tuple[int, int, str]]) -> None:
    assert len(acknowledged) > ROUNDS, "the clients recorded too little for the test to mean anything"
    with db.engine.connect() as connection:
        stored = {tuple(row) for row in connection.execute(sa.select(EVENTS.c.item_id, EVENTS.c.seq, EVENTS.c.hash))}
        report = verify_instance(connection)
        chains = verify_chains(connection)
    assert set(acknowledged) <= stored, f"acknowledged events lost from the database: {set(acknowledged) - stored}"
    logged = _committed_events(ledger_path())
    assert set(acknowledged) <= logged, f"acknowledged events missing from the log: {set(acknowledged) - logged}"
    assert report.ok, report.lines()
    assert chains.ok, chains.breaks


def _start_and_record_once(launcher: subprocess.Popen, token: str, item_id: int, acknowledged: list) -> None:
    port = _free_port()
    pid = _start(launcher, port)
    try:
        status, body = _post_event(port, token, item_id, "after the crashes")
        assert status == 201
        acknowledged.append((item_id, body["seq"], body["hash"]))
    finally:
        os.kill(pid, signal.SIGTERM)


def _committed_events(path: Path) -> set[tuple[int, int, str]]:
    outcomes, leaves = {}, {}
    for line in read_lines(path)[0]:
        if "tx" in line.body:
            leaves[line.body["tx"]] = line.body["leaves"]
        else:
            outcomes[line.body["end"]] = line.body["o"]
    return {(int(leaf.split(" ")[2]), int(leaf.split(" ")[3]), leaf.split(" ")[4]) for number, batch in leaves.items() if outcomes.get(number) in COMMITTED
            for leaf in batch if leaf.startswith("custody_event ")}
