"""How a test moves a lab of fakes: its virtual time, one deadline at a time, and its commands.

:class:`LabDriver` is the half of :class:`tests._support.lab.Lab` a test acts through. Time
moves on only once every live machine loop sleeps on the :class:`StepClock` (its tick's I/O
all done), so each tick happens exactly at its deadline; commands sent "at once" reach the
same tick. Every wait is bounded in wall time: what never happens raises :class:`LabHung`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from labctl.commands.queue import COMMAND_DEADLINE_S
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry
from labctl.config.users import Role
from tests._support.clock import StepClock
from tests._support.lab_commands import USERS, Answer

TICK_S = 1.0  # both machines tick once a (virtual) second
STRAGGLER_S = 0.1  # wall time a queued command waits for the others sent with it


class LabHung(AssertionError):
    """Something the lab waited for did not happen within the wall-time guard."""


class LabDriver:
    """Virtual time and commands over a lab's clock, machine loops and registry."""

    clock: StepClock
    tasks: list[asyncio.Task[None]]
    registry: CommandRegistry

    def status(self) -> dict[str, object]:
        """What the lab shows now (for failure messages)."""
        raise NotImplementedError

    def queued(self) -> int:
        """Commands waiting in the machines' queues for their loop to take them."""
        raise NotImplementedError

    def alive(self) -> bool:
        return bool(self.tasks) and not any(t.done() for t in self.tasks)

    def dead_loops(self) -> list[str]:
        out = []
        for task in self.tasks:
            if task.done():
                err = None if task.cancelled() else task.exception()
                out.append(f"{task.get_name()}: {err!r}")
        return out

    async def settle(self, guard_s: float = 10.0) -> None:
        """Until every live machine loop sleeps on the clock (its tick's I/O all done)."""
        deadline = time.monotonic() + guard_s
        spins = 0
        while self.clock.waiting < sum(not t.done() for t in self.tasks):
            spins += 1
            if spins < 50:
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(0.0005)  # a store or ledger thread is at work
            if time.monotonic() > deadline:
                raise LabHung(f"a machine loop did not come back to its clock: {self.status()}")

    async def step(self) -> None:
        """Let the next deadline(s) on the clock happen, then settle."""
        await self.settle()
        self.clock.jump_to_next()
        await self.settle()

    async def ticks(self, n: int = 1) -> None:
        """``n`` ticks of time (both machines tick every TICK_S)."""
        target = self.clock.now() + n * TICK_S
        while self.clock.now() < target - 1e-9:
            await self.settle()
            if not self.clock.jump_to_next():
                raise LabHung(f"nothing sleeps on the clock: {self.dead_loops()}")
        await self.settle()

    async def until(self, what: Callable[[], bool], limit_ticks: int = 600, why: str = "") -> None:
        for _ in range(limit_ticks):
            if what():
                return
            await self.ticks(1)
        raise LabHung(f"not reached in {limit_ticks} ticks: {why} {self.status()}")

    async def drive(self, *aws: Awaitable[Any]) -> list[Any]:
        """Await ``aws``; time moves on (one deadline at a time) only once every command still
        unanswered waits in a machine's queue for its loop. So senders "at once" reach the
        same tick, and a command that never reaches a machine (refused at once, a query, a
        ledger write on its own thread) sees no tick go by. Wall-bounded.
        """
        tasks = [asyncio.ensure_future(a) for a in aws]
        deadline = time.monotonic() + COMMAND_DEADLINE_S + 5.0
        try:
            spins, since = 0, time.monotonic()
            while not all(t.done() for t in tasks):
                now = time.monotonic()
                if now > deadline:
                    raise LabHung(f"no answer within {COMMAND_DEADLINE_S} s: {self.status()}")
                spins += 1
                await (asyncio.sleep(0) if spins < 50 else asyncio.sleep(0.0005))
                pending, queued = sum(not t.done() for t in tasks), self.queued()
                asleep = self.clock.waiting >= sum(not t.done() for t in self.tasks)
                # all of them queued (or the rest held up elsewhere a while): the next tick
                if asleep and queued and (queued >= pending or now - since > STRAGGLER_S):
                    self.clock.jump_to_next()
                    since = time.monotonic()
            await self.settle()
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
        return [t.result() for t in tasks]

    # ---------------------------------------------------------------- commands
    async def answer(
        self, name: str, payload: Mapping[str, object], role: Role, who: str | None = None
    ) -> Answer:
        """Dispatch one command as ``who`` (default: named after its role); its one answer."""
        started = time.monotonic()
        caller = Caller(who or USERS[role], role)
        try:
            result = await self.registry.dispatch(name, payload, caller)
        except CommandRefused as refused:
            return Answer(False, refused.reason, None, time.monotonic() - started)
        return Answer(True, repr(dict(result)), result, time.monotonic() - started)

    async def command(
        self, name: str, payload: Mapping[str, object], role: Role, who: str | None = None
    ) -> Answer:
        (one,) = await self.drive(self.answer(name, payload, role, who))
        return one  # type: ignore[no-any-return]

    async def together(
        self, name: str, payload: Mapping[str, object], role: Role, n: int = 2
    ) -> list[Answer]:
        """``n`` senders give the same command at once (two transports, one registry)."""
        return await self.drive(*(self.answer(name, payload, role) for _ in range(n)))
