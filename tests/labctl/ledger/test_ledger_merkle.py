import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.ledger import merkle
from labctl.ledger.jcs import LedgerFormatError

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "merkle"
CASES = sorted(VECTORS.rglob("*.json"))


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _tiles(leaves: list[bytes]) -> tuple[merkle.CompactRange, dict[tuple[int, int], bytes]]:
    compact, tiles = merkle.CompactRange(), {}
    for leaf in leaves:
        for level, index, h in compact.append(leaf):
            tiles[level, index] = h
    return compact, tiles


def test_all_vectors_present():
    assert len(CASES) == 196


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_transparency_dev_vector(path: Path):
    case = json.loads(path.read_text())
    proof = [_b64(h) for h in case["proof"] or []]
    if "leafIdx" in case:
        ok = merkle.verify_inclusion(
            case["leafIdx"], case["treeSize"], _b64(case["leafHash"]), proof, _b64(case["root"])
        )
    else:
        ok = merkle.verify_consistency(
            case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"])
        )
    assert ok is not case["wantErr"]


def test_rfc6962_hashes():
    # transparency-dev/merkle testonly/constants.go: empty tree and the leaf hash of "" .
    assert merkle.root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    a, b, c = _leaves(3)
    assert merkle.root([a, b, c]) == merkle.node_hash(merkle.node_hash(a, b), c)


def test_compact_range_serialises_and_rejects_bad_state():
    compact, _ = _tiles(_leaves(11))
    copy = merkle.CompactRange(compact.size, compact.hashes)
    assert len(copy.hashes) == 3
    copy.append(merkle.leaf_hash(b"x"))
    assert copy.root() == merkle.root([*_leaves(11), merkle.leaf_hash(b"x")])
    with pytest.raises(LedgerFormatError, match="compact range"):
        merkle.CompactRange(11, compact.hashes[:2])
    with pytest.raises(LedgerFormatError, match="leaf hash"):
        copy.append(b"short")


def test_reference_proofs_reject_bad_index():
    with pytest.raises(LedgerFormatError, match="index"):
        merkle.inclusion_proof(_leaves(3), 3)
    with pytest.raises(LedgerFormatError, match="size1"):
        merkle.consistency_proof(_leaves(3), 0)
    with pytest.raises(LedgerFormatError, match="size1"):
        merkle.consistency_proof_from(lambda level, index: b"", 4, 3)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_proofs_from_tiles_match_reference_and_verify(size: int, data: st.DataObject):
    leaves = _leaves(size)
    compact, tiles = _tiles(leaves)
    reads: list[tuple[int, int]] = []

    def subtree(level: int, index: int) -> bytes:
        reads.append((level, index))
        return tiles[level, index]

    root = merkle.root(leaves)
    assert compact.root() == root and compact.size == size
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof(leaves, index)
    assert merkle.inclusion_proof_from(subtree, index, size) == proof
    assert merkle.verify_inclusion(index, size, leaves[index], proof, root)
    size1 = data.draw(st.integers(1, size), label="size1")
    cproof = merkle.consistency_proof(leaves, size1)
    assert merkle.consistency_proof_from(subtree, size1, size) == cproof
    assert merkle.verify_consistency(size1, size, cproof, merkle.root(leaves[:size1]), root)
    assert len(reads) <= 4 * size.bit_length()


def _flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 200), st.data())
def test_any_change_breaks_inclusion(size: int, data: st.DataObject):
    leaves = _leaves(size)
    root = merkle.root(leaves)
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(leaves, index)
    bit = data.draw(st.integers(0, 255))
    assert not merkle.verify_inclusion(index, size, leaves[index], proof, _flip(root, bit))
    assert not merkle.verify_inclusion(index, size, _flip(leaves[index], bit), proof, root)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
        assert not merkle.verify_inclusion(index, size, leaves[index], bad, root)
    other = data.draw(st.integers(0, 2 * size).filter(lambda i: i != index))
    assert not merkle.verify_inclusion(other, size, leaves[index], proof, root)
    # A proof binds the leaf's path shape, not the size: the signed checkpoint binds the size.
    # So another size verifies exactly when the leaf's path has the same left/right turns.
    other_size = data.draw(st.integers(0, 2 * size).filter(lambda s: s != size))
    same_shape = index < other_size and _turns(index, other_size) == _turns(index, size)
    assert merkle.verify_inclusion(index, other_size, leaves[index], proof, root) is same_shape


def _turns(index: int, size: int) -> list[bool]:
    """Leaf-to-root: is the sibling on the left? (straight from RFC 9162 PATH's recursion)."""
    if size == 1:
        return []
    k = 1 << ((size - 1).bit_length() - 1)
    return [*_turns(index, k), False] if index < k else [*_turns(index - k, size - k), True]


def test_size_is_bound_by_the_checkpoint_not_the_proof():
    leaves = _leaves(5)
    proof = merkle.inclusion_proof(leaves, 0)
    assert merkle.verify_inclusion(0, 6, leaves[0], proof, merkle.root(leaves))
    assert not merkle.verify_inclusion(0, 9, leaves[0], proof, merkle.root(leaves))


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 200), st.data())
def test_any_change_breaks_consistency(size2: int, data: st.DataObject):
    leaves = _leaves(size2)
    size1 = data.draw(st.integers(1, size2 - 1))
    root1, root2 = merkle.root(leaves[:size1]), merkle.root(leaves)
    proof = merkle.consistency_proof(leaves, size1)
    bit = data.draw(st.integers(0, 255))
    assert not merkle.verify_consistency(size1, size2, proof, _flip(root1, bit), root2)
    assert not merkle.verify_consistency(size1, size2, proof, root1, _flip(root2, bit))
    at = data.draw(st.integers(0, len(proof) - 1))
    bad = [*proof[:at], _flip(proof[at], bit), *proof[at + 1 :]]
    assert not merkle.verify_consistency(size1, size2, bad, root1, root2)
    other1 = data.draw(st.integers(0, 2 * size2).filter(lambda s: s != size1))
    assert not merkle.verify_consistency(other1, size2, proof, root1, root2)
    # As for inclusion, size2 is bound by the checkpoint; a size2 whose proof differs in
    # length must fail.
    other2 = data.draw(st.integers(0, 2 * size2).filter(lambda s: s != size2))
    if other2 < size1 or len(merkle.consistency_proof(_leaves(other2), size1)) != len(proof):
        assert not merkle.verify_consistency(size1, other2, proof, root1, root2)
