"""Signed checkpoints: an Ed25519 signature over a Merkle tree (RFC 9162) of every item's chain head.

The private key lives in a file outside the database (QMS_CHECKPOINT_KEY, default
instance/keys/checkpoint-ed25519.pem, created on first use with mode 0600). Each checkpoint is
stored in the database and, as JSON, in instance/checkpoints/ beside it, so deleting the rows is
noticed too. Someone who edits an event and recomputes every later hash (a database administrator
can) still cannot make the stored hash at a checkpointed seq match the signed tree.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from sqlalchemy import Connection, select

from qms.db import utcnow
from qms.evidence.chain import ChainReport, verify_chains
from qms.evidence.models import Checkpoint, Item
from qms.keys import load_or_create_key

CHECKPOINT_VERSION = 1


# --- Merkle tree, RFC 9162 section 2.1.1 -------------------------------------------------------------

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of the leaves' data: the empty tree hashes to SHA-256("")."""
    return root_of_hashes([leaf_hash(leaf) for leaf in leaves])


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (already hashed with `leaf_hash`); split at the largest power of 2 < n."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    level = list(hashes)
    # Bottom-up pairing with the odd node carried up unchanged gives the same root as RFC 9162's
    # recursive split (the left subtree is always the largest power of two), without recursion.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def leaf_data(item_id: int, seq: int, head_hash: str) -> bytes:
    """One leaf: an item's chain head as `item_id:seq:hash` (ASCII)."""
    return f"{item_id}:{seq}:{head_hash}".encode("ascii")


# --- the key -------------------------------------------------------------------------------------------

def key_path() -> Path:
    configured = current_app.config.get("CHECKPOINT_KEY")
    if configured:
        return Path(configured)
    return Path(current_app.config["INSTANCE_PATH"]) / "keys" / "checkpoint-ed25519.pem"


def checkpoint_dir() -> Path:
    return Path(current_app.config.get("CHECKPOINT_DIR") or Path(current_app.config["INSTANCE_PATH"]) / "checkpoints")


