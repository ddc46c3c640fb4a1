"""Putting a lab of fakes in each state of the matrix (:data:`tests.labctl.machines.table.STATES`).

:data:`SETUPS` maps each state's name to what brings a fresh lab there, through commands, ticks
of virtual time and the fakes' fault knobs; :func:`shows` reads what the state's machine says.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from labctl.config.limits import CasterKind
from labctl.config.users import Role
from tests._support.lab import Lab
from tests._support.lab_commands import PAYLOADS
from tests._support.lab_site import FLASK_C
from tests.labctl.machines import table


async def _ok(lab: Lab, command: str, who: str | None = None) -> None:
    answer = await lab.command(command, PAYLOADS[command](lab), Role.TECHNICIAN, who)
    assert answer.done, f"setup: {command}: {answer} {lab.status()}"


async def _kiln_running(lab: Lab) -> None:
    await _ok(lab, "start")
    await lab.ticks(2)


async def _kiln_held(lab: Lab) -> None:
    await _kiln_running(lab)
    await _ok(lab, "hold", who="ana")


async def _kiln_holdback(lab: Lab) -> None:
    lab.controller.stuck = True
    await _kiln_running(lab)
    await lab.ticks(2)
    assert lab.kiln.snapshot.holdback_s > 0, lab.status()


async def _kiln_final_hold(lab: Lab) -> None:
    await _ok(lab, "start")
    await lab.until(lambda: lab.kiln_state() == "final_hold", why="final hold")


async def _kiln_hold_refused(lab: Lab) -> None:
    await _kiln_running(lab)
    lab.controller.refuse_hold = True


async def _kiln_faulted_heat_on(lab: Lab) -> None:
    await _kiln_running(lab)
    lab.controller.refuse_safe = True
    lab.controller.sensor_break = True
    await lab.until(lambda: lab.kiln_state() == "idle", why="faulted")
    snap = lab.kiln.snapshot
    assert str(snap.outcome).startswith("faulted: ") and not snap.safe, lab.status()
    assert lab.controller.heating  # what "heat-off unconfirmed" means


async def _kiln_disconnected(lab: Lab) -> None:
    await _kiln_running(lab)
    lab.controller.link_up = False
    await lab.ticks(2)


async def _kiln_idle_disconnected(lab: Lab) -> None:
    lab.controller.link_up = False
    await lab.ticks(2)


async def _kiln_recovering(lab: Lab) -> None:
    await _kiln_running(lab)
    lab.controller.link_up = False
    await lab.restart(graceful=False)
    await lab.ticks(2)
    assert lab.kiln_state() == "recovering", lab.status()


async def _kiln_outcome_unstored(lab: Lab) -> None:
    await _kiln_running(lab)
    lab.store.refuse_writes = True
    await lab.until(lambda: lab.kiln_state() == "idle", why="store refused")
    assert "the run store cannot be written" in str(lab.kiln.snapshot.outcome), lab.status()


async def _cast(lab: Lab, until: str | None) -> None:
    """A cast of the alloy, its flask from the idle kiln at the right temperature."""
    lab.controller.pv_c = FLASK_C
    await lab.ticks(1)
    await _ok(lab, "cast_start")
    if until is not None:
        await lab.until(lambda: lab.caster_state() == until, why=until)


async def _cast_confirmed(lab: Lab, until: str) -> None:
    lab.plant.flask_present = True
    waiting = "flask_transfer" if lab.caster_kind is CasterKind.VACUUM else "balance"
    await _cast(lab, waiting)
    await _ok(lab, "cast_confirm")
    await lab.until(lambda: lab.caster_state() == until, why=until)


async def _caster_preflight(lab: Lab) -> None:
    if lab.caster_kind is CasterKind.VACUUM:
        lab.plant.pump_broken = True
    else:
        lab.plant.arm_stuck_rpm = 50.0
    await _cast(lab, None)
    await lab.ticks(1)
    assert lab.caster_state() == "preflight", lab.status()


async def _caster_melt(lab: Lab) -> None:
    lab.plant.heat_cap_c = 900.0
    await _cast(lab, "melt")


async def _caster_waiting(lab: Lab) -> None:
    lab.plant.flask_present = True
    await _cast(lab, "flask_transfer" if lab.caster_kind is CasterKind.VACUUM else "balance")


async def _caster_evacuate(lab: Lab) -> None:
    lab.plant.pump_weak = True
    await _cast_confirmed(lab, "evacuate")


async def _caster_vent(lab: Lab) -> None:
    await _cast_confirmed(lab, "vacuum_hold")
    lab.plant.vent_blocked = True
    await lab.until(lambda: lab.caster_state() == "vent", why="vent")


async def _caster_spin_up(lab: Lab) -> None:
    lab.plant.arm_accel = 50.0
    await _cast_confirmed(lab, "spin_up")


async def _caster_brake(lab: Lab) -> None:
    lab.plant.arm_decel = 10.0
    await _cast_confirmed(lab, "brake")


async def _caster_faulted(lab: Lab) -> None:
    lab.plant.heat_cap_c = 900.0
    await _cast(lab, "melt")
    lab.plant.estop_ok = False
    await lab.until(lambda: lab.caster_state() == "idle", why="e-stop")
    assert "e-stop pressed" in str(lab.caster.snapshot.outcome), lab.status()


async def _caster_disconnected(lab: Lab) -> None:
    lab.plant.dead.add("crucible")
    await lab.ticks(12)


async def _caster_outcome_unstored(lab: Lab) -> None:
    await _cast(lab, "melt")
    lab.store.refuse_writes = True
    await lab.until(lambda: lab.caster_state() == "idle", why="store refused")
    assert "the run store cannot be written" in str(lab.caster.snapshot.outcome)


async def _caster_drive_fault(lab: Lab) -> None:
    lab.plant.drive_fault = 58
    await lab.ticks(2)


async def _caster_drive_fault_reset_refused(lab: Lab) -> None:
    lab.plant.refuse_reset = True
    await _caster_drive_fault(lab)


async def _nothing(lab: Lab) -> None:
    await lab.ticks(1)


def _confirmed(until: str) -> Callable[[Lab], Awaitable[None]]:
    return lambda lab: _cast_confirmed(lab, until)


SETUPS: dict[str, Callable[[Lab], Awaitable[None]]] = {
    "idle": _nothing,
    "running": _kiln_running,
    "held": _kiln_held,
    "holdback": _kiln_holdback,
    "final_hold": _kiln_final_hold,
    "hold_refused": _kiln_hold_refused,
    "faulted_heat_on": _kiln_faulted_heat_on,
    "disconnected": _kiln_disconnected,
    "idle_disconnected": _kiln_idle_disconnected,
    "recovering": _kiln_recovering,
    "outcome_unstored": _kiln_outcome_unstored,
    "vacuum.idle": _nothing,
    "vacuum.preflight": _caster_preflight,
    "vacuum.melt": _caster_melt,
    "vacuum.flask_transfer": _caster_waiting,
    "vacuum.evacuate": _caster_evacuate,
    "vacuum.pour": _confirmed("pour"),
    "vacuum.vacuum_hold": _confirmed("vacuum_hold"),
    "vacuum.vent": _caster_vent,
    "vacuum.faulted": _caster_faulted,
    "vacuum.disconnected": _caster_disconnected,
    "vacuum.outcome_unstored": _caster_outcome_unstored,
    "centrifugal.idle": _nothing,
    "centrifugal.preflight": _caster_preflight,
    "centrifugal.melt": _caster_melt,
    "centrifugal.balance": _caster_waiting,
    "centrifugal.spin_up": _caster_spin_up,
    "centrifugal.spin_hold": _confirmed("spin_hold"),
    "centrifugal.brake": _caster_brake,
    "centrifugal.lid_release": _confirmed("lid_release"),
    "centrifugal.faulted": _caster_faulted,
    "centrifugal.drive_fault": _caster_drive_fault,
    "centrifugal.drive_fault_reset_refused": _caster_drive_fault_reset_refused,
    "centrifugal.disconnected": _caster_disconnected,
}


def caster_kind_of(state: str) -> CasterKind:
    """The caster kind a state is of (a kiln state: the vacuum caster's lab)."""
    return CasterKind.CENTRIFUGAL if state.startswith("centrifugal.") else CasterKind.VACUUM


def shows(lab: Lab, state: str) -> str:
    """What the machine of ``state`` shows now."""
    return lab.kiln_state() if table.STATES[state].machine == "kiln" else lab.caster_state()
