"""Vacuum and centrifugal cast sequences as explicit state machines (pure: no I/O, time given).

Each machine is a transition table: every :class:`CastState` has a :class:`StateSpec` naming
what the devices do in it (:class:`Actuation`), when it is done, how long it may take, the
confirmation a person must give (if any), and the state that follows. :func:`advance` moves
one tick. A timeout is a fault with its reason; the safe exit of every state is the same
:data:`SAFE` actuation, applied by the runner on any fault or abort. Interlocks
(:mod:`labctl.cast.interlocks`) are evaluated before :func:`advance` every tick.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drivers.capabilities import CasterOutputs
from labctl.cast import device_status
from labctl.cast.device_status import Device
from labctl.cast.observation import CasterObservation
from labctl.cast.params import CastParams
from labctl.config.limits import CasterKind


class CastState(enum.StrEnum):
    """Steps of a cast, in the order they run."""

    PREFLIGHT = "preflight"
    MELT = "melt"
    FLASK_TRANSFER = "flask_transfer"  # vacuum: a person places the flask
    BALANCE = "balance"  # centrifugal: a person loads the flask and confirms the balance
    EVACUATE = "evacuate"
    POUR = "pour"
    VACUUM_HOLD = "vacuum_hold"
    VENT = "vent"
    SPIN_UP = "spin_up"
    SPIN_HOLD = "spin_hold"
    BRAKE = "brake"
    LID_RELEASE = "lid_release"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actuation:
    """What every device of the caster does in a state."""

    outputs: CasterOutputs = dataclasses.field(default_factory=CasterOutputs)
    crucible_sp_c: float | None = None  # None: heat off
    drive_hz: float | None = None  # None: drive stopped


SAFE = Actuation()


@dataclass(frozen=True, slots=True, kw_only=True)
class CastProgress:
    """Where a cast is: its state, since when, and what the state has seen so far."""

    state: CastState
    entered_at: float
    stable_since: float | None = None  # melt: at pour temperature since
    confirmed_by: str | None = None  # the confirmation this state waits for, once given


@dataclass(frozen=True, slots=True)
class Tick:
    """The result of one tick: the new progress, and a fault reason if the state failed."""

    progress: CastProgress
    fault: str | None = None
    event: str | None = None  # a state change to log and record


Done = Callable[[CastProgress, CasterObservation, CastParams], bool]
Actuate = Callable[[CastParams], Actuation]


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSpec:
    """One row of a transition table."""

    actuate: Actuate
    done: Done
    timeout_s: Callable[[CastParams], float]
    on_timeout: Callable[[CasterObservation, CastParams], str]
    following: CastState
    confirmation: str | None = None  # the command argument a person must give


def _melted(p: CastProgress, o: CasterObservation, c: CastParams) -> bool:
    return p.stable_since is not None and o.at - p.stable_since >= c.limits.stabilise_s


def _held_for(seconds: Callable[[CastParams], float]) -> Done:
    return lambda p, o, c: o.at - p.entered_at >= seconds(c)


def _confirmed(p: CastProgress, o: CasterObservation, c: CastParams) -> bool:
    return p.confirmed_by is not None


def _melt(c: CastParams) -> Actuation:
    return Actuation(crucible_sp_c=c.pour_temp_c)


def _vacuum(*, pour: bool = False, heat: bool = True) -> Actuate:
    outputs = CasterOutputs(pump=True, chamber_valve=True, vent_valve=False, pour=pour)
    return lambda c: Actuation(outputs=outputs, crucible_sp_c=c.pour_temp_c if heat else None)


def _spin(*, release: bool) -> Actuate:
    return lambda c: Actuation(outputs=CasterOutputs(pour=release), drive_hz=c.drive_hz)


_fmt_mbar = device_status.chamber_reads


def _gauge_done(measured: Callable[[float, CastParams], bool]) -> Done:
    """Done on a measured pressure, or on a status that ends the step (device_status)."""
    return lambda p, o, c: (
        device_status.judge(o, Device.GAUGE, p.state)[0].ends_step
        or (o.gauge_status == "ok" and o.chamber_mbar is not None and measured(o.chamber_mbar, c))
    )


def _fmt_rpm(o: CasterObservation) -> str:
    return "unknown" if o.rpm is None else f"{o.rpm:.0f} rpm"


def _common(following_melt: CastState) -> dict[CastState, StateSpec]:
    return {
        CastState.PREFLIGHT: StateSpec(
            actuate=lambda c: Actuation(
                outputs=CasterOutputs(pump=c.kind is CasterKind.VACUUM, vent_valve=True)
            ),
            done=lambda p, o, c: (
                o.io is not None
                and (o.io.pump_running if c.kind is CasterKind.VACUUM else o.at_standstill)
            ),
            timeout_s=lambda c: 15.0,
            on_timeout=lambda o, c: (
                "preflight: the vacuum pump does not run (no contactor feedback)"
                if c.kind is CasterKind.VACUUM
                else f"preflight: the arm is not at standstill ({_fmt_rpm(o)})"
            ),
            following=CastState.MELT,
        ),
        CastState.MELT: StateSpec(
            actuate=_melt,
            done=_melted,
            timeout_s=lambda c: c.limits.melt_limit_s,
            on_timeout=lambda o, c: (
                f"melt: the metal did not reach {c.pour_temp_c:.0f} °C and settle within "
                f"{c.limits.melt_limit_s / 60:.0f} min (crucible at "
                + ("no reading" if o.crucible_c is None else f"{o.crucible_c:.0f} °C")
                + ")"
            ),
            following=following_melt,
        ),
    }


def _confirmation(step: str, what: str, confirmation: str, following: CastState) -> StateSpec:
    """A person confirms ``what`` while the melt is held at pour temperature."""
    return StateSpec(
        actuate=_melt,
        done=_confirmed,
        timeout_s=lambda c: c.limits.confirm_timeout_s,
        on_timeout=lambda o, c: (
            f"{step}: nobody confirmed {what} within {c.limits.confirm_timeout_s:.0f} s"
        ),
        following=following,
        confirmation=confirmation,
    )


def _timed(
    actuate: Actuate, seconds: Callable[[CastParams], float], what: str, following: CastState
) -> StateSpec:
    """A step that lasts ``seconds`` (its timeout only catches a clock that stopped ticking)."""
    return StateSpec(
        actuate=actuate,
        done=_held_for(seconds),
        timeout_s=lambda c: seconds(c) + 5.0,
        on_timeout=lambda o, c: f"{what} did not finish",
        following=following,
    )


VACUUM: Mapping[CastState, StateSpec] = {
    **_common(CastState.FLASK_TRANSFER),
    CastState.FLASK_TRANSFER: _confirmation(
        "flask transfer", "the flask", "flask_placed", CastState.EVACUATE
    ),
    CastState.EVACUATE: StateSpec(
        actuate=_vacuum(),
        done=_gauge_done(lambda mbar, c: mbar <= c.target_mbar),
        timeout_s=lambda c: c.evacuate_limit_s,
        on_timeout=lambda o, c: (
            f"vacuum not reached in time: {_fmt_mbar(o)} after {c.evacuate_limit_s:.0f} s "
            f"(target {c.target_mbar:.0f} mbar)"
        ),
        following=CastState.POUR,
    ),
    CastState.POUR: _timed(
        _vacuum(pour=True), lambda c: c.limits.pour_s, "pour", CastState.VACUUM_HOLD
    ),
    CastState.VACUUM_HOLD: _timed(
        _vacuum(heat=False), lambda c: c.vacuum_hold_s, "vacuum hold", CastState.VENT
    ),
    CastState.VENT: StateSpec(
        actuate=lambda c: SAFE,
        done=_gauge_done(lambda mbar, c: mbar >= c.limits.vented_mbar),
        timeout_s=lambda c: c.limits.vent_limit_s,
        on_timeout=lambda o, c: f"vent: the chamber did not return to atmosphere ({_fmt_mbar(o)})",
        following=CastState.COMPLETE,
    ),
}

CENTRIFUGAL: Mapping[CastState, StateSpec] = {
    **_common(CastState.BALANCE),
    CastState.BALANCE: _confirmation(
        "balance", "flask and balance", "balance_confirmed", CastState.SPIN_UP
    ),
    CastState.SPIN_UP: StateSpec(
        actuate=_spin(release=True),
        done=lambda p, o, c: o.rpm is not None and o.rpm >= 0.9 * c.spin_rpm,
        timeout_s=lambda c: c.spin_up_s + c.limits.spin_margin_s,
        on_timeout=lambda o, c: f"spin-up: the arm reached {_fmt_rpm(o)} of {c.spin_rpm:.0f}",
        following=CastState.SPIN_HOLD,
    ),
    CastState.SPIN_HOLD: _timed(
        _spin(release=False), lambda c: c.spin_hold_s, "spin hold", CastState.BRAKE
    ),
    CastState.BRAKE: StateSpec(
        actuate=lambda c: SAFE,
        done=lambda p, o, c: o.at_standstill,
        timeout_s=lambda c: c.limits.brake_limit_s,
        on_timeout=lambda o, c: f"brake: the arm did not stop ({_fmt_rpm(o)})",
        following=CastState.LID_RELEASE,
    ),
    CastState.LID_RELEASE: StateSpec(
        actuate=lambda c: Actuation(outputs=CasterOutputs(lid_release=True)),
        done=lambda p, o, c: o.at_standstill,
        timeout_s=lambda c: 10.0,
        on_timeout=lambda o, c: f"lid release refused: the arm is turning ({_fmt_rpm(o)})",
        following=CastState.COMPLETE,
    ),
}


def table(kind: CasterKind) -> Mapping[CastState, StateSpec]:
    return VACUUM if kind is CasterKind.VACUUM else CENTRIFUGAL


def actuation(progress: CastProgress, params: CastParams) -> Actuation:
    """What the devices do now; SAFE once complete."""
    spec = table(params.kind).get(progress.state)
    return SAFE if spec is None else spec.actuate(params)


def waiting_for(progress: CastProgress, params: CastParams) -> str | None:
    """The confirmation the current state waits for, if it has not been given yet."""
    spec = table(params.kind).get(progress.state)
    if spec is None or progress.confirmed_by is not None:
        return None
    return spec.confirmation


def advance(progress: CastProgress, obs: CasterObservation, params: CastParams) -> Tick:
    """One tick: update the melt timer, then leave the state if done, or fault on timeout.

    A state never ends on a tick where a device it needs has no answer (a WAIT in
    :mod:`labctl.cast.device_status`); a timeout then names what it waited for.
    """
    spec = table(params.kind).get(progress.state)
    if spec is None:
        return Tick(progress)
    if progress.state is CastState.MELT:
        progress = _track_melt(progress, obs, params)
    waiting = device_status.waiting_on(obs, progress.state)
    if not waiting and spec.done(progress, obs, params):
        nxt = CastProgress(state=spec.following, entered_at=obs.at)
        return Tick(nxt, event=f"{progress.state} -> {nxt.state}")
    if obs.at - progress.entered_at > spec.timeout_s(params):
        reason = spec.on_timeout(obs, params)
        return Tick(progress, fault="; ".join([reason, *waiting]))
    return Tick(progress)


def _track_melt(p: CastProgress, o: CasterObservation, c: CastParams) -> CastProgress:
    inside = o.crucible_c is not None and abs(o.crucible_c - c.pour_temp_c) <= c.limits.pour_band_c
    if not inside:
        return dataclasses.replace(p, stable_since=None)
    if p.stable_since is None:
        return dataclasses.replace(p, stable_since=o.at)
    return p