def load_private_key() -> Ed25519PrivateKey:
    return load_or_create_key(key_path())


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem() -> str:
    return load_private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def signed_message(*, tree_size: int, root_hash: str, created_at: datetime, key: str) -> bytes:
    body = {"v": CHECKPOINT_VERSION, "tree_size": tree_size, "root": root_hash, "key_id": key,
            "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


# --- writing -------------------------------------------------------------------------------------------

def current_leaves(connection: Connection) -> list[list[Any]]:
    """Every item's chain head, all units (a checkpoint covers the whole database on purpose)."""
    table = Item.__table__
    rows = connection.execute(select(table.c.id, table.c.head_seq, table.c.head_hash)
                              .where(table.c.head_seq > 0).order_by(table.c.id))
    return [[row.id, row.head_seq, row.head_hash] for row in rows]


def write_checkpoint(session: Any, *, reason: str) -> Checkpoint:
    """Sign the current chain heads; the caller commits. Also written as a file outside the database."""
    key = load_private_key()
    leaves = current_leaves(session.connection())
    root = merkle_root([leaf_data(*leaf) for leaf in leaves]).hex()
    created_at = utcnow()
    kid = key_id(key.public_key())
    signature = key.sign(signed_message(tree_size=len(leaves), root_hash=root, created_at=created_at, key=kid))
    checkpoint = Checkpoint(created_at=created_at, tree_size=len(leaves), root_hash=root, leaves=leaves,
                            reason=reason[:200], key_id=kid, signature=signature.hex())
    session.add(checkpoint)
    session.flush()
    _write_file(checkpoint)
    return checkpoint


def _write_file(checkpoint: Checkpoint) -> None:
    folder = checkpoint_dir()
    folder.mkdir(parents=True, exist_ok=True)
    body = {"id": checkpoint.id, "created_at": checkpoint.created_at.isoformat(), "tree_size": checkpoint.tree_size,
            "root_hash": checkpoint.root_hash, "key_id": checkpoint.key_id, "signature": checkpoint.signature}
    (folder / f"checkpoint-{checkpoint.id:08d}-{checkpoint.root_hash[:12]}.json").write_text(json.dumps(body))


# --- checking ------------------------------------------------------------------------------------------

@dataclass
class CheckpointProblem:
    checkpoint_id: int | None
    item_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"checkpoint {self.checkpoint_id}" if self.checkpoint_id is not None else "checkpoint files"
        return f"{where}{f', item {self.item_id}' if self.item_id is not None else ''}: {self.reason}"


@dataclass
class VerificationReport:
    chains: ChainReport
    checkpoints_checked: int = 0
    problems: list[CheckpointProblem] = field(default_factory=list)
    latest_checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return self.chains.ok and not self.problems

    def broken_items(self) -> set[int]:
        return set(self.chains.breaks) | {p.item_id for p in self.problems if p.item_id is not None}

    def lines(self) -> list[str]:
        return [str(b) for b in sorted(self.chains.breaks.values(), key=lambda b: b.item_id)] + [
            str(p) for p in self.problems]


def _checkpoint_rows(connection: Connection) -> list[Any]:
    table = Checkpoint.__table__
    return list(connection.execute(select(table).order_by(table.c.id)))


def verify_all(connection: Connection, *, item_ids: list[int] | None = None,
               public_key: Ed25519PublicKey | None = None, check_files: bool = True) -> VerificationReport:
    """Every chain (or those of `item_ids`) and every checkpoint: signature, tree, and stored hashes."""
    rows = _checkpoint_rows(connection)
    wanted: dict[int, set[int]] = {}
    for row in rows:
        for item_id, seq, _hash in row.leaves or []:
            if item_ids is None or item_id in item_ids:
                wanted.setdefault(item_id, set()).add(seq)
    chains = verify_chains(connection, item_ids=item_ids, wanted=wanted)
    report = VerificationReport(chains=chains)
    public_key = public_key or load_private_key().public_key()
    kid = key_id(public_key)
    for row in rows:
        report.checkpoints_checked += 1
        _check_one(row, report, public_key, kid, item_ids)
    if check_files:
        _check_files(rows, report)
    return report


def _check_one(row: Any, report: VerificationReport, public_key: Ed25519PublicKey, kid: str,
               item_ids: list[int] | None) -> None:
    leaves = row.leaves or []
    if row.key_id != kid:
        report.problems.append(CheckpointProblem(row.id, None, "signed with a key other than this installation's"))
        return
    try:
        message = signed_message(tree_size=row.tree_size, root_hash=row.root_hash, created_at=row.created_at, key=kid)
        public_key.verify(bytes.fromhex(row.signature), message)
    except (InvalidSignature, ValueError):
        report.problems.append(CheckpointProblem(row.id, None, "the signature does not match (checkpoint altered)"))
        return
    if len(leaves) != row.tree_size or merkle_root([leaf_data(*leaf) for leaf in leaves]).hex() != row.root_hash:
        report.problems.append(CheckpointProblem(row.id, None, "its list of chain heads does not match the signed "
                                                               "Merkle root (checkpoint altered)"))
        return
    for item_id, seq, head_hash in leaves:
        if item_ids is not None and item_id not in item_ids:
            continue
        stored = report.chains.heads.get(item_id, {}).get(seq)
        if stored is None:
            reason = f"event #{seq}, signed at this checkpoint, is missing"
        elif stored != head_hash:
            reason = f"event #{seq} differs from the signed chain head (history rewritten up to it)"
        else:
            continue
        report.problems.append(CheckpointProblem(row.id, item_id, reason))


def _check_files(rows: list[Any], report: VerificationReport) -> None:
    """Each checkpoint file outside the database must still be in the database, unchanged."""
    folder = checkpoint_dir()
    if not folder.is_dir():
        return
    known = {row.id: row for row in rows}
    for path in sorted(folder.glob("checkpoint-*.json")):
        try:
            body = json.loads(path.read_text())
            row = known.get(int(body["id"]))
        except (ValueError, KeyError, TypeError):
            report.problems.append(CheckpointProblem(None, None, f"{path.name} cannot be read"))
            continue
        if row is None:
            report.problems.append(CheckpointProblem(body["id"], None, f"in {path.name} but missing from the "
                                                                       "database (checkpoint rows deleted)"))
        elif (row.root_hash, row.signature) != (body.get("root_hash"), body.get("signature")):
            report.problems.append(CheckpointProblem(row.id, None, f"differs from {path.name}"))
