"""Site-config sections for burnout kilns: ``[kilns.NAME]`` and its interlocks and resume rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from labctl.config.base import Strict
from labctl.config.limits import InterlockLimits


class InterlockSection(Strict):
    """``[kilns.NAME.interlocks]``: see :mod:`labctl.kiln.interlocks` for each check."""

    over_temp_margin_c: float = Field(default=10.0, ge=0, le=50)
    stale_after_s: float = Field(default=30.0, gt=0, le=600)
    stall_grace_min: float = Field(default=30.0, ge=0)
    stall_window_min: float = Field(default=20.0, gt=0)
    stall_min_rate_c_per_h: float = Field(default=20.0, ge=0)
    stall_output_pct: float = Field(default=95.0, gt=0, le=100)
    runaway_window_min: float = Field(default=10.0, gt=0)
    runaway_rise_c: float = Field(default=25.0, gt=0)
    runaway_output_pct: float = Field(default=5.0, ge=0, lt=100)

    def limits(self, max_temp_c: float) -> InterlockLimits:
        return InterlockLimits(
            max_temp_c=max_temp_c,
            over_temp_margin_c=self.over_temp_margin_c,
            stale_after_s=self.stale_after_s,
            stall_grace_s=self.stall_grace_min * 60,
            stall_window_s=self.stall_window_min * 60,
            stall_min_rate_c_per_h=self.stall_min_rate_c_per_h,
            stall_output_pct=self.stall_output_pct,
            runaway_window_s=self.runaway_window_min * 60,
            runaway_rise_c=self.runaway_rise_c,
            runaway_output_pct=self.runaway_output_pct,
        )


class ResumeSection(Strict):
    """``[kilns.NAME.resume]``: when a restarted daemon may continue a run."""

    max_gap_min: float = Field(default=20.0, ge=0)
    max_drop_c: float = Field(default=50.0, ge=0)


class KilnSection(Strict):
    """``[kilns.NAME]``: a burnout kiln and the controller that drives it."""

    controller: str
    flask_tc: str | None = None  # an adam4018 channel on the flask core: shown, never acted on
    mode: Literal["programmer", "stream"] = "programmer"
    max_temp_c: float = Field(gt=0, le=1200)
    fallback_sp_c: float = Field(default=0.0, ge=0, le=1200)  # stream mode: SP on comms loss
    interlocks: InterlockSection = InterlockSection()
    resume: ResumeSection = ResumeSection()

    @model_validator(mode="after")
    def _fallback_below_max(self) -> KilnSection:
        if self.fallback_sp_c >= self.max_temp_c:
            raise ValueError("fallback_sp_c must be below max_temp_c")
        if self.interlocks.runaway_output_pct >= self.interlocks.stall_output_pct:
            raise ValueError("interlocks.runaway_output_pct must be below stall_output_pct")
        return self

    def roles(self) -> dict[str, str]:
        """Role -> device name, for the devices this kiln uses."""
        named = {"controller": self.controller, "flask_tc": self.flask_tc}
        return {role: dev for role, dev in named.items() if dev is not None}
