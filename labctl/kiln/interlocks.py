"""The kiln interlocks: pure trip decisions, evaluated every control tick before the program.

No clock, no I/O: :func:`evaluate` takes this tick's observation and the clock time ``now`` and
returns the next :class:`InterlockState` and at most one :class:`Trip`, whose reason (written
for the technician) the shutdown records as *faulted: <reason>*. In precedence order:

1. Over-temperature: PV above ``max_temp_c + over_temp_margin_c``, or over the device range.
2. Sensor break: the device flags a broken sensor, or a reading came without a valid PV.
3. Stale reading: no good reading for more than ``stale_after_s`` (counted from the start).
4. Runaway: over a full runaway window the output stayed at or below ``runaway_output_pct``
   yet PV rose by more than ``runaway_rise_c`` (a welded contactor, a stuck-on relay).
5. Heating stall: over a full stall window with the output at or above ``stall_output_pct``
   and the setpoint above PV throughout, PV rose slower than ``stall_min_rate_c_per_h``. Not
   during the grace period, which runs from the start and restarts when the setpoint rises by
   more than ``stall_step_up_c`` between two observations (ramps move far less per tick).

A window runs from the newest sample at or before ``now - window``: coarse ticks (up to a
minute) and missed readings lengthen it; with too little history a check stays quiet.
"""

from __future__ import annotations

import enum
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace

from labctl.config.limits import InterlockLimits


class TripKind(enum.StrEnum):
    """Why the interlocks stopped a run."""

    OVER_TEMPERATURE = "over_temperature"
    SENSOR_BREAK = "sensor_break"
    STALE_READING = "stale_reading"
    HEATING_STALL = "heating_stall"
    RUNAWAY = "runaway"


@dataclass(frozen=True, slots=True)
class Trip:
    """An interlock decision to shut down; ``reason`` is plain words with numbers and units."""

    kind: TripKind
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """What the controller reported this tick."""

    at: float  # clock time of the reading, s
    pv_c: float | None  # None when the device gave no value
    output_pct: float | None  # None when unknown
    setpoint_c: float  # the program's working setpoint
    sensor_break: bool = False  # the device flags an open or broken sensor
    pv_over_range: bool = False  # the device reports PV beyond the top of its range


@dataclass(frozen=True, slots=True)
class Sample:
    """One good reading kept for the rate checks."""

    at: float
    pv_c: float
    output_pct: float | None
    setpoint_c: float


@dataclass(frozen=True, slots=True, kw_only=True)
class InterlockState:
    """What the interlocks remember between ticks. Replaced, never mutated."""

    samples: tuple[Sample, ...] = ()  # good readings, oldest first, trimmed to the longest window
    grace_from: float  # start of the stall grace period: run start or the last step up
    last_good_at: float  # time of the last good reading (start of monitoring before one)
    last_setpoint_c: float | None = None  # of the previous observation, to notice steps up

    @classmethod
    def start(cls, now: float) -> InterlockState:
        """The state at the start (or resumption) of monitoring a run at clock time ``now``."""
        return cls(grace_from=now, last_good_at=now)


def evaluate(
    limits: InterlockLimits, state: InterlockState, obs: Observation | None, now: float
) -> tuple[InterlockState, Trip | None]:
    """Fold this tick's observation into the state and decide whether to trip.

    Args:
        limits: The kiln's thresholds.
        state: The state returned by the previous call (or :meth:`InterlockState.start`).
        obs: This tick's observation, or None when no reading arrived.
        now: Clock time of the tick, in seconds.

    Returns:
        The next state and the trip with the highest precedence, or None.

    """
    state = _fold(limits, state, obs, now)
    trip = (
        _reading_trip(limits, obs)
        or _stale(limits, state, now)
        or _runaway(limits, state.samples, now)
        or _stall(limits, state, now)
    )
    return state, trip


def _fold(
    limits: InterlockLimits, state: InterlockState, obs: Observation | None, now: float
) -> InterlockState:
    if obs is None:
        return state
    previous_sp_c = obs.setpoint_c if state.last_setpoint_c is None else state.last_setpoint_c
    if obs.setpoint_c - previous_sp_c > limits.stall_step_up_c:
        state = replace(state, grace_from=max(state.grace_from, obs.at))
    state = replace(state, last_setpoint_c=obs.setpoint_c)
    if obs.sensor_break or obs.pv_c is None or not math.isfinite(obs.pv_c):
        return state
    state = replace(state, last_good_at=max(state.last_good_at, obs.at))
    if state.samples and obs.at <= state.samples[-1].at:
        return state  # a repeated or out-of-order reading adds nothing to the rates
    samples = (*state.samples, Sample(obs.at, obs.pv_c, obs.output_pct, obs.setpoint_c))
    first = _newest_until(samples, now - max(limits.stall_window_s, limits.runaway_window_s))
    return replace(state, samples=samples[max(first, 0) :])


