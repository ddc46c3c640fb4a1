"""The typed segments of a burnout schedule, validated as a whole."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ramp:
    """Heat to ``target_c`` at ``rate_c_per_h`` (None: as fast as the kiln can, then wait)."""

    target_c: float
    rate_c_per_h: float | None


@dataclass(frozen=True, slots=True)
class Step:
    """Setpoint jumps to ``target_c`` and the program moves on at once."""

    target_c: float


@dataclass(frozen=True, slots=True)
class Hold:
    """Soak at the current target; the timer runs only while PV is inside the soak band."""

    duration_min: float


@dataclass(frozen=True, slots=True)
class Cool:
    """Controlled cool to ``target_c`` at ``rate_c_per_h``."""

    target_c: float
    rate_c_per_h: float


@dataclass(frozen=True, slots=True)
class FinalHold:
    """Hold at the flask casting temperature until the flask is taken."""

    target_c: float


Segment = Ramp | Step | Hold | Cool | FinalHold


def describe(seg: Segment) -> str:
    """Plain words for one segment."""
    match seg:
        case Ramp(target_c=t, rate_c_per_h=None):
            return f"heat to {t:.0f} °C at full power"
        case Ramp(target_c=t, rate_c_per_h=r):
            return f"ramp to {t:.0f} °C at {r:.0f} °C/h"
        case Step(target_c=t):
            return f"step to {t:.0f} °C"
        case Hold(duration_min=d):
            return f"hold {d:.0f} min"
        case Cool(target_c=t, rate_c_per_h=r):
            return f"cool to {t:.0f} °C at {r:.0f} °C/h"
        case FinalHold(target_c=t):
            return f"final hold at {t:.0f} °C"
    raise AssertionError(seg)


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    """A burnout schedule; ``__post_init__`` rejects inconsistent ones with a reason."""

    name: str
    segments: tuple[Segment, ...]
    max_temp_c: float
    holdback_band_c: float
    holdback_limit_min: float
    soak_band_c: float

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem is not None:
            raise ValueError(problem)

    @property
    def casting_temp_c(self) -> float:
        last = self.segments[-1]
        assert isinstance(last, FinalHold)
        return last.target_c


def _problem(s: Schedule) -> str | None:
    if not s.segments or not isinstance(s.segments[-1], FinalHold):
        return "the last segment must be a final_hold at casting temperature"
    if not isinstance(s.segments[0], Ramp | Step):
        return "the first segment must be a ramp or a step"
    if min(s.holdback_band_c, s.soak_band_c, s.holdback_limit_min) <= 0:
        return "holdback_band_c, soak_band_c and holdback_limit_min must be positive"
    level: float | None = None
    for i, seg in enumerate(s.segments):
        where = f"segment {i + 1} ({describe(seg)})"
        if isinstance(seg, FinalHold) and i != len(s.segments) - 1:
            return f"{where}: final_hold must be the last segment"
        target = getattr(seg, "target_c", None)
        if target is not None:
            if target > s.max_temp_c:
                return f"{where}: above the profile's max_temp_c {s.max_temp_c:.0f} °C"
            if isinstance(seg, Ramp) and level is not None and target <= level:
                return f"{where}: a ramp must go up from {level:.0f} °C (use cool to go down)"
            if isinstance(seg, Cool) and level is not None and target >= level:
                return f"{where}: a cool must go down from {level:.0f} °C"
            if isinstance(seg, Step | FinalHold) and level is not None:
                jump = target - level
                if jump > s.holdback_band_c:
                    return (
                        f"{where}: {jump:.0f} °C above the {level:.0f} °C before it with no ramp "
                        f"(more than the {s.holdback_band_c:.0f} °C band): the kiln would heat at "
                        "full power; add a ramp with a rate"
                    )
            level = target
        rate = getattr(seg, "rate_c_per_h", None)
        if rate is not None and rate <= 0:
            return f"{where}: rate_c_per_h must be positive"
        if isinstance(seg, Hold) and seg.duration_min <= 0:
            return f"{where}: hold_min must be positive"
    return None
