"""in-toto Statement v1 records (in-toto/attestation spec/v1/statement.md) for the ledger.

Every record is one Statement with one subject: its `name` names the thing (e.g.
``urn:labctl:cast:C-0042``) and its `digest.sha256` is the hex SHA-256 of the RFC 8785
canonical predicate, so the digest binds the subject to the record's content.

Predicate types are ``https://labctl.dev/attestations/<kind>/v1``, one per record kind in
`KINDS`. Every predicate carries ``ledger: {origin, index, prev_leaf_hash}``: the record's place
in the log (origin, 0-based index, lowercase hex leaf hash of the entry before it; 64 zeros at
index 0 by convention, the store checks the chain). It also carries ``software: {name,
version}`` (optionally ``sha256``). Payloads are the JCS bytes of the Statement, and `parse`
accepts nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from labctl.ledger.jcs import LedgerFormatError, canonical

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE_BASE = "https://labctl.dev/attestations/"
GENESIS_PREV_LEAF_HASH = "0" * 64
KINDS = frozenset(
    {
        "lot-receipt",
        "melt",
        "job-ticket",
        "tree-flask",
        "cast-record",
        "qa-balance",
        "hallmark",
        "transfer",
        "key-rotation",
        "software-update",
        "clock-sync",
        "calibration",
        "safety-trip",
        "commissioning",
        "correction",
    }
)
_HEX64 = re.compile(r"[0-9a-f]{64}")


def predicate_type(kind: str) -> str:
    """The predicateType URI of a record kind."""
    return f"{PREDICATE_TYPE_BASE}{kind}/v1"


def predicate_digest(predicate: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the JCS-canonical predicate: the subject's digest."""
    return hashlib.sha256(canonical(predicate, "predicate")).hexdigest()


@dataclass(frozen=True)
class Statement:
    """A checked ledger record: kind, subject name and predicate."""

    kind: str
    subject_name: str
    predicate: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The Statement JSON object."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [
                {"name": self.subject_name, "digest": {"sha256": predicate_digest(self.predicate)}}
            ],
            "predicateType": predicate_type(self.kind),
            "predicate": self.predicate,
        }

    def payload(self) -> bytes:
        """The DSSE payload: the JCS bytes of the Statement."""
        return canonical(self.to_dict(), "statement")


def build(
    kind: str, subject_name: str, predicate: Mapping[str, Any], kinds: Collection[str] = KINDS
) -> Statement:
    """A checked Statement; raises LedgerFormatError naming what is missing or wrong."""
    if kind not in kinds:
        raise LedgerFormatError("record kind", f"{kind!r} is not one of {sorted(kinds)}")
    if not subject_name:
        raise LedgerFormatError("subject name", "must be a non-empty string")
    _check_predicate(predicate)
    canonical(predicate, "predicate")
    return Statement(kind, subject_name, predicate)


def _check_fields(obj: object, what: str, fields: Mapping[str, type]) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise LedgerFormatError(what, "must be an object")
    for field, kind in fields.items():
        value = obj.get(field)
        if not isinstance(value, kind) or isinstance(value, bool) or value in ("", None):
            raise LedgerFormatError(f"{what}.{field}", f"must be a non-empty {kind.__name__}")
    return obj


def _check_predicate(predicate: object) -> None:
    pred = _check_fields(predicate, "predicate", {"ledger": dict, "software": dict})
    ledger = _check_fields(
        pred["ledger"], "predicate.ledger", {"origin": str, "index": int, "prev_leaf_hash": str}
    )
    if ledger["index"] < 0:
        raise LedgerFormatError("predicate.ledger.index", "must not be negative")
    if not _HEX64.fullmatch(ledger["prev_leaf_hash"]):
        raise LedgerFormatError("predicate.ledger.prev_leaf_hash", "must be 64 lowercase hex")
    software = _check_fields(pred["software"], "predicate.software", {"name": str, "version": str})
    if "sha256" in software and not _HEX64.fullmatch(str(software["sha256"])):
        raise LedgerFormatError("predicate.software.sha256", "must be 64 lowercase hex")


def parse(payload: bytes, kinds: Collection[str] = KINDS) -> Statement:
    """Parse and check a Statement payload: JCS bytes, type, known predicateType, digest."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError) as err:
        raise LedgerFormatError("statement", f"is not valid JSON: {err}") from err
    if canonical(obj, "statement") != payload:
        raise LedgerFormatError("statement", "is not in RFC 8785 canonical form")
    if not isinstance(obj, dict) or set(obj) != {"_type", "subject", "predicateType", "predicate"}:
        raise LedgerFormatError(
            "statement", "must hold exactly _type, subject, predicateType, predicate"
        )
    if obj["_type"] != STATEMENT_TYPE:
        raise LedgerFormatError("statement _type", f"{obj['_type']!r} is not {STATEMENT_TYPE}")
    kind = _kind_of(obj["predicateType"], kinds)
    subjects = obj["subject"]
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise LedgerFormatError("statement subject", "must be a list of exactly one subject")
    subject = subjects[0]
    if not isinstance(subject.get("name"), str):
        raise LedgerFormatError("statement subject", "must have a string name")
    statement = build(kind, subject["name"], obj["predicate"], kinds)
    digest = predicate_digest(statement.predicate)
    if set(subject) != {"name", "digest"} or subject["digest"] != {"sha256": digest}:
        raise LedgerFormatError(
            f"subject {statement.subject_name}", f"digest must be {{'sha256': {digest!r}}}"
        )
    return statement


def _kind_of(uri: object, kinds: Collection[str]) -> str:
    for kind in kinds:
        if uri == predicate_type(kind):
            return kind
    raise LedgerFormatError("statement predicateType", f"{uri!r} is not a known record kind")


def leaf_bytes(envelope: Mapping[str, Any]) -> bytes:
    """The Merkle leaf of a record: the JCS bytes of its DSSE envelope JSON object."""
    return canonical(envelope, "DSSE envelope")
