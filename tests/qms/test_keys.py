"""The one Ed25519 key store: created on first use, owner-only, and one key when processes race to create it."""
from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key

from qms.keys import load_key, load_or_create_key

RACERS = 4


def _raw(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _create_when_all_are_ready(barrier: Any, path: str, results: Any) -> None:
    barrier.wait()
    results.put(_raw(load_or_create_key(Path(path))))


def test_a_key_is_created_once_then_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    first = load_or_create_key(path)
    assert _raw(load_or_create_key(path)) == _raw(first) == _raw(load_key(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["signing.pem"]  # no temporary file left behind


@pytest.mark.parametrize("round_", range(2))
def test_processes_creating_the_same_key_at_once_end_with_one_key(tmp_path: Path, round_: int) -> None:
    path = tmp_path / "keys" / "signing.pem"
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(RACERS), context.Queue()
    racers = [context.Process(target=_create_when_all_are_ready, args=(barrier, str(path), results))
              for _ in range(RACERS)]
    for racer in racers:
        racer.start()
    keys = [results.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0
    assert set(keys) == {_raw(load_key(path))}
    assert [p.name for p in path.parent.iterdir()] == ["signing.pem"]


def test_a_file_that_holds_another_kind_of_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.pem"
    path.write_bytes(generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ValueError, match="does not hold an Ed25519 private key"):
        load_or_create_key(path)
