"""Every status of every caster device in every cast step (issue 12, build point 2).

The expected meaning of each cell is written out below, by hand, as a grid; it is not computed
from ``labctl.cast.device_status.TABLE``. Each cell is checked twice: in the table, and in what
the interlocks, the sequence and the start check do with an otherwise healthy caster.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from drivers.capabilities import CasterInputs
from labctl.cast import device_status
from labctl.cast.device_status import START, STEPS, Device, Verdict, meaning, start_problems
from labctl.cast.interlocks import InterlockMemory, check
from labctl.cast.observation import CasterObservation
from labctl.cast.params import CastParams, cast_params
from labctl.cast.sequence import CastProgress, CastState, actuation, advance
from labctl.config.limits import CasterKind, CasterLimits
from labctl.profiles.alloys import load_alloy

ALLOYS = Path(__file__).resolve().parents[2] / "profiles" / "alloys"
GOLD = load_alloy(ALLOYS / "gold-18k-yellow.toml")
VAC = cast_params(GOLD, "medium", CasterLimits(kind=CasterKind.VACUUM, crucible_max_c=1450))
CEN = cast_params(GOLD, "medium", CasterLimits(kind=CasterKind.CENTRIFUGAL, crucible_max_c=1450))

# Columns, in this order (the start check, then every cast step):
COLUMNS = (
    *("start", "preflight", "melt", "flask_transfer", "balance", "evacuate", "pour"),
    *("vacuum_hold", "vent", "spin_up", "spin_hold", "brake", "lid_release", "complete"),
)
# F fine (a measurement, or what the step expects), E fine and it ends the step, W the step
# waits (does not end on this tick), T the cast trips (faulted, naming the status),
# B a start is refused, - the step does not read the device.
#                                   s p m f b e p h v u s b l c
EXPECTED: dict[Device, dict[str, str]] = {
    Device.GAUGE: {
        "ok":                      "F F F F F F F F F F F F F F",
        "underrange":              "B - - - - E F F W - - - - -",
        "overrange":               "F - - - - W T T E - - - - -",
        "sensor error":            "B - - - - T T T T - - - - -",
        "sensor off":              "B - - - - T T T T - - - - -",
        "no sensor":               "B - - - - T T T T - - - - -",
        "identification error":    "B - - - - T T T T - - - - -",
        "no reading":              "B - - - - W W W W - - - - -",
        "not fitted":              "- - - - - T T T T - - - - -",
    },
    Device.CRUCIBLE: {
        "ok":                      "F F F F F F F F F F F F F F",
        "sensor break":            "B T T T T T T T T T T T T -",
        "over range":              "B T T T T T T T T T T T T -",
        "no value":                "B T T T T T T T T T T T T -",
        "no reading":              "B - W W W W W - - - - - - -",
    },
    Device.CRUCIBLE_TC: {
        "ok":                      "F F F F F F F F F F F F F F",
        "open wire":               "B T T T T T T T T T T T T -",
        "no value":                "B T T T T T T T T T T T T -",
        "no reading":              "B - W W W W W - - - - - - -",
        "not fitted":              "F F F F F F F F F F F F F F",
    },
    Device.DRIVE: {
        "ok":                      "F F F F F F F F F F F F F F",
        "fault":                   "B T T T T T T T T T T T T -",
        "no reading":              "B - - - - - - - - W W W W -",
        "not fitted":              "- - - - - - - - - T T T T -",
    },
    Device.IO: {
        "ok":                      "F F F F F F F F F F F F F F",
        "no reading":              "B W W W W W W W W W W W W -",
    },
}  # fmt: skip
# What a trip or a refused start must say, so a person knows which status it was.
NAMES: dict[object, str] = {
    (Device.CRUCIBLE, "no value"): "no valid measurement",
    (Device.CRUCIBLE_TC, "no value"): "out of range",
    "underrange": "below its range",
    "overrange": "above its range (atmosphere)",
    "sensor break": "thermocouple open",
    "over range": "above its input range",
    "open wire": "thermocouple open",
    "fault": "code 7",
    "not fitted": "fitted",
}
CENTRIFUGAL_ONLY = {"balance", "spin_up", "spin_hold", "brake", "lid_release"}
CELLS = [
    (device, status, step, grid.split()[i])
    for device, rows in EXPECTED.items()
    for status, grid in rows.items()
    for i, step in enumerate(COLUMNS)
]


def test_the_grid_covers_every_step_device_and_status_of_the_table():
    assert COLUMNS == STEPS == (START, *(s.value for s in CastState))
    assert {d: set(rows) for d, rows in EXPECTED.items()} == {
        d: set(rows) for d, rows in device_status.TABLE.items()
    }
    assert all(
        len(grid.split()) == len(COLUMNS) for rows in EXPECTED.values() for grid in rows.values()
    )


def _params(step: str, device: Device) -> CastParams:
    if step in CENTRIFUGAL_ONLY:
        return CEN
    return CEN if device is Device.DRIVE and step in (START, "preflight", "melt") else VAC


def healthy(step: str, c: CastParams) -> tuple[CastProgress, CasterObservation]:
    """A caster with every device well, at the moment ``step`` is done (start: idle)."""
    state = CastState(step) if step != START else CastState.PREFLIGHT
    progress = CastProgress(state=state, entered_at=0.0, stable_since=0.0, confirmed_by="tech1")
    at = {
        "melt": c.limits.stabilise_s,
        "pour": c.limits.pour_s,
        "vacuum_hold": c.vacuum_hold_s,
        "spin_hold": c.spin_hold_s,
    }.get(step, 1.0)
    outputs = actuation(progress, c).outputs
    vacuum = c.kind is CasterKind.VACUUM
    evacuated = step in ("evacuate", "pour", "vacuum_hold")
    rpm = c.spin_rpm if step in ("spin_up", "spin_hold") else 0.0
    io = CasterInputs(
        at=at, lid_closed=True, flask_present=True, estop_ok=True,
        pump_running=outputs.pump, outputs=outputs, arm_stopped=rpm == 0.0,
    )  # fmt: skip
    obs = CasterObservation(
        at=at,
        crucible_c=c.pour_temp_c,
        crucible_tc_c=c.pour_temp_c,
        crucible_tc_status="ok",
        chamber_mbar=(c.target_mbar / 2 if evacuated else 980.0) if vacuum else None,
        gauge_status="ok" if vacuum else "not fitted",
        io=io,
        rpm=None if vacuum else rpm,
        drive_status="not fitted" if vacuum else "ok",
    )
    return progress, obs


def with_status(obs: CasterObservation, device: Device, status: str) -> CasterObservation:
    """``obs`` with one device reporting ``status`` (and a value only when it has one)."""
    ok = status == "ok"
    if device is Device.GAUGE:
        mbar = obs.chamber_mbar if obs.chamber_mbar is not None else 980.0
        return dataclasses.replace(obs, gauge_status=status, chamber_mbar=mbar if ok else None)
    if device is Device.CRUCIBLE:
        return dataclasses.replace(
            obs, crucible_status=status, crucible_c=obs.crucible_c if ok else None
        )
    if device is Device.CRUCIBLE_TC:
        value = obs.crucible_tc_c if ok or status == "not fitted" else None
        return dataclasses.replace(obs, crucible_tc_status=status, crucible_tc_c=value)
    if device is Device.DRIVE:
        rpm = obs.rpm if obs.rpm is not None else 0.0
        return dataclasses.replace(
            obs,
            drive_status=status,
            drive_fault=7 if status == "fault" else 0,
            rpm=rpm if status in ("ok", "fault") else None,
        )
    return dataclasses.replace(obs, io=obs.io if ok else None)


@pytest.mark.parametrize(("device", "status", "step", "code"), CELLS)
def test_every_status_of_every_device_in_every_step(device, status, step, code):
    cell = meaning(device, status, step)
    verdict = {"E": "F"}.get(code, code)
    assert cell.verdict.value[0].upper() == verdict or (
        code == "-" and cell.verdict is Verdict.UNUSED
    ), cell
    assert cell.ends_step == (code == "E")
    c = _params(step, device)
    progress, well = healthy(step, c)
    sick = with_status(well, device, status)
    name = NAMES.get((device, status), NAMES.get(status, status))
    if step == START:
        problems = start_problems(sick)
        assert start_problems(well) == []
        if code == "B":
            assert len(problems) == 1 and name in problems[0], problems
        else:
            assert problems == []
        return
    applied = actuation(progress, c)
    reason = check(progress.state, sick, c, applied, InterlockMemory())[1]
    assert check(progress.state, well, c, applied, InterlockMemory())[1] is None
    if code == "T":
        assert reason is not None and name in reason and f"during {step}" in reason, reason
        return
    assert reason is None
    if step == "complete":
        return
    assert advance(progress, well, c).progress.state is not progress.state  # the step is done
    moved = advance(progress, sick, c).progress.state is not progress.state
    if code == "W":
        assert not moved
    if code == "E":
        assert moved


def test_a_status_the_table_does_not_know_is_taken_at_its_worst():
    """e.g. an Inficon clone's status 7: a gauge fault, tripping under vacuum."""
    progress, well = healthy("vacuum_hold", VAC)
    sick = dataclasses.replace(well, gauge_status="ion gauge error", chamber_mbar=None)
    reason = check(progress.state, sick, VAC, actuation(progress, VAC), InterlockMemory())[1]
    assert reason == "vacuum gauge: ion gauge error during vacuum_hold"
    assert start_problems(sick) == ["the vacuum gauge reports ion gauge error"]


def test_a_timeout_names_what_the_step_waited_for():
    progress, well = healthy("vent", VAC)
    silent = with_status(well, Device.GAUGE, "no reading")
    tick = advance(progress, dataclasses.replace(silent, at=VAC.limits.vent_limit_s + 1), VAC)
    assert tick.fault == (
        "vent: the chamber did not return to atmosphere (no valid reading (gauge: no reading)); "
        "no reading from the vacuum gauge: the chamber pressure is unknown"
    )
