"""The Merkle tree against known answers, a recursive reference (RFC 9162 as written), and bit flips."""
from __future__ import annotations

import hashlib

import pytest

from qms.ledger.merkle import (CompactRange, consistency_proof, inclusion_proof, leaf_hash, node_hash,
                               root_from_hashes, verify_consistency, verify_inclusion)
from tests.qms.evidence.test_custody import CT_LEAVES, CT_ROOTS

# RFC 6962 / transparency-dev test vectors: leaves and the tree hash after each one (one copy, beside the
# checkpoint tests that use them too).
LEAVES = [bytes.fromhex(h) for h in CT_LEAVES]
ROOTS = CT_ROOTS
HASHES = [leaf_hash(leaf) for leaf in LEAVES]


def reference_root(hashes: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 2.1.1 defines it, recursively."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(reference_root(hashes[:k]), reference_root(hashes[k:]))


def reference_path(m: int, hashes: list[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return reference_path(m, hashes[:k]) + [reference_root(hashes[k:])]
    return reference_path(m - k, hashes[k:]) + [reference_root(hashes[:k])]


def reference_subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [reference_root(hashes)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return reference_subproof(m, hashes[:k], whole) + [reference_root(hashes[k:])]
    return reference_subproof(m - k, hashes[k:], False) + [reference_root(hashes[:k])]


def flipped(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[bit // 8 % len(data)] ^= 1 << (bit % 8)
    return bytes(data)


def test_the_empty_tree_and_the_known_roots():
    assert root_from_hashes([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    for size in range(1, len(LEAVES) + 1):
        assert root_from_hashes(HASHES[:size]).hex() == ROOTS[size - 1]


def test_the_checkpoints_root_agrees():
    from qms.evidence.checkpoints import merkle_root

    for size in range(1, len(LEAVES) + 1):
        assert merkle_root(LEAVES[:size]).hex() == ROOTS[size - 1]


def test_known_inclusion_and_consistency_proofs():
    # From RFC 6962's reference tests: leaf 0 in the tree of 8, and consistency 1 -> 8, 6 -> 8, 2 -> 5.
    assert [p.hex() for p in inclusion_proof(HASHES, 0)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]
    assert [p.hex() for p in consistency_proof(HASHES, 1)] == [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]
    assert [p.hex() for p in consistency_proof(HASHES, 6)] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]
    assert [p.hex() for p in consistency_proof(HASHES[:5], 2)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]


HASHES_64 = [leaf_hash(i.to_bytes(4, "big") + b"leaf") for i in range(64)]


@pytest.mark.parametrize("size", range(1, 65))
def test_every_size_agrees_with_the_reference_and_refuses_bit_flips(size):
    hashes = HASHES_64[:size]
    root = reference_root(hashes)
    assert root_from_hashes(hashes) == root
    compact = CompactRange()
    for value in hashes:
        compact.append(value)
    assert compact.root() == root and compact.size == size
    for index in range(size):
        proof = inclusion_proof(hashes, index)
        assert proof == reference_path(index, hashes)
        assert verify_inclusion(hashes[index], index, size, proof, root)
        assert not verify_inclusion(flipped(hashes[index], index), index, size, proof, root)  # wrong leaf
        assert not verify_inclusion(hashes[index], index, size, proof, flipped(root, index))  # wrong root
        if size > 1:
            assert not verify_inclusion(hashes[index], (index + 1) % size, size, proof, root)  # wrong index
        for at in range(len(proof)):
            bad = list(proof)
            bad[at] = flipped(bad[at], 7 * at + index)
            assert not verify_inclusion(hashes[index], index, size, bad, root)
    for old in range(1, size + 1):
        old_root = reference_root(hashes[:old])
        proof = consistency_proof(hashes, old)
        assert proof == reference_subproof(old, hashes, True)
        assert verify_consistency(old, size, old_root, root, proof)
        if old < size:
            assert not verify_consistency(old, size, flipped(old_root, old), root, proof)
            assert not verify_consistency(old, size, old_root, flipped(root, old), proof)
            assert not verify_consistency(old, size, old_root, root, [])
            for at in range(len(proof)):
                bad = list(proof)
                bad[at] = flipped(bad[at], 5 * at + old)
                assert not verify_consistency(old, size, old_root, root, bad)
            # A tree that forked after `old - 1` leaves is not a continuation of the old one.
            forked = hashes[:old - 1] + [flipped(hashes[old - 1], 3)] + hashes[old:]
            assert not verify_consistency(old, size, old_root, reference_root(forked),
                                          consistency_proof(forked, old))
