"""What every status of every caster device means in every cast step: one table, pure data.

At the vent an overrange gauge is a chamber back at atmosphere (vented); during the pour or the
vacuum hold it is lost vacuum. :data:`TABLE` says so once; the interlocks (a TRIP ends the cast
faulted), the sequence (a WAIT keeps a step from ending, ``ends_step`` ends it) and the start
check (:func:`start_problems`: a BLOCK refuses a start) read it. Statuses are the strings of
:class:`CasterObservation` (devices.py maps the drivers' readings; the gauge's are the TPG
status texts of ``drivers/tpg36x/protocol.py``), plus ``no reading`` (the driver gave nothing
this tick) and ``not fitted``. A WAIT is bounded by the step's time limit and by the
stale-reading interlock, which names the silent device.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from labctl.cast.observation import CasterObservation

Step = str  # a ``CastState`` value (a StrEnum, so the state itself works as a key), or START
START: Final = "start"  # before a cast: the start command's check
STEPS: tuple[Step, ...] = (
    START,
    *("preflight", "melt", "flask_transfer", "balance", "evacuate", "pour", "vacuum_hold"),
    *("vent", "spin_up", "spin_hold", "brake", "lid_release", "complete"),
)  # sequence.CastState in order (this module does not import the sequence that reads it)


class Device(enum.StrEnum):
    """A caster's devices, as the table names them."""

    GAUGE = "gauge"
    CRUCIBLE = "crucible"  # the crucible temperature controller
    CRUCIBLE_TC = "crucible_tc"  # the independent crucible thermocouple
    DRIVE = "drive"
    IO = "io"


class Verdict(enum.StrEnum):
    """What a status does to the cast in a step."""

    FINE = "fine"  # a measurement, or what the step expects (``ends_step``: the step is done)
    WAIT = "wait"  # not known this tick: the step does not end on it (time limit, stale limit)
    TRIP = "trip"  # the cast ends faulted: <text>
    BLOCK = "block"  # (start only) the start is refused: <text>
    UNUSED = "unused"  # the step does not read this device (the stale limit still applies)


@dataclass(frozen=True, slots=True)
class Meaning:
    """One cell. ``text`` may name ``{step}``, ``{status}`` and ``{code}`` (a drive's fault)."""

    verdict: Verdict
    text: str
    ends_step: bool = False


def _steps(*steps: Step) -> frozenset[Step]:
    return frozenset(steps)


ALL = frozenset(STEPS)
CAST = ALL - {START, "complete"}
UNDER_VACUUM = _steps("evacuate", "pour", "vacuum_hold", "vent")  # the gauge decides
HELD = _steps("pour", "vacuum_hold")  # metal in the flask under vacuum
METAL_IN_CRUCIBLE = _steps("melt", "flask_transfer", "balance", "evacuate", "pour")
SPINNING = _steps("spin_up", "spin_hold", "brake", "lid_release")
FINE, WAIT, TRIP, BLOCK, UNUSED = Verdict

Row = tuple[tuple[frozenset[Step], Meaning], ...]  # first match wins; each row ends with ALL
_MEASURED: Row = ((ALL, Meaning(FINE, "a measurement, checked against the step's limits")),)
_NOT_READ = Meaning(UNUSED, "not read in this step")


def _broken(start: str, trip: str, steps: frozenset[Step] = CAST) -> Row:
    """A device that answers but has no valid measurement: no start, a trip in ``steps``."""
    return (
        (_steps(START), Meaning(BLOCK, start)),
        (steps, Meaning(TRIP, f"{trip} during {{step}}")),
        (ALL, _NOT_READ),
    )


def _silent(name: str, steps: frozenset[Step], why: str) -> Row:
    """No reading this tick: no start; the steps that need the device wait."""
    return (
        (_steps(START), Meaning(BLOCK, f"no reading from the {name}")),
        (steps, Meaning(WAIT, f"no reading from the {name}: {why}")),
        (ALL, Meaning(UNUSED, "not needed in this step (the stale-reading limit still applies)")),
    )


_GAUGE_FAULT = _broken("the vacuum gauge reports {status}", "vacuum gauge: {status}", UNDER_VACUUM)

