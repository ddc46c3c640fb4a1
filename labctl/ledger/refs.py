"""What a record refers to, by field.

The chain lot -> melt -> cast, job -> flask -> cast, cast -> QA, record -> correction;
indexed beside the log (``store_index``) at every append.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labctl.ledger import dsse, statement
from labctl.ledger.jcs import LedgerFormatError
from labctl.ledger.store_index import Ref


def references(kind: str, predicate: Mapping[str, Any]) -> list[Ref]:
    """The ``(field, id)`` pairs a record of ``kind`` refers to."""
    if kind == "melt":
        return [("lot", str(i["lot_id"])) for i in predicate.get("inputs", [])]
    if kind == "tree-flask":
        return [("job", str(j)) for j in predicate.get("job_ids", [])]
    if kind == "cast-record":
        return [("flask", str(predicate["flask_id"])), ("melt", str(predicate["melt_id"]))]
    if kind == "qa-balance":
        return [("cast", str(predicate["cast_id"]))]
    if kind == "correction":
        return [(f"corrects:{predicate['corrects_kind']}", str(predicate["corrects_id"]))]
    return []


def refs_of(kind: str, leaf: bytes) -> list[Ref]:
    """The references of a stored entry (for rebuilding the index); none if unreadable."""
    try:
        payload = dsse.Envelope.from_json(leaf).payload
        return references(kind, statement.parse(payload).predicate)
    except (LedgerFormatError, KeyError, TypeError, ValueError):
        return []
