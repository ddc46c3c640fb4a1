"""Alloy profiles (``profiles/alloys/*.toml``).

Each carries the melting range, pour and flask temperatures, casting parameters and the burnout
schedules the alloy allows, with the source of every number in a comment (the documents are listed
in ``profiles/README.md``). Melting ranges vary by ±50 °C between formulations, so a lab overrides
them from its supplier's data sheet: they are data, not code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from labctl.config.base import Name, Strict, read_toml, validate
from labctl.errors import LabctlError, ProfileError

PieceClass = Literal["thin", "medium", "heavy"]
GYPSUM_LIMIT_C = 788.0  # Stuller "Investment casting checklist": don't exceed 1450 °F in burnout


class FlaskTemps(Strict):
    """Flask casting temperature by piece class (filigree/thin, medium, heavy)."""

    thin_c: float = Field(ge=20, le=1000)
    medium_c: float = Field(ge=20, le=1000)
    heavy_c: float = Field(ge=20, le=1000)

    def for_class(self, piece_class: PieceClass) -> float:
        return {"thin": self.thin_c, "medium": self.medium_c, "heavy": self.heavy_c}[piece_class]


class VacuumCast(Strict):
    """Vacuum-assist casting parameters."""

    target_mbar: float = Field(gt=0, le=500)
    evacuate_limit_s: float = Field(gt=0, le=600)
    hold_s: float = Field(gt=0, le=600)


class CentrifugalCast(Strict):
    """Centrifugal casting parameters."""

    spin_rpm: float = Field(gt=0, le=1500)
    spin_up_s: float = Field(gt=0, le=30)
    spin_hold_s: float = Field(gt=0, le=600)


class Alloy(Strict):
    """One file in ``profiles/alloys/``."""

    schema_version: Literal[1]
    name: Name
    description: str = Field(max_length=300)
    metal: Literal["gold", "silver", "platinum", "palladium"]
    fineness_ppt: int = Field(ge=1, le=1000)  # parts per thousand of the named metal
    colour: Literal["yellow", "white", "rose", "grey"]
    investment: Literal["gypsum", "phosphate"]
    solidus_c: float = Field(gt=0, le=2000)
    liquidus_c: float = Field(gt=0, le=2000)
    pour_temp_c: float = Field(gt=0, le=2000)
    crucible_max_c: float = Field(gt=0, le=2000)  # the crucible this alloy needs
    flask: FlaskTemps
    vacuum: VacuumCast | None = None
    centrifugal: CentrifugalCast | None = None
    burnout_profiles: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Alloy:
        if not self.solidus_c <= self.liquidus_c < self.pour_temp_c:
            raise ValueError("needs solidus_c <= liquidus_c < pour_temp_c")
        if self.pour_temp_c > self.crucible_max_c:
            raise ValueError("pour_temp_c is above crucible_max_c")
        if self.vacuum is None and self.centrifugal is None:
            raise ValueError("give vacuum and/or centrifugal casting parameters")
        if (
            self.investment == "gypsum"
            and max(self.flask.thin_c, self.flask.medium_c, self.flask.heavy_c) > GYPSUM_LIMIT_C
        ):
            raise ValueError(f"a flask temperature is above the gypsum limit {GYPSUM_LIMIT_C} °C")
        return self


def load_alloy(path: Path) -> Alloy:
    """Read one alloy file; ProfileError names file, field and problem."""
    alloy = validate(Alloy, read_toml(path, ProfileError, "a profile"), path, ProfileError)
    if alloy.name != path.stem:
        raise ProfileError(path, "name", f"{alloy.name!r} must match the file name")
    return alloy


class AlloyUnusable(LabctlError):
    """The alloy a command names is not in the library or not valid (the reason in words)."""


def load_alloy_named(profiles_dir: Path, name: str) -> Alloy:
    """The alloy ``name`` from the library under ``profiles_dir``; AlloyUnusable if unusable."""
    path = profiles_dir / "alloys" / f"{name}.toml"
    if not path.is_file():
        raise AlloyUnusable(f"no alloy profile {name!r} in {path.parent}")
    try:
        return load_alloy(path)
    except ProfileError as err:
        raise AlloyUnusable(f"alloy not usable: {err}") from err


def check_alloy_references(path: Path, alloy: Alloy, burnout_dir: Path) -> None:
    """Every burnout schedule an alloy allows must exist in the library."""
    for i, name in enumerate(alloy.burnout_profiles):
        if not (burnout_dir / f"{name}.toml").is_file():
            raise ProfileError(
                path, f"burnout_profiles[{i}]", f"no burnout profile {name!r} in {burnout_dir}"
            )