TABLE: Mapping[Device, Mapping[str, Row]] = {
    Device.GAUGE: {
        "ok": _MEASURED,
        "underrange": (
            (_steps(START), Meaning(BLOCK, "the vacuum gauge reads below its range while vented")),
            (_steps("evacuate"), Meaning(FINE, "below the gauge's range: evacuated", True)),
            (HELD, Meaning(FINE, "below the gauge's range: better vacuum than it measures")),
            (_steps("vent"), Meaning(WAIT, "below the gauge's range: still under vacuum")),
            (ALL, _NOT_READ),
        ),
        "overrange": (
            (_steps(START), Meaning(FINE, "above the gauge's range: at atmosphere, vented")),
            (
                _steps("evacuate"),
                Meaning(WAIT, "above the gauge's range: still near atmosphere (pulling down)"),
            ),
            (
                HELD,
                Meaning(
                    TRIP,
                    "vacuum lost: the chamber gauge reads above its range (atmosphere) "
                    "during {step}",
                ),
            ),
            (_steps("vent"), Meaning(FINE, "above the gauge's range: at atmosphere, vented", True)),
            (ALL, _NOT_READ),
        ),
        "sensor error": _GAUGE_FAULT,
        "sensor off": _GAUGE_FAULT,
        "no sensor": _GAUGE_FAULT,
        "identification error": _GAUGE_FAULT,
        "no reading": _silent("vacuum gauge", UNDER_VACUUM, "the chamber pressure is unknown"),
        "not fitted": (
            (UNDER_VACUUM, Meaning(TRIP, "no vacuum gauge fitted: no vacuum proof during {step}")),
            (ALL, Meaning(UNUSED, "no vacuum gauge on this machine")),
        ),
    },
    Device.CRUCIBLE: {
        "ok": _MEASURED,
        "sensor break": _broken(
            "crucible thermocouple open (controller input error)",
            "crucible thermocouple open (controller input error)",
        ),
        "over range": _broken(
            "the crucible controller reads above its input range",
            "crucible controller over range (above its input range)",
        ),
        "no value": _broken(
            "the crucible controller has no valid measurement",
            "crucible controller has no valid measurement",
        ),
        "no reading": _silent("crucible controller", METAL_IN_CRUCIBLE, "the melt is unknown"),
    },
    Device.CRUCIBLE_TC: {
        "ok": _MEASURED,
        "open wire": _broken(
            "independent crucible thermocouple open",
            "independent crucible thermocouple open",
        ),
        "no value": _broken(
            "the independent crucible thermocouple reads out of range",
            "independent crucible thermocouple out of range",
        ),
        "no reading": _silent(
            "independent crucible thermocouple", METAL_IN_CRUCIBLE, "the melt is unverified"
        ),
        "not fitted": ((ALL, Meaning(FINE, "no independent thermocouple on this machine")),),
    },
    Device.DRIVE: {
        "ok": _MEASURED,
        "fault": _broken("the drive reports fault code {code}", "drive fault (code {code})"),
        "no reading": _silent("drive", SPINNING, "the arm's speed is unknown"),
        "not fitted": (
            (SPINNING, Meaning(TRIP, "no drive fitted: the arm cannot spin during {step}")),
            (ALL, Meaning(UNUSED, "no drive on this machine")),
        ),
    },
    Device.IO: {
        "ok": _MEASURED,
        "no reading": _silent("I/O module", CAST, "lid, e-stop and pump are unknown"),
    },
}
_FALLBACK: Mapping[Device, str] = {  # a status the table does not know is its worst case
    Device.GAUGE: "sensor error",
    Device.CRUCIBLE: "no value",
    Device.CRUCIBLE_TC: "no value",
    Device.DRIVE: "fault",
    Device.IO: "no reading",
}


def status_of(obs: CasterObservation, device: Device) -> str:
    """The device's status in ``obs``; one that claims a value but carries none is no reading."""
    if device is Device.GAUGE:
        status, value = obs.gauge_status, obs.chamber_mbar
    elif device is Device.CRUCIBLE:
        status, value = obs.crucible_status, obs.crucible_c
    elif device is Device.CRUCIBLE_TC:
        status, value = obs.crucible_tc_status, obs.crucible_tc_c
    elif device is Device.DRIVE:
        status, value = ("fault", 0.0) if obs.drive_fault else (obs.drive_status, obs.rpm)
    else:
        status, value = ("ok", 0.0) if obs.io is not None else ("no reading", 0.0)
    return "no reading" if status == "ok" and value is None else status


def meaning(device: Device, status: str, step: Step) -> Meaning:
    """The table's cell for ``status`` of ``device`` in ``step``."""
    rows = TABLE[device]
    for steps, cell in rows.get(status, rows[_FALLBACK[device]]):
        if step in steps:
            return cell
    raise AssertionError(f"{device} {status!r}: no meaning in {step}")  # every row ends with ALL


def judge(obs: CasterObservation, device: Device, step: Step) -> tuple[Meaning, str]:
    """The meaning of the device's current status in ``step``, and its text filled in."""
    status = status_of(obs, device)
    cell = meaning(device, status, step)
    return cell, cell.text.format(step=step, status=status, code=obs.drive_fault)


def trip(obs: CasterObservation, device: Device, step: Step) -> str | None:
    """The fault reason if the device's status ends the cast in ``step``."""
    cell, text = judge(obs, device, step)
    return text if cell.verdict is TRIP else None


def waiting_on(obs: CasterObservation, step: Step) -> list[str]:
    """What keeps ``step`` from ending this tick (empty: nothing)."""
    judged = (judge(obs, device, step) for device in Device)
    return [text for cell, text in judged if cell.verdict is WAIT]


_GAUGE_READS = {
    "overrange": "above the gauge's range (atmosphere)",
    "underrange": "below the gauge's range",
}


def chamber_reads(obs: CasterObservation) -> str:
    """The chamber pressure as a person reads it: ``40 mbar``, ``above the gauge's range ...``."""
    status = status_of(obs, Device.GAUGE)
    if status == "ok" and obs.chamber_mbar is not None:
        return f"{obs.chamber_mbar:.0f} mbar"
    return _GAUGE_READS.get(status, f"no valid reading (gauge: {status})")


def start_problems(obs: CasterObservation) -> list[str]:
    """Why a start is refused, as far as the devices' statuses go (empty: none)."""
    judged = (judge(obs, device, START) for device in Device)
    return [text for cell, text in judged if cell.verdict is BLOCK]
