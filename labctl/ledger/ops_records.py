"""Records about the ledger and the lab: key rotation, safety trip, commissioning, correction.

The correction that fixes a record already signed (records are never replaced: ids are unique
per kind, so a wrong lot receipt stays in the log, and a correction names it and replaces it
for every later check).
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from labctl.commands.registry import Id
from labctl.ledger.metal import Melt, QaBalance
from labctl.ledger.records import (
    Celsius,
    JobTicket,
    LotReceipt,
    Name,
    Record,
    Sha256Hex,
    StrictModel,
    Text,
    TreeFlask,
)

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


class DeviceCheck(StrictModel):
    """One commissioning check: what was checked, whether it passed, and what was measured.

    ``measured`` holds integers in the unit its key names (``median_us``, ``fallback_ms``,
    ``range_hi_dc`` for deci-degrees), so the canonical JSON is the same in every language.
    """

    name: Name
    passed: bool
    detail: Annotated[str, Field(max_length=500)]
    measured: dict[Name, Annotated[int, Field(strict=True, ge=-(2**53) + 1, le=2**53 - 1)]] = Field(
        default_factory=dict, max_length=32
    )


class Commissioning(Record):
    """A device checked against labctl's table of its family before a lab streams heat to it.

    ``device`` is the machine and role (``kiln1``, ``caster1.io``); ``config_digest`` is the
    SHA-256 of the site configuration the checks depend on (``labctl.commission.record``), so a
    changed bus, unit or lease makes the record stale. ``passed`` is every check passing.
    """

    kind: ClassVar[str] = "commissioning"
    device: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,130}$")]
    family: Name
    identity: dict[Name, Annotated[str, Field(max_length=100)]] = Field(max_length=16)
    firmware: Annotated[str, Field(max_length=100)] | None
    config_digest: Sha256Hex
    checks: list[DeviceCheck] = Field(min_length=1, max_length=64)
    passed: bool
    at: AwareDatetime
    who: Id | None = None

    @model_validator(mode="after")
    def _passed_is_every_check(self) -> Self:
        if self.passed != all(check.passed for check in self.checks):
            raise ValueError("passed must say whether every check passed")
        return self

    @property
    def record_id(self) -> str:
        """Unique per commissioning: the time (to the microsecond) and the config digest."""
        stamp = self.at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        return f"{stamp}-{self.config_digest[:16]}"


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
