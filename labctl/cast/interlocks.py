"""Caster interlocks: evaluated every tick before the sequence, pure (no I/O, time given).

A trip returns its reason; the runner then drives every device of the machine to its safe
state and ends the cast as ``faulted: <reason>``. ``pump_mismatch_since`` is the only memory
the checks need (the pump must report running within a grace time of being switched on).
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.cast.device_status import Device, trip
from labctl.cast.observation import CasterObservation, outputs_changed
from labctl.cast.params import CastParams
from labctl.cast.sequence import Actuation, CastState

# The lid may be open while a person works at the machine; anywhere else it is a trip.
_LID_MAY_OPEN = frozenset({CastState.FLASK_TRANSFER, CastState.BALANCE, CastState.LID_RELEASE})
_HELD = frozenset({CastState.POUR, CastState.VACUUM_HOLD})  # a measured loss trips here


@dataclass(frozen=True, slots=True)
class InterlockMemory:
    """State carried between ticks."""

    pump_mismatch_since: float | None = None


def check(
    state: CastState,
    obs: CasterObservation,
    params: CastParams,
    applied: Actuation,
    memory: InterlockMemory,
) -> tuple[InterlockMemory, str | None]:
    """The first tripped interlock's reason (None: all clear) and the updated memory.

    What each device's status means in ``state`` comes from :mod:`labctl.cast.device_status`;
    the checks here add the measured limits (temperatures, pressure, feedback, coils).
    """
    memory, pump = _pump(obs, params, applied, memory)
    for reason in (
        _stale(obs),
        _estop(obs),
        _outputs(obs, applied),  # before the checks that read consequences of the coils
        trip(obs, Device.CRUCIBLE, state),
        trip(obs, Device.CRUCIBLE_TC, state),
        _crucible(obs, params),
        pump,
        _lid(state, obs),
        trip(obs, Device.GAUGE, state),
        _vacuum(state, obs, params),
        trip(obs, Device.DRIVE, state),
        trip(obs, Device.IO, state),
    ):
        if reason is not None:
            return memory, reason
    return memory, None


def _stale(o: CasterObservation) -> str | None:
    if o.stale:
        return f"no reading from {', '.join(o.stale)} (communication lost)"
    return None


def _estop(o: CasterObservation) -> str | None:
    if o.io is not None and not o.io.estop_ok:
        return "e-stop pressed"
    return None


def _crucible(o: CasterObservation, c: CastParams) -> str | None:
    if o.crucible_c is not None and o.crucible_c > c.crucible_trip_c:
        return f"crucible over temperature: {o.crucible_c:.0f} °C > {c.crucible_trip_c:.0f} °C"
    both = o.crucible_c, o.crucible_tc_c
    if both[0] is not None and both[1] is not None and abs(both[0] - both[1]) > c.limits.tc_agree_c:
        return (
            f"crucible thermocouples disagree: controller {both[0]:.0f} °C, "
            f"independent {both[1]:.0f} °C"
        )
    return None


def _pump(
    o: CasterObservation, c: CastParams, applied: Actuation, m: InterlockMemory
) -> tuple[InterlockMemory, str | None]:
    if o.io is None or not applied.outputs.pump or o.io.pump_running:
        return InterlockMemory(), None
    since = m.pump_mismatch_since if m.pump_mismatch_since is not None else o.at
    if o.at - since > c.limits.pump_feedback_s:
        return InterlockMemory(since), "vacuum pump failure: switched on but not running"
    return InterlockMemory(since), None


def _lid(state: CastState, o: CasterObservation) -> str | None:
    if o.io is None or o.io.lid_closed or state in _LID_MAY_OPEN:
        return None
    if o.rpm is not None and not o.at_standstill:
        return "lid opened while the arm turns"
    return f"lid/door opened during {state}"


def _vacuum(state: CastState, o: CasterObservation, c: CastParams) -> str | None:
    """A measured pressure above the loss limit while the metal is held under vacuum."""
    if state not in _HELD or o.gauge_status != "ok" or o.chamber_mbar is None:
        return None
    if o.chamber_mbar > c.target_mbar * c.limits.vacuum_lost_factor:
        return f"vacuum lost during {state}: {o.chamber_mbar:.0f} mbar"
    return None


def _outputs(o: CasterObservation, applied: Actuation) -> str | None:
    """The coils read back must be what labctl set."""
    return None if o.io is None else outputs_changed(o.io.outputs, applied.outputs)
