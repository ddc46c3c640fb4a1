"""Every registered command in every state of its machine, for every role, twice and at once.

The expectations are data (:mod:`tests.labctl.machines.table`); this module puts a lab of
fakes (:mod:`tests._support.lab`) into each state (:mod:`.state_setups`) and checks each row:

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
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from labctl.commands.queue import COMMAND_DEADLINE_S
from labctl.config.limits import CasterKind
from labctl.config.users import Role
from tests._support.lab import Lab, lab_of
from tests._support.lab_commands import (
    PAYLOADS,
    REGISTER_FUNCTIONS,
    Answer,
    app_register_functions,
)
from tests._support.lab_site import FLASK_C
from tests.labctl.machines import table
from tests.labctl.machines.state_setups import SETUPS, caster_kind_of, shows
from tests.labctl.machines.table import Expect, Row

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
    shown = shows(lab, row.state)
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
    assert shows(lab, row.state) in allowed, f"{where}: after: {lab.status()}"


async def _in_state(tmp: Path, row: Row) -> AsyncIterator[Lab]:
    async with lab_of(tmp, caster_kind=caster_kind_of(row.state)) as lab:
        if table.STATES[row.state].machine == "caster":
            lab.controller.pv_c = FLASK_C  # the flask waits in the idle kiln
        await SETUPS[row.state](lab)
        assert shows(lab, row.state) == table.STATES[row.state].shows, lab.status()
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
