"""The one clock abstraction: real time, scaled time, and virtual time for tests.

Everything time-dependent (control ticks, holdback timers, simulator physics, backoff) reads
time from a :class:`Clock` and sleeps through it, so the same code runs in real time on a lab
machine, accelerated in the demo and HIL tests, and with no sleeps at all in unit tests.

The clock lives in ``drivers`` because simulators and the bus need it and ``drivers`` may not
import ``labctl``; the daemon imports it from here.

Times are seconds. ``now()`` is a monotonic process time in clock seconds (simulated seconds
for a scaled clock); ``wall()`` is the Unix time at which that instant happens in clock time,
for timestamps that leave the process.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """What time-dependent code needs from a clock."""

    @property
    def speed(self) -> float:
        """Clock seconds per wall second (1 for real time)."""

    def now(self) -> float:
        """Monotonic clock time in seconds."""

    def wall(self) -> float:
        """Unix time in clock seconds (starts at the real Unix time when the clock was made)."""

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of clock time."""

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until ``now() >= deadline``."""


class ScaledClock:
    """Clock time runs ``speed`` times faster than the wall; speed 1 is real time.

    Processes that make a scaled clock with the same ``speed`` and ``epoch`` (a Unix time
    shared through their config) agree on ``wall()``, so a daemon restarted during an
    accelerated run measures how long it was down in simulated time. Without an epoch, the
    clock's creation is the epoch. At speed 1, ``wall()`` is ``time.time()``.
    """

    def __init__(self, speed: float = 1.0, *, epoch: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._speed = speed
        self._base = 0.0  # clock time at _mono0
        self._mono0 = time.monotonic()
        real_now = time.time()
        self._epoch = real_now if epoch is None else epoch
        self._wall0 = self._epoch + (real_now - self._epoch) * speed

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        return self._base + (time.monotonic() - self._mono0) * self._speed

    def wall(self) -> float:
        return self._wall0 + self.now()

    def set_speed(self, speed: float) -> None:
        """Run at ``speed`` from now on; time stays continuous (the demo slows for a cast)."""
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._base, self._mono0, self._speed = self.now(), time.monotonic(), speed

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        # re-checked after waking: the speed may have changed meanwhile
        while (left := deadline - self.now()) > 0:
            await asyncio.sleep(left / self._speed)
        await asyncio.sleep(0)


def real_clock() -> ScaledClock:
    """The clock of a production daemon."""
    return ScaledClock(1.0)


class VirtualClock:
    """Time that moves only when every sleeper is waiting: unit tests with no real sleeps.

    Modelled on trio's ``MockClock(autojump_threshold=0)``: a sleeper registers its deadline;
    :meth:`advance` (or the autojump task from :meth:`autojump`) jumps time to the earliest
    deadline and wakes it.
    """

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @property
    def speed(self) -> float:
        return 1.0

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._wall_offset + self._now

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + max(0.0, seconds))

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), fut))
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking every sleeper whose deadline passed."""
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def jump_to_next(self) -> bool:
        """Jump to the earliest pending deadline; False when nobody sleeps."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        if not self._sleepers:
            return False
        self.advance(max(0.0, self._sleepers[0][0] - self._now))
        return True

    async def autojump(self) -> None:
        """Run as a task: whenever the loop is otherwise idle, jump to the next deadline."""
        while True:
            for _ in range(20):  # let every runnable task reach its next await
                await asyncio.sleep(0)
            if not self.jump_to_next():
                await asyncio.sleep(0)
