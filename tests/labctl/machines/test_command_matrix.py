"""Every registered command in every state of its machine, for every role, twice and at once.

The expectations are data (:mod:`tests.labctl.machines.table`); this module puts a lab of
fakes (:mod:`tests._support.lab`) into each state and checks each row:

- for each role (observer, technician, supervisor), in a fresh lab: the command, then the same
  command again right after its answer; in another fresh lab: two senders at once
  (``asyncio.gather`` of two dispatches, as two transports would);
- a role too low is refused with "needs a <role>" and changes nothing; a role high enough gets
  the row's answers (done, or refused with the row's words);
- afterwards the machine shows one of the row's states, every answer came within the command
  deadline, and both machine loops are alive and still ticking.

A registered command, or a state, without rows fails :func:`test_every_command_and_state_has_rows`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from labctl.cast.params import CasterKind
from labctl.commands.queue import COMMAND_DEADLINE_S
from labctl.commands.registry import Role
from tests._support.lab import (
    FLASK_C,
    PAYLOADS,
    REGISTER_FUNCTIONS,
    Answer,
    Lab,
    app_register_functions,
    lab_of,
)
from tests.labctl.machines import table
from tests.labctl.machines.table import Expect, Row

# ------------------------------------------------------------------ payloads


# ------------------------------------------------------------------ putting a lab in a state


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


def _kind(state: str) -> CasterKind:
    return CasterKind.CENTRIFUGAL if state.startswith("centrifugal.") else CasterKind.VACUUM


def _shows(lab: Lab, state: str) -> str:
    return lab.kiln_state() if table.STATES[state].machine == "kiln" else lab.caster_state()


# ------------------------------------------------------------------ checking one cell


def _check(answer: Answer, expect: Expect, where: str) -> None:
    assert expect.matches(answer.done, answer.text), f"{where}: expected {expect}, got {answer}"
    assert answer.wall_s < COMMAND_DEADLINE_S, f"{where}: answered after {answer.wall_s:.1f} s"


def _check_pair(answers: list[Answer], expects: tuple[Expect, Expect], where: str) -> None:
    """Two answers to two senders at once, in either order (their queue order is theirs)."""
    for order in (expects, expects[::-1]):
        if all(e.matches(a.done, a.text) for a, e in zip(answers, order, strict=True)):
            assert max(a.wall_s for a in answers) < COMMAND_DEADLINE_S, answers
            return
    pytest.fail(f"{where}: expected {[str(e) for e in expects]}, got {[str(a) for a in answers]}")


async def _alive(lab: Lab, where: str) -> None:
    before = [m.ticks for m in lab.machines]
    await lab.ticks(2)
    assert lab.alive(), f"{where}: a machine loop died: {lab.dead_loops()}"
    after = [m.ticks for m in lab.machines]
    assert all(b > a for a, b in zip(before, after, strict=True)), f"{where}: no ticks {after}"


def _expected(row: Row, role: Role, needed: Role) -> tuple[Expect, Expect, tuple[Expect, Expect]]:
    if role < needed:
        no = table.refused(f"{row.command} needs a {needed.name.lower()}")
        return no, no, (no, no)
    return row.first, row.again, row.at_once


async def _cell(lab: Lab, row: Row, role: Role, together: bool) -> None:
    """``role`` gives the row's command twice in a row, or two of them at once."""
    where = f"{row.command} in {row.state} by a {role.name.lower()}{' (x2 at once)' * together}"
    shown = _shows(lab, row.state)
    needed = lab.registry.role_of(row.command)
    assert needed is not None
    first, again, at_once = _expected(row, role, needed)
    payload = PAYLOADS[row.command](lab)
    if together:
        _check_pair(await lab.together(row.command, payload, role), at_once, where)
    else:
        _check(await lab.command(row.command, payload, role), first, where)
        _check(await lab.command(row.command, payload, role), again, f"{where}, again")
    allowed = row.after if role >= needed else (shown, *table.STATES[row.state].moves_on)
    assert _shows(lab, row.state) in allowed, f"{where}: after: {lab.status()}"


async def _in_state(tmp: Path, row: Row) -> AsyncIterator[Lab]:
    async with lab_of(tmp, caster_kind=_kind(row.state)) as lab:
        if table.STATES[row.state].machine == "caster":
            lab.controller.pv_c = FLASK_C  # the flask waits in the idle kiln
        await SETUPS[row.state](lab)
        assert _shows(lab, row.state) == table.STATES[row.state].shows, lab.status()
        yield lab


async def _row(tmp: Path, row: Row) -> None:
    """Every role, in fresh labs: those too low first (refused at once: no tick passes),
    then each role the command is for in a lab of its own (one lab for all of them for a
    query of the lab), twice in a row and, in another lab, two at once; then the loops
    must be alive and ticking."""
    needed = table.ROLES[row.command]
    low = [r for r in Role if r < needed]
    high = [r for r in Role if r >= needed]
    query = row.changes_nothing and table.machine_of(row.command) is None  # no tick passes
    groups = [high] if query else [[r] for r in high]
    for n, group in enumerate(groups):
        for together in (False, True):
            async with contextlib.asynccontextmanager(_in_state)(
                tmp / f"{n}-{together}", row
            ) as lab:
                for role in [*(low if n == 0 else []), *group]:
                    await _cell(lab, row, role, together)
                await _alive(lab, f"{row.command} in {row.state}")


def _param(row: Row) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=row.bug)] if row.bug else []
    return pytest.param(row, id=f"{row.state}-{row.command}", marks=marks)


@pytest.mark.parametrize("row", [_param(r) for r in table.ROWS])
async def test_a_command_in_a_state(row: Row, lab_dir: Path) -> None:
    await _row(lab_dir, row)


# ------------------------------------------------------------------ the table is complete


async def test_every_command_and_state_has_rows(tmp_path: Path) -> None:
    """A command the daemon registers, or a machine state, without rows fails here."""
    assert app_register_functions() == set(REGISTER_FUNCTIONS)  # the registry is the daemon's
    async with lab_of(tmp_path, caster_kind=CasterKind.VACUUM) as lab:
        names = set(lab.registry.names())
        roles = {n: lab.registry.role_of(n) for n in names}
    assert set(PAYLOADS) == names
    assert roles == table.ROLES
    assert {*table.KILN_COMMANDS, *table.CASTER_COMMANDS, *table.LAB_COMMANDS} == names
    assert set(SETUPS) == set(table.STATES)
    cells = {(r.state, r.command) for r in table.ROWS}
    assert len(cells) == len(table.ROWS), "a (state, command) has two rows"
    for state in table.STATES.values():
        own = table.KILN_COMMANDS if state.machine == "kiln" else table.CASTER_COMMANDS
        missing = [c for c in (*own, *table.LAB_COMMANDS) if (state.name, c) not in cells]
        assert not missing, f"{state.name}: no rows for {missing}"
    for row in table.ROWS:
        machine = table.machine_of(row.command)
        assert machine in (None, table.STATES[row.state].machine), row
