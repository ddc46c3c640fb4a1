"""A kiln's loop under supervision, and commands a person repeats or gives out of order.

Regressions of issue 11 (each took the whole daemon down before): a second hold, a resume on
a running kiln, take-flask before the final hold; a programmer-mode hold the controller
refused left the run marked held; a restart with the controller away waited without limit
and answered no command; an unexpected error in a tick stopped every machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivers.capabilities import ControllerReading
from drivers.clock import VirtualClock
from drivers.errors import DriverError, LinkDown
from labctl.commands.queue import Action
from labctl.commands.registry import CommandRefused
from labctl.config.kiln import InterlockSection
from labctl.kiln.runner import KilnRunner
from labctl.kiln.settings import RunSettings
from labctl.profiles.loader import load_burnout, schedule_to_json
from labctl.runs.store import RunStore, StoredRun
from tests.labctl.test_kiln_flask_tc import SCHEDULE, Controller

TICK_S = 60.0
WALL_GUARD_S = 10.0


@dataclass
class FlakyController(Controller):
    """The stream-mode fake, which can lose its link or fail with a bug on demand."""

    link_down: bool = False
    bug: str | None = None
    safe_calls: int = 0
    crashes: list[tuple[str, str]] = field(default_factory=list)

    async def read(self) -> ControllerReading:
        if self.bug is not None:
            bug, self.bug = self.bug, None
            raise RuntimeError(bug)
        if self.link_down:
            raise LinkDown("no reply")
        return await super().read()

    async def safe_state(self) -> None:
        if self.link_down:
            raise LinkDown("no reply")
        self.safe_calls += 1
        await super().safe_state()


@dataclass
class Kiln:
    runner: KilnRunner
    controller: FlakyController
    clock: VirtualClock
    store: RunStore
    task: asyncio.Task[None]
    crashes: list[tuple[str, str]]

    async def tick(self, n: int = 1) -> None:
        target = self.runner.ticks + n
        async with asyncio.timeout(WALL_GUARD_S):
            while self.runner.ticks < target:
                if not self.clock.jump_to_next():
                    await asyncio.sleep(0.001)

    async def command(self, action: Action) -> dict[str, object]:
        """Submit ``action`` and let the loop take it on its next tick."""
        sent = asyncio.create_task(self.runner.submit(action))
        await asyncio.sleep(0)
        await self.tick()
        return await sent

    async def start(self) -> int:
        schedule = load_burnout(SCHEDULE)
        r = self.runner
        result = await self.command(lambda: r.start(schedule, schedule_to_json(schedule), "ana"))
        run_id = result["run_id"]
        assert isinstance(run_id, int)
        return run_id


def heating(k: Kiln) -> bool:
    return k.controller.sp_c is not None


def safe(k: Kiln) -> bool:
    return k.runner.snapshot.safe


async def _stored(store: RunStore, run_id: int) -> StoredRun | None:
    return next((r for r in await store.history() if r.id == run_id), None)


def _settings() -> RunSettings:
    return RunSettings(
        kiln="k1", mode="stream", tick_s=TICK_S, max_temp_c=800.0, fallback_sp_c=0.0,
        interlocks=InterlockSection().limits(800.0), resume_max_gap_s=1200.0,
        resume_max_drop_c=50.0,
    )  # fmt: skip


@asynccontextmanager
async def kiln(
    path: Path, *, link_down: bool = False, clock: VirtualClock | None = None
) -> AsyncIterator[Kiln]:
    clock = clock or VirtualClock()
    store = await RunStore.open(path)
    controller = FlakyController(clock, link_down=link_down)
    runner = KilnRunner(
        settings=_settings(), controller=controller, link_health=lambda: "ok", clock=clock,
        store=store, publish=lambda _s: None,
    )  # fmt: skip
    crashes: list[tuple[str, str]] = []
    runner.on_crash = lambda machine, reason: crashes.append((machine, reason))
    task = asyncio.create_task(runner.run())
    try:
        k = Kiln(runner, controller, clock, store, task, crashes)
        await k.tick()
        yield k
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await store.close()


async def test_repeated_and_out_of_order_commands_are_answered_and_change_nothing(
    tmp_path: Path,
) -> None:
    async with kiln(tmp_path / "runs.sqlite") as k:
        r = k.runner
        with pytest.raises(CommandRefused, match="cannot resume: no burnout is running on k1"):
            await k.command(lambda: r.resume("ana"))
        await k.start()
        with pytest.raises(CommandRefused, match="already running; nothing to resume"):
            await k.command(lambda: r.resume("ana"))
        with pytest.raises(CommandRefused, match="has not reached its final hold"):
            await k.command(lambda: r.take_flask("ana"))
        assert (await k.command(lambda: r.hold("ana")))["state"] == "held"
        with pytest.raises(CommandRefused, match=r"k1 is already held by ana since \d\d:\d\d"):
            await k.command(lambda: r.hold("ben"))
        with pytest.raises(CommandRefused, match="has not reached its final hold \\(held"):
            await k.command(lambda: r.take_flask("ana"))
        assert (await k.command(lambda: r.resume("ben")))["state"] == "running"
        outcome = (await k.command(lambda: r.abort("ana", "")))["outcome"]
        assert outcome == "aborted by ana"
        with pytest.raises(CommandRefused, match=r"no burnout is running on k1 \(last run: abo"):
            await k.command(lambda: r.abort("ana", ""))
        assert not k.task.done()
        assert k.crashes == []


async def test_a_bug_in_a_tick_faults_that_run_heat_off_and_the_loop_goes_on(
    tmp_path: Path,
) -> None:
    async with kiln(tmp_path / "runs.sqlite") as k:
        run_id = await k.start()
        await k.tick(3)
        assert heating(k)
        k.controller.bug = "division by zero somewhere"
        await k.tick(2)  # the crash, its backoff, then ticks again
        assert k.crashes == [("k1", "internal error: RuntimeError: division by zero somewhere")]
        assert not heating(k)  # heat off on the device
        assert k.runner.snapshot.state == "idle"
        assert k.runner.snapshot.outcome == (
            "faulted: internal error: RuntimeError: division by zero somewhere"
        )
        stored = await _stored(k.store, run_id)
        assert stored is not None and str(stored.outcome).startswith("faulted: internal error")
        before = k.runner.ticks
        await k.tick(3)
        assert k.runner.ticks == before + 3 and not k.task.done()
        assert await k.start() == run_id + 1  # the kiln can be used again


async def test_a_restart_with_the_controller_away_answers_and_obeys_an_abort(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.sqlite"
    clock = VirtualClock()
    async with kiln(path, clock=clock) as k:
        run_id = await k.start()
        await k.tick(2)
    async with kiln(path, link_down=True, clock=clock) as k:
        await k.tick(2)
        snap = k.runner.snapshot
        assert (snap.state, snap.run_id) == ("recovering", run_id)
        assert snap.segment == f"k1 is recovering run {run_id}: waiting for its controller"
        with pytest.raises(CommandRefused, match="only abort is possible"):
            await k.command(lambda: k.runner.hold("ana"))
        result = await k.command(lambda: k.runner.abort("ana", "kiln unplugged"))
        assert result == {"run_id": run_id, "outcome": "aborted by ana"}
        assert await k.store.active_run("k1") is None
        assert k.runner.snapshot.state == "idle"
        assert not safe(k)  # heat-off not confirmed: retried every tick
        k.controller.link_down = False
        await k.tick(2)
        assert safe(k) and k.controller.safe_calls >= 1


async def test_a_restart_with_the_controller_away_past_the_resume_limit_is_interrupted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.sqlite"
    clock = VirtualClock()
    async with kiln(path, clock=clock) as k:
        run_id = await k.start()
    async with kiln(path, link_down=True, clock=clock) as k:
        await k.tick(int(1200 / TICK_S) + 2)
        stored = await _stored(k.store, run_id)
        assert stored is not None
        assert str(stored.outcome).startswith(
            "interrupted: the controller did not answer after the restart within the resume"
        )
        assert k.runner.snapshot.state == "idle" and not k.task.done()


class RefusingHold(DriverError):
    """What a controller's Modbus exception 4 on the hold write becomes."""


async def test_a_hold_the_controller_refuses_leaves_the_run_running(tmp_path: Path) -> None:
    async with kiln(tmp_path / "runs.sqlite") as k:
        await k.start()
        mode = k.runner._mode  # the execution mode is the device seam here
        assert mode is not None

        async def refuse() -> None:
            raise RefusingHold("exception 4 (slave device failure)")

        mode.hold = refuse  # type: ignore[method-assign]
        with pytest.raises(CommandRefused, match="k1: not done: exception 4"):
            await k.command(lambda: k.runner.hold("ana"))
        assert k.runner.snapshot.state == "running"
        with pytest.raises(CommandRefused, match="k1: not done: exception 4"):
            await k.command(lambda: k.runner.hold("ana"))  # the natural retry: same answer
        assert not k.task.done()
