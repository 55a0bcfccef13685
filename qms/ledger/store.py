"""The append-only file log: leaves, signed tree heads and transaction outcomes, one JSON line each.

Every commit that adds logged rows writes, BEFORE the database commits, one line with its leaves
and the signed head of the tree that includes them (fsync'd), then, after the database answered,
an outcome line ("c" committed, "a" aborted). The file lock is held from the first line to the
outcome, so transactions are serialised in the log and a transaction without an outcome belongs
to a process that died: the next writer settles it from the database ("r" found, "x" not found)
before it writes. Each head's signature also covers the previous transaction's outcome, so an
outcome cannot be changed later without the key (only the very last one is unsigned until the
next commit).

Line formats:
  {"tx": N, "leaves": [...], "size": S, "root": hex, "at": time, "kid": hex, "prev": outcome|null, "sig": hex}
  {"end": N, "o": "c" | "a" | "r" | "x"}
"""
from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from qms.db import utcnow
from qms.ledger.merkle import CompactRange, leaf_hash

LOG_NAME = "ledger.jsonl"
LOG_ID = "qms-ledger/1"
COMMITTED = frozenset({"c", "r"})  # acknowledged (or found committed after a crash): must be in the database
SETTLED = frozenset({"c", "a", "r", "x"})


def head_message(*, tx: int, size: int, root: str, at: str, kid: str, prev: str | None) -> bytes:
    """The bytes signed for one tree head (domain-separated from the daily checkpoints)."""
    body = {"log": LOG_ID, "tx": tx, "size": size, "root": root, "at": at, "kid": kid, "prev": prev}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Transaction:
    """One prepared batch of leaves, waiting for its database commit."""

    number: int
    leaves: list[str]
    size: int


@dataclass
class LogLine:
    offset: int
    body: dict


def read_lines(path: Path, start: int = 0) -> tuple[list[LogLine], int, bool]:
    """Complete lines from `start`; the end offset of the last complete line; whether a torn line follows."""
    if not path.exists():
        return [], start, False
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read()
    lines, offset = [], start
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            return lines, offset, True
        lines.append(LogLine(offset, json.loads(raw)))
        offset += len(raw)
    return lines, offset, False


@dataclass
class _State:
    """What one process knows of the log: read up to `offset`."""

    offset: int = 0
    tree: CompactRange = field(default_factory=CompactRange)
    last_tx: int = 0
    outcomes: dict[int, str | None] = field(default_factory=dict)  # only the unsettled and the last one
    unsettled: dict[int, list[str]] = field(default_factory=dict)


class Ledger:
    """The log of one instance, shared by the threads of this process; other processes coordinate by flock."""

    def __init__(self, path: Path, key: Ed25519PrivateKey, kid: str) -> None:
        self.path, self.key, self.kid = path, key, kid
        self.mutex = threading.Lock()
        self.state = _State()
        self.fd: int | None = None
        self.pid = 0

    # --- locking -------------------------------------------------------------------------------------

    def _open(self) -> int:
        if self.fd is None or self.pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            self.pid = os.getpid()
        return self.fd

    def acquire(self) -> None:
        self.mutex.acquire()
        try:
            fcntl.flock(self._open(), fcntl.LOCK_EX)
        except BaseException:
            self.mutex.release()
            raise

    def release(self) -> None:
        try:
            if self.fd is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.mutex.release()

    # --- reading what others wrote --------------------------------------------------------------------

    def _catch_up(self) -> None:
        state = self.state
        size = os.fstat(self._open()).st_size
        if size == state.offset:  # nobody wrote since our last line (the one-writer case): nothing to read
            return
        if size < state.offset:  # the file was replaced (restore): read it again
            self.state = state = _State()
        lines, end, torn = read_lines(self.path, state.offset)
        if torn:  # a write cut by a crash: never fsync'd, so its database commit never happened
            os.ftruncate(self._open(), end)
        for line in lines:
            body = line.body
            if "tx" in body:
                for leaf in body["leaves"]:
                    state.tree.append(leaf_hash(leaf.encode()))
                state.last_tx = body["tx"]
                state.outcomes[body["tx"]] = None
                state.unsettled[body["tx"]] = body["leaves"]
            elif "end" in body:
                state.outcomes[body["end"]] = body["o"]
                state.unsettled.pop(body["end"], None)
        for number in [n for n in state.outcomes if n != state.last_tx and n not in state.unsettled]:
            del state.outcomes[number]
        state.offset = end

    def _write(self, body: dict, *, sync: bool) -> None:
        data = (json.dumps(body, separators=(",", ":")) + "\n").encode()
        fd = self._open()
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to the ledger ({written} of {len(data)} bytes)")
        if sync:
            os.fsync(fd)
        self.state.offset += len(data)

    def settle_orphans(self, committed: Callable[[list[str]], bool]) -> None:
        """Transactions left without an outcome by a process that died: ask the database what happened."""
        for number, leaves in list(self.state.unsettled.items()):
            outcome = "r" if committed(leaves) else "x"
            self._write({"end": number, "o": outcome}, sync=False)
            self.state.outcomes[number] = outcome
            del self.state.unsettled[number]

    # --- the unit of work -----------------------------------------------------------------------------

    def prepare(self, leaves: list[str], *, committed: Callable[[list[str]], bool],
                adopt: Callable[[], list[str]]) -> Transaction:
        """Append and sign the leaves (fsync'd); the lock stays held until finish(). Call with the lock held."""
        self._catch_up()
        self.settle_orphans(committed)
        state = self.state
        if state.tree.size == 0 and state.last_tx == 0:
            new = set(leaves)  # rows recorded before the log existed open it
            leaves = [leaf for leaf in adopt() if leaf not in new] + leaves
        number = state.last_tx + 1
        tree = state.tree.copy()
        for leaf in leaves:
            tree.append(leaf_hash(leaf.encode()))
        at, root = _time(utcnow()), tree.root().hex()
        prev = state.outcomes.get(state.last_tx) if state.last_tx else None
        signature = self.key.sign(head_message(tx=number, size=tree.size, root=root, at=at, kid=self.kid, prev=prev))
        self._write({"tx": number, "leaves": leaves, "size": tree.size, "root": root, "at": at, "kid": self.kid,
                     "prev": prev, "sig": signature.hex()}, sync=True)
        state.tree, state.last_tx = tree, number
        state.outcomes[number] = None
        return Transaction(number, leaves, tree.size)

    def finish(self, transaction: Transaction, outcome: str) -> None:
        """Record the database's answer; written to the OS (survives a killed process), made durable by the
        next transaction's fsync."""
        self._write({"end": transaction.number, "o": outcome}, sync=False)
        self.state.outcomes[transaction.number] = outcome


def iter_heads(path: Path) -> Iterator[dict]:
    for line in read_lines(path)[0]:
        if "tx" in line.body:
            yield line.body


def public_key_matches(public_key: Ed25519PublicKey, kid: str) -> bool:
    from qms.evidence.checkpoints import key_id

    return key_id(public_key) == kid
