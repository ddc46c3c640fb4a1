"""RFC 6962 / RFC 9162 Merkle tree: hashes, proofs, verification and a compact range.

A subtree at (level, index) covers leaves [index * 2**level, (index + 1) * 2**level). The
`*_from` functions build proofs from a `subtree_hash(level, index)` accessor that only ever asks
for complete subtrees (tiles), so a store answers a proof with O(log n) reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from labctl.ledger.jcs import LedgerFormatError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return hashes[lo]
    k = _split(hi - lo)
    return node_hash(_mth(hashes, lo, lo + k), _mth(hashes, lo + k, hi))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of a list of leaf hashes (reference implementation)."""
    return _mth(leaf_hashes, 0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


def _check_index(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise LedgerFormatError(what, f"{value} is outside {low}..{high}")


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[n]) from the full list of leaf hashes, leaf sibling first."""
    _check_index("inclusion proof index", index, 0, len(leaf_hashes) - 1)
    proof: list[bytes] = []
    lo, hi = 0, len(leaf_hashes)
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(_mth(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaf_hashes, lo, lo + k))
            lo += k
    return proof[::-1]


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """RFC 9162 PROOF(size1, D[n]) from the full list; empty when size1 == n."""
    _check_index("consistency proof size1", size1, 1, len(leaf_hashes))
    proof: list[bytes] = []
    lo, hi, complete = 0, len(leaf_hashes), True
    while size1 != hi:
        k = _split(hi - lo)
        if size1 <= lo + k:
            proof.append(_mth(leaf_hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_mth(leaf_hashes, lo, lo + k))
            lo, complete = lo + k, False
    if not complete:
        proof.append(_mth(leaf_hashes, lo, hi))
    return proof[::-1]


def _range_hash(subtree_hash: SubtreeHash, lo: int, hi: int) -> bytes:
    """MTH of leaves [lo, hi), where lo is aligned to a power of two >= hi - lo."""
    parts: list[bytes] = []
    while lo < hi:
        level = ((lo & -lo) or (1 << 63)).bit_length() - 1
        while lo + (1 << level) > hi:
            level -= 1
        parts.append(subtree_hash(level, lo >> level))
        lo += 1 << level
    result = parts.pop()
    while parts:
        result = node_hash(parts.pop(), result)
    return result


def inclusion_proof_from(subtree_hash: SubtreeHash, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) using only complete-subtree hashes: O(log size) reads."""
    _check_index("inclusion proof index", index, 0, size - 1)
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(_range_hash(subtree_hash, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_hash(subtree_hash, lo, lo + k))
            lo += k
    return proof[::-1]


def consistency_proof_from(subtree_hash: SubtreeHash, size1: int, size2: int) -> list[bytes]:
    """PROOF(size1, D[size2]) using only complete-subtree hashes: O(log size2) reads."""
    _check_index("consistency proof size1", size1, 1, size2)
    proof: list[bytes] = []
    lo, hi, complete = 0, size2, True
    while size1 != hi:
        k = _split(hi - lo)
        if size1 <= lo + k:
            proof.append(_range_hash(subtree_hash, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range_hash(subtree_hash, lo, lo + k))
            lo, complete = lo + k, False
    if not complete:
        proof.append(_range_hash(subtree_hash, lo, hi))
    return proof[::-1]


def _hashes_ok(*hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in hashes)


def _climb(fn: int, sn: int, seed: bytes, path: Sequence[bytes]) -> tuple[bytes, bytes] | None:
    """The shared loop of RFC 9162 §2.1.3.2 step 4 and §2.1.4.2 step 6.

    Returns (fr, sr): fr hashes in only the left siblings (the old tree's root, for consistency),
    sr every sibling; None when the path is too long or too short for the sizes.
    """
    fr = sr = seed
    for c in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return (fr, sr) if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: True when `proof` puts leaf hash `leaf` at `index` under the root."""
    if not 0 <= index < size or not _hashes_ok(leaf, expected_root, *proof):
        return False
    result = _climb(index, size - 1, leaf, proof)
    return result is not None and result[1] == expected_root


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: True when tree (size1, root1) is a prefix of tree (size2, root2).

    As in transparency-dev/merkle (and its vectors): a proof from the empty tree is meaningless
    and rejected; equal sizes need an empty proof and equal roots, compared as given.
    """
    if not 0 < size1 <= size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if not proof or not _hashes_ok(root1, root2, *proof):
        return False
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    result = _climb(fn, sn, path[0], path[1:])
    return result is not None and result == (root1, root2)


class CompactRange:
    """The roots of the perfect subtrees covering leaves [0, size): O(log n) appends."""

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count() or not _hashes_ok(*hashes):
            raise LedgerFormatError(
                "compact range",
                f"size {size} needs {max(size, 0).bit_count()} hashes of {HASH_SIZE} bytes",
            )
        self._size, self._hashes = size, list(hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The subtree roots, largest (leftmost) first: with `size`, all that is stored."""
        return list(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the complete subtrees it finished as (level, index, hash)."""
        if not _hashes_ok(leaf):
            raise LedgerFormatError("leaf hash", f"must be {HASH_SIZE} bytes")
        done = [(0, self._size, leaf)]
        self._hashes.append(leaf)
        level, index = 0, self._size
        while index & 1:
            right, left = self._hashes.pop(), self._hashes.pop()
            level, index = level + 1, index >> 1
            self._hashes.append(node_hash(left, right))
            done.append((level, index, self._hashes[-1]))
        self._size += 1
        return done

    def root(self) -> bytes:
        """The Merkle Tree Hash of the leaves appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            result = node_hash(h, result)
        return result
