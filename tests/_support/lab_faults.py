"""Every fault the test lab's fakes can inject, by name: ``FAULTS[name](lab, on)``.

A fault switches on or off a knob of the kiln's controller, the caster's plant or the run
store (:mod:`tests._support.lab`); the lab model picks them at random, in any order.
"""

from __future__ import annotations

from collections.abc import Callable

from tests._support.lab import Lab


def _set(obj_of: Callable[[Lab], object], attr: str, when_on: object, when_off: object) -> Fault:
    return lambda lab, on: setattr(obj_of(lab), attr, when_on if on else when_off)


def _link(role: str) -> Fault:
    return lambda lab, on: (lab.plant.dead.add if on else lab.plant.dead.discard)(role)


def _crash(role: str) -> Fault:
    return lambda lab, on: lab.plant.crash.add(role) if on else lab.plant.crash.discard(role)


def _ctl(lab: Lab) -> object:
    return lab.controller


def _plant(lab: Lab) -> object:
    return lab.plant


def _store(lab: Lab) -> object:
    return lab.store


Fault = Callable[[Lab, bool], None]
FAULTS: dict[str, Fault] = {
    "kiln link lost": _set(_ctl, "link_up", False, True),
    "kiln sensor break": _set(_ctl, "sensor_break", True, False),
    "kiln lags its program": _set(_ctl, "stuck", True, False),
    "kiln refuses a hold": _set(_ctl, "refuse_hold", True, False),
    "kiln refuses heat-off": _set(_ctl, "refuse_safe", True, False),
    "bug in a kiln tick": _set(_ctl, "crash_reads", 1, 0),
    "run store refuses writes": _set(_store, "refuse_writes", True, False),
    "e-stop pressed": _set(_plant, "estop_ok", False, True),
    "drive fault 58": _set(_plant, "drive_fault", 58, 0),
    "drive refuses reset": _set(_plant, "refuse_reset", True, False),
    "vacuum leak": _set(_plant, "leak", True, False),
    "pump broken": _set(_plant, "pump_broken", True, False),
    "lid open": _set(_plant, "lid_closed", False, True),
    **{f"{role} link lost": _link(role) for role in ("crucible", "io", "crucible_tc", "gauge")},
    "drive link lost": _link("drive"),
    **{f"bug in the {role} driver": _crash(role) for role in ("crucible", "io", "crucible_tc")},
}
