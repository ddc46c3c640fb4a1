import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from labctl.ledger import dsse, keys, merkle, statement
from labctl.ledger.jcs import LedgerFormatError, canonical

ORIGIN = "castlab.example.com/ledger/v1"


def _predicate(**extra: Any) -> dict[str, Any]:
    return {
        "ledger": {
            "origin": ORIGIN,
            "index": 0,
            "prev_leaf_hash": statement.GENESIS_PREV_LEAF_HASH,
        },
        "software": {"name": "labctl", "version": "0.1.0"},
        "cast_id": "C-0042",
        "charge_mg": 41250,
        **extra,
    }


def test_build_shape_and_digest():
    record = statement.build("cast-record", "urn:labctl:cast:C-0042", _predicate())
    obj = record.to_dict()
    assert obj["_type"] == "https://in-toto.io/Statement/v1"
    assert obj["predicateType"] == "https://labctl.dev/attestations/cast-record/v1"
    digest = hashlib.sha256(canonical(_predicate())).hexdigest()
    assert obj["subject"] == [{"name": "urn:labctl:cast:C-0042", "digest": {"sha256": digest}}]
    assert record.payload() == canonical(obj)
    assert statement.parse(record.payload()) == record


def test_signed_record_to_leaf(tmp_path: Path):
    signer = keys.generate(tmp_path / "k", ORIGIN)
    record = statement.build("melt", "urn:labctl:melt:M-7", _predicate())
    envelope = dsse.sign(record.payload(), [signer])
    leaf = statement.leaf_bytes(envelope.to_dict())
    assert json.loads(leaf) == envelope.to_dict()
    again = dsse.Envelope.from_json(leaf)
    assert statement.parse(dsse.verify(again, {signer.keyid: signer.public_key}).payload) == record
    assert merkle.leaf_hash(leaf) == hashlib.sha256(b"\x00" + leaf).digest()


def _with(obj: dict[str, Any], path: list[str], value: object) -> dict[str, Any]:
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        (["ledger"], None, "predicate.ledger"),
        (["ledger", "origin"], "", "origin"),
        (["ledger", "index"], -1, "index"),
        (["ledger", "index"], True, "index"),
        (["ledger", "prev_leaf_hash"], "AB" * 32, "prev_leaf_hash"),
        (["software", "version"], 3, "version"),
        (["software", "sha256"], "x", "sha256"),
        (["mass"], float("nan"), "predicate"),
        (["mass"], 2**60, "predicate"),
    ],
)
def test_build_rejects_bad_predicates(path: list[str], value: object, why: str):
    predicate = _with(_predicate(), path, value)
    with pytest.raises(LedgerFormatError, match=why):
        statement.build("cast-record", "urn:x", predicate)


def test_build_rejects_unknown_kind_and_empty_subject():
    with pytest.raises(LedgerFormatError, match="record kind"):
        statement.build("bogus", "urn:x", _predicate())
    with pytest.raises(LedgerFormatError, match="subject name"):
        statement.build("melt", "", _predicate())
    assert statement.build("bogus", "urn:x", _predicate(), kinds={"bogus"}).kind == "bogus"


def _payload(mutate: Any) -> bytes:
    obj = statement.build("melt", "urn:labctl:melt:M-7", _predicate()).to_dict()
    mutate(obj)
    return canonical(obj)


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda o: o.update(_type="https://in-toto.io/Statement/v0.1"), "_type"),
        (lambda o: o.update(predicateType="https://labctl.dev/attestations/x/v1"), "known"),
        (lambda o: o["subject"][0]["digest"].update(sha256="0" * 64), "digest"),
        (lambda o: o["subject"][0]["digest"].update(sha512="0" * 128), "digest"),
        (lambda o: o["subject"].append(o["subject"][0]), "exactly one"),
        (lambda o: o["subject"][0].pop("name"), "string name"),
        (lambda o: o["predicate"].update(charge_mg=41251), "digest"),
        (lambda o: o.update(extra=1), "exactly"),
    ],
)
def test_parse_rejects(mutate: Any, why: str):
    with pytest.raises(LedgerFormatError, match=why):
        statement.parse(_payload(mutate))


def test_parse_rejects_non_canonical_or_non_json():
    record = statement.build("melt", "urn:labctl:melt:M-7", _predicate())
    pretty = json.dumps(record.to_dict(), indent=1).encode()
    with pytest.raises(LedgerFormatError, match="canonical"):
        statement.parse(pretty)
    with pytest.raises(LedgerFormatError, match="not valid JSON"):
        statement.parse(b"\xff")
