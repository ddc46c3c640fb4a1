"""The burnout profile file format: pydantic models, strict, units in field names."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from labctl.config.base import Name, Strict


class RampModel(Strict):
    """Heat at a rate (omit ``rate_c_per_h`` for full power)."""

    kind: Literal["ramp"]
    target_c: float = Field(gt=0, le=1200)
    rate_c_per_h: float | None = Field(default=None, gt=0, le=1000)


class StepModel(Strict):
    kind: Literal["step"]
    target_c: float = Field(gt=0, le=1200)


class HoldModel(Strict):
    kind: Literal["hold"]
    hold_min: float = Field(gt=0, le=48 * 60)


class CoolModel(Strict):
    kind: Literal["cool"]
    target_c: float = Field(gt=0, le=1200)
    rate_c_per_h: float = Field(gt=0, le=1000)


class FinalHoldModel(Strict):
    """Hold at the casting temperature (the profile's ``casting_temp_c``) until taken."""

    kind: Literal["final_hold"]


SegmentModel = Annotated[
    RampModel | StepModel | HoldModel | CoolModel | FinalHoldModel, Field(discriminator="kind")
]


class BurnoutProfile(Strict):
    """One file in ``profiles/burnout/``."""

    schema_version: Literal[1]
    name: Name
    description: str = Field(max_length=500)
    investment: Literal["gypsum", "phosphate"]
    pattern: Literal["wax", "resin"]
    flask: Literal["small", "medium", "large"]
    max_temp_c: float = Field(gt=0, le=1200)
    casting_temp_c: float = Field(gt=0, le=1000)
    holdback_band_c: float = Field(gt=0, le=200)
    holdback_limit_min: float = Field(gt=0, le=24 * 60)
    soak_band_c: float = Field(gt=0, le=100)
    segments: list[SegmentModel] = Field(min_length=2, max_length=32)
