"""Production records for the ledger (reference/ledger.md §2.2): strict, frozen, integer units.

Each record class has a ``kind`` (the last part of its predicateType URI, e.g.
``…/attestations/melt/v1``) and ``predicate()``: the plain JSON-able dict the statement carries,
i.e. the record's own fields plus the figures derived from them (exact metal sums, loss, alarm).
``from_predicate`` reads one back and refuses it if any derived figure does not follow from the
fields. Masses are integer mg, fineness and loss integer ‰, temperatures integer °C, vacuum
integer Pa (1 mbar = 100 Pa): no floats, so the canonical JSON is the same in every language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from labctl.commands.registry import Id
from labctl.profiles.alloys import PieceClass

MAX_MASS_MG = 10**10  # 10 t: every product below stays under 2**53, the JCS integer limit
STATEMENT_KEYS = frozenset({"ledger", "software"})  # added around a predicate by the statement


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError("not a SHA-256: needs 64 lowercase hex digits")
    return value


def unique_ids(values: list[str]) -> list[str]:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"duplicates: {', '.join(dupes)}")
    return values


def distinct(attr: str) -> AfterValidator:
    """A list validator: no two items share ``attr``."""

    def check(items: list[Any]) -> list[Any]:
        unique_ids([getattr(item, attr) for item in items])
        return items

    return AfterValidator(check)


Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Sha256Hex = Annotated[str, AfterValidator(_sha256)]
MassMg = Annotated[int, Field(strict=True, ge=0, le=MAX_MASS_MG)]
Ppt = Annotated[int, Field(strict=True, ge=0, le=1000)]
Metal = Literal["gold", "silver", "platinum", "palladium"]
CocClass = Literal["mined", "recycled", "grandfathered"]
Celsius = Annotated[int, Field(strict=True, ge=0, le=2000)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Document(StrictModel):
    """A file by name and the lowercase hex SHA-256 of its bytes."""

    name: Text
    sha256: Sha256Hex


class Record(StrictModel):
    """Base of every ledger record."""

    kind: ClassVar[str]

    @property
    def record_id(self) -> str:
        """The id a statement's subject name is built from."""
        raise NotImplementedError

    def derived(self) -> dict[str, Any]:
        """Figures computed from the fields (exact integers), published beside them."""
        return {}

    def predicate(self) -> dict[str, Any]:
        """The JSON-able predicate: the fields, then the derived figures."""
        return {**self.model_dump(mode="json"), **self.derived()}

    @classmethod
    def from_predicate(cls, data: Mapping[str, Any]) -> Self:
        """Parse a predicate back; ``ValueError`` if a derived figure is wrong or unknown."""
        fields = {k: v for k, v in data.items() if k in cls.model_fields}
        record = cls.model_validate(fields)
        rest = {k: v for k, v in data.items() if k not in fields and k not in STATEMENT_KEYS}
        expected = record.derived()
        for key in sorted(rest.keys() | expected.keys()):
            if rest.get(key) != expected.get(key):
                raise ValueError(
                    f"{key}: is {rest.get(key)!r}, the fields give {expected.get(key)!r}"
                )
        return record


class Supplier(StrictModel):
    name: Text
    rjc_coc_certificate: Text | None = None


class LotReceipt(Record):
    """Metal received into stock, weighed on our scale."""

    kind: ClassVar[str] = "lot-receipt"
    lot_id: Id
    received_at: AwareDatetime
    received_by: Id
    supplier: Supplier
    coc_class: CocClass
    metal: Metal
    fineness_ppt: Ppt
    mass_mg: Annotated[MassMg, Field(ge=1)]
    documents: list[Document] = Field(default_factory=list, max_length=32)

    @property
    def record_id(self) -> str:
        return self.lot_id

    def derived(self) -> dict[str, Any]:
        return {"fine_metal_ug": self.mass_mg * self.fineness_ppt}  # exact: 1 mg x 1 ‰ = 1 µg


class JobTicket(Record):
    """A customer's job: the pieces to cast from one CAD file, in one alloy."""

    kind: ClassVar[str] = "job-ticket"
    job_id: Id
    customer_order: Text
    piece_ids: Annotated[list[Id], AfterValidator(unique_ids)] = Field(min_length=1, max_length=500)
    cad_file: Document
    alloy: Name
    piece_class: PieceClass

    @property
    def record_id(self) -> str:
        return self.job_id


class TreeFlask(Record):
    """Which jobs are on which wax tree, invested in which flask."""

    kind: ClassVar[str] = "tree-flask"
    flask_id: Id
    tree_id: Id
    job_ids: Annotated[list[Id], AfterValidator(unique_ids)] = Field(min_length=1, max_length=200)
    wax_mass_mg: MassMg | None = None

    @property
    def record_id(self) -> str:
        return self.flask_id


class Confirmation(StrictModel):
    step: Id
    by: Id
    at: AwareDatetime


class ProcessSummary(StrictModel):
    """What the cast did: ``min_vacuum_pa`` (vacuum) or ``spin_rpm`` (centrifugal).

    A completed cast has exactly one of them; a cast that ended early may have neither (the
    step was never reached), and ``outcome_detail`` says why it ended.
    """

    peak_kiln_c: Celsius | None  # None: no stored burnout run of this flask (see ``burnout``)
    flask_c_at_cast: Celsius
    pour_c: Celsius
    min_vacuum_pa: Annotated[int, Field(strict=True, ge=0, le=200_000)] | None = None
    spin_rpm: Annotated[int, Field(strict=True, ge=0, le=5000)] | None = None
    outcome: Literal["complete", "aborted", "fault", "interrupted"]
    outcome_detail: Annotated[str, Field(max_length=300)] = ""

    @model_validator(mode="after")
    def _one_method(self) -> Self:
        if self.min_vacuum_pa is not None and self.spin_rpm is not None:
            raise ValueError("give min_vacuum_pa (vacuum) or spin_rpm (centrifugal), not both")
        if self.outcome == "complete" and self.min_vacuum_pa is None and self.spin_rpm is None:
            raise ValueError("a complete cast needs min_vacuum_pa (vacuum) or spin_rpm")
        return self


class TelemetryDigest(StrictModel):
    """SHA-256 of the canonical export of the cast's raw series, archived beside the ledger."""

    file_name: Text
    sha256: Sha256Hex


class Gap(StrictModel):
    """A stretch of a burnout run with no stored samples (the daemon was down, or lost them)."""

    from_at: AwareDatetime
    to_at: AwareDatetime


class BurnoutEvidence(StrictModel):
    """What the burnout figures are read from.

    The stored samples of the run (``run_id``) that burnt the flask out, how many there are,
    and every gap in them.
    """

    run_id: Annotated[int, Field(strict=True, ge=1, le=2**53 - 1)]
    samples: Annotated[int, Field(strict=True, ge=0, le=10**6)]
    gaps: list[Gap] = Field(default_factory=list, max_length=100)
    gaps_total: Annotated[int, Field(strict=True, ge=0, le=10**6)] = 0


class CastRecord(Record):
    """One cast: flask, melt, machines, program, confirmations, summary and telemetry digest."""

    kind: ClassVar[str] = "cast-record"
    cast_id: Id
    flask_id: Id
    melt_id: Id
    kiln_id: Id
    caster_id: Id
    burnout_profile: Name
    alloy: Name
    confirmations: list[Confirmation] = Field(default_factory=list, max_length=50)
    process: ProcessSummary
    telemetry: TelemetryDigest
    burnout: BurnoutEvidence | None = None  # None: no burnout run names this flask

    @property
    def record_id(self) -> str:
        return self.cast_id
