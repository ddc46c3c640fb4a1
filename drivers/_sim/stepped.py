"""Step a simulator to the shared clock's time every few milliseconds of wall time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from drivers.clock import Clock

STEP_WALL_S = 0.005  # the model advances to the clock's time every 5 ms of wall time


class Stepped(Protocol):
    def step_to(self, now: float) -> None: ...


async def _step_forever(sim: Stepped, clock: Clock) -> None:
    while True:
        sim.step_to(clock.now())
        await asyncio.sleep(STEP_WALL_S)


@contextlib.asynccontextmanager
async def stepping(sim: Stepped, clock: Clock, *, name: str) -> AsyncIterator[None]:
    """Step ``sim`` on ``clock`` in a task named ``name`` until the block ends."""
    task = asyncio.create_task(_step_forever(sim, clock), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
