"""RFC 9162 Merkle tree: tree hash, inclusion and consistency proofs, and a compact range.

Leaf and node hashes are the checkpoints' (RFC 9162 section 2.1.1): SHA-256(0x00 || leaf) and
SHA-256(0x01 || left || right). The proofs follow sections 2.1.3 (inclusion) and 2.1.4
(consistency); their verification follows the algorithms of sections 2.1.3.2 and 2.1.4.2.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

from qms.evidence.checkpoints import leaf_hash, node_hash, root_of_hashes

EMPTY_ROOT = hashlib.sha256(b"").digest()

__all__ = ["EMPTY_ROOT", "CompactRange", "consistency_proof", "inclusion_proof", "leaf_hash", "node_hash",
           "root_from_hashes", "verify_consistency", "verify_inclusion"]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (already hashed with leaf_hash): the checkpoints' one batch computation."""
    return root_of_hashes(hashes)


def inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(m, D[n]) over leaf hashes: the audit path of leaf `index`."""
    if not 0 <= index < len(hashes):
        raise ValueError(f"leaf {index} is not in a tree of {len(hashes)}")
    if len(hashes) == 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return inclusion_proof(hashes[:k], index) + [root_from_hashes(hashes[k:])]
    return inclusion_proof(hashes[k:], index - k) + [root_from_hashes(hashes[:k])]


def consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[n]): proves the tree of the first `old_size` leaves is a prefix of this one."""
    if not 0 < old_size <= len(hashes):
        raise ValueError(f"no consistency proof from size {old_size} to {len(hashes)}")
    return _subproof(hashes, old_size, True)


def _subproof(hashes: Sequence[bytes], m: int, whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [root_from_hashes(hashes)]
    k = _split(n)
    if m <= k:
        return _subproof(hashes[:k], m, whole) + [root_from_hashes(hashes[k:])]
    return _subproof(hashes[k:], m - k, False) + [root_from_hashes(hashes[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2: does `proof` place leaf hash `leaf` at `index` in the tree of `size` with `root`?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: is the tree (old_size, old_root) a prefix of (new_size, new_root)?"""
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): O(log n) to append and to get the root.

    This is what lets every commit sign a new tree head without reading the whole log again.
    """

    def __init__(self) -> None:
        self.size = 0
        self.nodes: list[bytes] = []  # left to right, largest subtree first

    def append(self, hashed_leaf: bytes) -> None:
        node, size = hashed_leaf, self.size
        while size & 1:  # each trailing 1 bit of the old size is a subtree of equal height to merge with
            node = node_hash(self.nodes.pop(), node)
            size >>= 1
        self.nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        node = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            node = node_hash(left, node)
        return node

    def copy(self) -> CompactRange:
        other = CompactRange()
        other.size, other.nodes = self.size, list(self.nodes)
        return other
