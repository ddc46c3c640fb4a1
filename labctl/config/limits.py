"""The limits the site config sets for each machine, in the form the pure control cores read.

Plain frozen dataclasses (no pydantic, no drivers), so :mod:`labctl.kiln.interlocks` and
:mod:`labctl.cast.params` can take them without reading a site file: ``[kilns.NAME.interlocks]``
becomes :class:`InterlockLimits`, ``[casters.NAME]`` becomes :class:`CasterLimits`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class InterlockLimits:
    """One kiln's interlock thresholds; :mod:`labctl.kiln.interlocks` explains each check."""

    max_temp_c: float  # the caller's min(profile max, kiln max, device range)
    over_temp_margin_c: float = 0.0  # tolerance above max_temp_c
    stale_after_s: float  # longest tolerated time without a good reading
    stall_grace_s: float  # after the start or a setpoint step up, before stalls count
    stall_window_s: float
    stall_min_rate_c_per_h: float  # slowest acceptable rise with the output saturated
    stall_output_pct: float  # output at or above this is saturated
    runaway_window_s: float
    runaway_rise_c: float  # largest acceptable rise over the window with the output off
    runaway_output_pct: float  # output at or below this is off
    stall_step_up_c: float = 50.0  # a larger setpoint rise between observations restarts grace

    def __post_init__(self) -> None:
        if not min(self.stale_after_s, self.stall_window_s, self.runaway_window_s) > 0:
            raise ValueError("stale_after_s and the stall and runaway windows must be positive")
        if self.runaway_output_pct >= self.stall_output_pct:
            raise ValueError("runaway_output_pct must be below stall_output_pct")


class CasterKind(enum.StrEnum):
    """How the mould is filled."""

    VACUUM = "vacuum"
    CENTRIFUGAL = "centrifugal"


@dataclass(frozen=True, slots=True, kw_only=True)
class CasterLimits:
    """What the site config says about one caster (see ``[casters.NAME]``)."""

    kind: CasterKind
    crucible_max_c: float  # the crucible fitted to this machine
    pour_band_c: float = 10.0  # the melt counts as at pour temperature within this band
    stabilise_s: float = 30.0  # ... continuously for this long
    melt_limit_s: float = 2700.0
    overshoot_c: float = 40.0  # crucible over-temperature trip above pour temperature
    tc_agree_c: float = 30.0  # crucible controller vs independent thermocouple
    confirm_timeout_s: float = 180.0  # a person must confirm within this time
    flask_tolerance_c: float = 40.0  # flask temperature window around the alloy's value
    pour_s: float = 3.0
    vacuum_lost_factor: float = 2.0  # during the hold: above target x this is a loss
    vent_limit_s: float = 60.0
    vented_mbar: float = 900.0
    pump_feedback_s: float = 5.0
    spin_margin_s: float = 10.0  # allowed beyond the alloy's spin-up time
    brake_limit_s: float = 60.0
    rpm_per_hz: float = 29.0  # arm rpm per drive Hz (motor poles, slip, belt ratio)
    stale_after_s: float = 10.0
