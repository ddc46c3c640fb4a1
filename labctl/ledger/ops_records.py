"""Records about the ledger and the lab: key rotation, safety trip, correction.

The correction that fixes a record already signed (records are never replaced: ids are unique
per kind, so a wrong lot receipt stays in the log, and a correction names it and replaces it
for every later check).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from labctl.ledger.metal import Melt, QaBalance
from labctl.ledger.records import Celsius, Id, JobTicket, LotReceipt, Record, Text, TreeFlask

#: The record kinds a correction may replace (cast records and trips are measured, not told).
CORRECTABLE: dict[str, type[Record]] = {
    c.kind: c for c in (LotReceipt, Melt, JobTicket, TreeFlask, QaBalance)
}
CorrectableKind = Literal["lot-receipt", "melt", "job-ticket", "tree-flask", "qa-balance"]


class KeyRotation(Record):
    """A new signing key (signed-note vkey), effective from a log index on."""

    kind: ClassVar[str] = "key-rotation"
    new_vkey: Annotated[str, Field(pattern=r"^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+={0,2}$")]
    effective_index: Annotated[int, Field(strict=True, ge=0, le=2**53 - 1)]

    @property
    def record_id(self) -> str:
        return f"key-rotation-{self.effective_index}"


class SafetyTrip(Record):
    """An interlock ended a burnout run: which run and machine, why, when, and how hot it got.

    ``peak_c`` is the highest temperature read during the run before the trip (never the reading
    that tripped it, which may be an open sensor's full-scale value).
    """

    kind: ClassVar[str] = "safety-trip"
    run_id: Id
    machine: Id
    reason: Text
    tripped_at: AwareDatetime
    peak_c: Celsius

    @property
    def record_id(self) -> str:
        return self.run_id


class Correction(Record):
    """Replaces a record already signed, from now on, for every later check.

    It names the record ``corrects_kind`` ``corrects_id`` (entry ``corrects_index``), and gives
    ``replacement`` (a whole record of that kind, same id) from now on, for ``reason``.
    """

    kind: ClassVar[str] = "correction"
    correction_id: Id
    corrects_kind: CorrectableKind
    corrects_id: Id
    corrects_index: Annotated[int, Field(strict=True, ge=0, le=2**53 - 1)]
    reason: Text
    by: Id
    replacement: dict[str, Any]

    @model_validator(mode="after")
    def _replacement_is_that_record(self) -> Self:
        if self.corrected.record_id != self.corrects_id:
            raise ValueError(f"replacement must keep the id {self.corrects_id}")
        return self

    @property
    def corrected(self) -> Record:
        """The replacement, as the record it replaces (ValueError if it is not one)."""
        return CORRECTABLE[self.corrects_kind].model_validate(self.replacement)

    @property
    def record_id(self) -> str:
        return self.correction_id