def _newest_until(samples: Sequence[Sample], cutoff: float) -> int:
    """Index of the newest sample at or before ``cutoff``; -1 when every sample is newer."""
    return bisect_right(samples, cutoff, key=lambda s: s.at) - 1


def _window(
    samples: Sequence[Sample], window_s: float, now: float
) -> tuple[Sequence[Sample], list[float]] | None:
    """The samples covering the last ``window_s`` and their outputs; None if any is unknown."""
    first = _newest_until(samples, now - window_s)
    if first in (-1, len(samples) - 1):
        return None
    outputs = [s.output_pct for s in samples[first:] if s.output_pct is not None]
    return (samples[first:], outputs) if len(outputs) == len(samples) - first else None


def _reading_trip(limits: InterlockLimits, obs: Observation | None) -> Trip | None:
    if obs is None:
        return None
    limit_c = limits.max_temp_c + limits.over_temp_margin_c
    pv = "beyond the sensor's range," if obs.pv_over_range else None
    if obs.pv_c is not None and obs.pv_c > limit_c:
        pv = format_c(obs.pv_c)
    if pv is not None:
        return Trip(
            TripKind.OVER_TEMPERATURE,
            f"over-temperature: PV {pv} above the limit {format_c(limit_c)}",
        )
    if obs.sensor_break:
        return Trip(TripKind.SENSOR_BREAK, "sensor break: the controller reports an open sensor")
    if obs.pv_c is None or not math.isfinite(obs.pv_c):
        return Trip(TripKind.SENSOR_BREAK, "sensor break: the controller gave no valid PV")
    return None


def _stale(limits: InterlockLimits, state: InterlockState, now: float) -> Trip | None:
    age_s = now - state.last_good_at
    if age_s <= limits.stale_after_s:
        return None
    return Trip(
        TripKind.STALE_READING,
        f"stale reading: no valid temperature for {format_duration(age_s)} "
        f"(limit {format_duration(limits.stale_after_s)})",
    )


def _runaway(limits: InterlockLimits, samples: Sequence[Sample], now: float) -> Trip | None:
    covered = _window(samples, limits.runaway_window_s, now)
    if covered is None or max(covered[1]) > limits.runaway_output_pct:
        return None
    window, outputs = covered
    rise_c = window[-1].pv_c - window[0].pv_c
    if rise_c <= limits.runaway_rise_c:
        return None
    return Trip(
        TripKind.RUNAWAY,
        f"runaway: PV rose {format_c(rise_c)} over the last "
        f"{format_duration(window[-1].at - window[0].at)} with output at {_number(max(outputs))} %"
        f" (limit {format_c(limits.runaway_rise_c)}); check for a stuck contactor or relay",
    )


def _stall(limits: InterlockLimits, state: InterlockState, now: float) -> Trip | None:
    if now - state.grace_from < limits.stall_grace_s:
        return None
    covered = _window(state.samples, limits.stall_window_s, now)
    if covered is None or min(covered[1]) < limits.stall_output_pct:
        return None
    window, outputs = covered
    if any(s.setpoint_c <= s.pv_c for s in window):
        return None
    span_s = window[-1].at - window[0].at
    rate_c_per_h = (window[-1].pv_c - window[0].pv_c) / span_s * 3600.0
    if rate_c_per_h >= limits.stall_min_rate_c_per_h:
        return None
    return Trip(
        TripKind.HEATING_STALL,
        f"heating stall: {format_c(rate_c_per_h)}/h over the last {format_duration(span_s)} "
        f"with output at {_number(min(outputs))} % "
        f"(minimum {format_c(limits.stall_min_rate_c_per_h)}/h)",
    )


def _number(value: float) -> str:
    return f"{round(value, 1) + 0.0:g}"


def format_c(value_c: float) -> str:
    """A temperature for people: ``812 °C``, ``790.5 °C`` (one decimal at most)."""
    return f"{_number(value_c)} °C"


def format_duration(seconds: float) -> str:
    """A duration for people: ``45 s`` under two minutes, ``47 min``, then ``3 h 5 min``."""
    if seconds < 120:
        return f"{_number(seconds)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"
