"""Melt and QA metal-balance records and their exact arithmetic, in integers.

No floats anywhere (a signed payload must canonicalise identically everywhere, ledger.md §1.8).
The rounding rules, each chosen so that a rounded figure never flatters the lab:

- Fine metal: ``mass_mg * fineness_ppt`` is the fine-metal mass *exactly*, in micrograms
  (1 mg x 1 ‰ = 1 µg). Melts sum these exact µg over all lots and only then floor to whole mg
  (``fine_metal_mg``); the remainder (``fine_metal_ug % 1000``, under 1 mg) stays in the
  published exact µg figure, so no per-lot truncation ever accumulates.
- Fineness of a mix: ``Σ fine_ug / Σ mass_mg`` ‰, floored to a whole ‰ (never overstated).
- Recycled share: ``Σ recycled mass / Σ mass`` kept as an exact ``Fraction``; published as integer
  ppm *floored* (a recycled claim is never rounded up: 100 % only when every milligram is
  recycled) and as a percentage string with four decimals derived from that ppm.
- Metal-balance loss: ``loss_mg = input - pieces - scrap`` exactly, so
  ``pieces + scrap + loss == input`` always. Loss ‰ is *ceiled* (a loss is never understated);
  for an integer tolerance ``ceil(x) > tol`` exactly when ``x > tol``, so the published ‰ and
  the alarm always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, model_validator

from labctl.commands.registry import Id
from labctl.ledger.records import (
    CocClass,
    LotReceipt,
    MassMg,
    Metal,
    Name,
    Ppt,
    Record,
    StrictModel,
    distinct,
)

PPM = 1_000_000


def fine_metal_ug(mass_mg: int, fineness_ppt: int) -> int:
    """The fine-metal mass of ``mass_mg`` at ``fineness_ppt`` ‰, exactly, in micrograms."""
    return mass_mg * fineness_ppt


def floor_ppm(part: int, whole: int) -> int:
    """``part / whole`` in parts per million, rounded down."""
    return part * PPM // whole


def ceil_ppt(part: int, whole: int) -> int:
    """``part / whole`` in parts per thousand, rounded up (towards +inf)."""
    return -(-part * 1000 // whole)


def ppm_pct(ppm: int) -> str:
    """A ppm figure as a percentage string with four decimals: 999993 -> ``"99.9993"``."""
    whole, frac = divmod(ppm, 10_000)
    return f"{whole}.{frac:04d}"


@dataclass(frozen=True, slots=True)
class LotUse:
    """How much of one lot goes into a melt, with the lot's facts the sums need."""

    mass_mg: int
    fineness_ppt: int
    metal: str
    recycled: bool


@dataclass(frozen=True, slots=True)
class MeltSums:
    """Exact totals of a melt's inputs."""

    input_mg: int
    recycled_mg: int
    fine_ug: dict[str, int]  # by metal

    @property
    def recycled_share(self) -> Fraction:
        return Fraction(self.recycled_mg, self.input_mg)

    @property
    def recycled_ppm(self) -> int:
        return floor_ppm(self.recycled_mg, self.input_mg)

    def fineness_ppt(self, metal: str) -> int:
        """Fineness of the mix in ``metal``, floored to a whole ‰."""
        return self.fine_ug[metal] // self.input_mg


def melt_sums(uses: Iterable[LotUse]) -> MeltSums:
    """Sum the inputs of a melt exactly; needs at least one input of positive mass."""
    input_mg = recycled_mg = 0
    fine: dict[str, int] = {}
    for use in uses:
        input_mg += use.mass_mg
        recycled_mg += use.mass_mg if use.recycled else 0
        fine[use.metal] = fine.get(use.metal, 0) + fine_metal_ug(use.mass_mg, use.fineness_ppt)
    if input_mg <= 0:
        raise ValueError("a melt needs inputs of positive total mass")
    return MeltSums(input_mg, recycled_mg, dict(sorted(fine.items())))


@dataclass(frozen=True, slots=True)
class Balance:
    """Metal balance of a cast: ``pieces_mg + scrap_mg + loss_mg == input_mg``."""

    input_mg: int
    pieces_mg: int
    scrap_mg: int
    tolerance_ppt: int

    @property
    def loss_mg(self) -> int:
        """Unrecovered metal; negative when more was weighed out than in (a weighing error)."""
        return self.input_mg - self.pieces_mg - self.scrap_mg

    @property
    def loss_share(self) -> Fraction:
        return Fraction(self.loss_mg, self.input_mg)

    @property
    def loss_ppt(self) -> int:
        """Loss in ‰ of the input, rounded up."""
        return ceil_ppt(self.loss_mg, self.input_mg)

    @property
    def alarm(self) -> bool:
        """Loss above tolerance (exact comparison), or a gain (pieces and scrap exceed input)."""
        return self.loss_mg < 0 or self.loss_mg * 1000 > self.tolerance_ppt * self.input_mg


class MeltInput(StrictModel):
    """Mass taken from one lot, with the lot's class, metal and fineness copied from its receipt."""

    lot_id: Id
    mass_mg: Annotated[MassMg, Field(ge=1)]
    coc_class: CocClass
    metal: Metal
    fineness_ppt: Ppt


class Melt(Record):
    """Lots melted together into one alloy batch."""

    kind: ClassVar[str] = "melt"
    melt_id: Id
    alloy: Name
    inputs: Annotated[list[MeltInput], distinct("lot_id")] = Field(min_length=1, max_length=100)
    result_mass_mg: MassMg

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.result_mass_mg > self.sums.input_mg:
            raise ValueError(f"result_mass_mg is more than the inputs ({self.sums.input_mg} mg)")
        return self

    @classmethod
    def from_lots(
        cls, melt_id: str, alloy: str, uses: Sequence[tuple[LotReceipt, int]], result_mass_mg: int
    ) -> Melt:
        """A melt of ``(lot, mass_mg)`` pairs; refuses taking more from a lot than it holds."""
        for lot, mass_mg in uses:
            if mass_mg > lot.mass_mg:
                raise ValueError(f"lot {lot.lot_id}: {mass_mg} mg taken, only {lot.mass_mg} held")
        inputs = [
            MeltInput(
                lot_id=lot.lot_id,
                mass_mg=mass_mg,
                coc_class=lot.coc_class,
                metal=lot.metal,
                fineness_ppt=lot.fineness_ppt,
            )
            for lot, mass_mg in uses
        ]
        return cls(melt_id=melt_id, alloy=alloy, inputs=inputs, result_mass_mg=result_mass_mg)

    @property
    def record_id(self) -> str:
        return self.melt_id

    @property
    def sums(self) -> MeltSums:
        return melt_sums(
            LotUse(i.mass_mg, i.fineness_ppt, i.metal, i.coc_class == "recycled")
            for i in self.inputs
        )

    def derived(self) -> dict[str, Any]:
        sums = self.sums
        share = sums.recycled_share
        return {
            "input_mass_mg": sums.input_mg,
            "melt_loss_mg": sums.input_mg - self.result_mass_mg,
            "recycled_mass_mg": sums.recycled_mg,
            "recycled_share": f"{share.numerator}/{share.denominator}",
            "recycled_ppm": sums.recycled_ppm,
            "recycled_pct": ppm_pct(sums.recycled_ppm),
            "fine_metal_ug": sums.fine_ug,
            "fine_metal_mg": {metal: ug // 1000 for metal, ug in sums.fine_ug.items()},
            "fineness_ppt": {metal: sums.fineness_ppt(metal) for metal in sums.fine_ug},
            "input_coc_classes": sorted({i.coc_class for i in self.inputs}),
        }


class PieceMass(StrictModel):
    piece_id: Id
    mass_mg: MassMg


class QaBalance(Record):
    """QA weighing after a cast: pieces, recoverable scrap, and the exact loss with its alarm."""

    kind: ClassVar[str] = "qa-balance"
    cast_id: Id
    input_mass_mg: Annotated[MassMg, Field(ge=1)]
    pieces: Annotated[list[PieceMass], distinct("piece_id")] = Field(max_length=500)
    scrap_mg: MassMg
    tolerance_ppt: Ppt

    @property
    def record_id(self) -> str:
        return self.cast_id

    @property
    def balance(self) -> Balance:
        pieces_mg = sum(p.mass_mg for p in self.pieces)
        return Balance(self.input_mass_mg, pieces_mg, self.scrap_mg, self.tolerance_ppt)

    def derived(self) -> dict[str, Any]:
        b = self.balance
        return {
            "pieces_mass_mg": b.pieces_mg,
            "loss_mg": b.loss_mg,
            "loss_ppt": b.loss_ppt,
            "alarm": b.alarm,
        }
