"""The supervised control loop every machine (kiln, caster) runs: one implementation.

A machine's loop recovers what a previous daemon left (once), then ticks forever: first the
outcome the run store refused earlier (stored late once writes go through), then the queued
commands, then the machine's own tick. A run store that refuses a write ends the run safely
(:meth:`MachineLoop._store_failed`); the daemon stays up.

Anything else that escapes (a bug in a tick, a command, a driver call) is caught here: the
machine's run or cast ends *faulted: internal error: <what>*, the machine is driven to its
safe state, an alarm is raised, the traceback is logged once, and the loop restarts after a
backoff. Other machines never notice. ``ticks`` counts completed ticks only, so the systemd
watchdog sees a loop that keeps crashing as one that makes no progress.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

from drivers.clock import Clock
from labctl.commands.queue import Action, CommandQueue, InternalError
from labctl.runs.store import RunStoreError

log = logging.getLogger(__name__)

#: The longest pause before a crashed loop starts again, in ticks.
MAX_BACKOFF_TICKS = 8
#: How long driving a machine safe may take at shutdown or after a crash (wall seconds).
SAFE_STOP_S = 6.0


def describe(err: BaseException) -> str:
    """``TypeName: text`` of an error, for outcomes and alarms."""
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


class MachineLoop(abc.ABC):
    """Ticks, commands between ticks, late outcomes and supervision of one machine."""

    def __init__(
        self, name: str, clock: Clock, tick_s: float, errors: tuple[type[Exception], ...]
    ) -> None:
        self.name = name
        self._clock, self._tick_s = clock, tick_s
        self._commands = CommandQueue(name, errors)
        self._commands.busy_reason = self._busy
        self._restarting = False
        self._recovered = False
        self.ticks = 0
        self.crashes = 0
        self.last_crash: str | None = None
        self.lateness_s: deque[float] = deque(maxlen=4096)  # tick start lateness, clock s
        #: This machine's devices with no passing commissioning record for the current config
        #: (``labctl.commission.gate`` sets it); the status and the screens show it.
        self.uncommissioned: tuple[str, ...] = ()
        self._paused: str | None = None  # why the loop leaves its devices alone (see paused)
        #: Called with (machine, reason) after a crash was handled: the lab raises an alarm.
        self.on_crash: Callable[[str, str], None] = lambda _machine, _reason: None

    async def submit(self, action: Action) -> dict[str, object]:
        """Queue ``action`` to run between ticks; its one answer (result or refusal) is returned."""
        return await self._commands.submit(action)

    def busy_reason(self) -> str | None:
        """Why the loop may not take a command now (shown when a command expires)."""
        return None

    @contextlib.asynccontextmanager
    async def paused(self, why: str) -> AsyncIterator[None]:
        """Leave the machine's devices to someone else (commissioning) for the ``with`` block.

        Entered between two ticks (the loop takes it as a command); until the block ends the
        loop touches no device, refuses every command with ``why`` and keeps counting ticks,
        so the watchdog sees it alive. CommandRefused if the loop does not take it in time.
        """

        async def pause() -> dict[str, object]:
            self._paused = why
            return {}

        await self.submit(pause)
        try:
            yield
        finally:
            self._paused = None

    def _busy(self) -> str | None:
        if self._restarting:
            return f"its loop restarts after an {self.last_crash}"
        return self.busy_reason()

    # ---------------------------------------------------------------- supervision
    async def run(self) -> None:
        """The machine's task: never ends on an error of its own, only when cancelled."""
        backoff = self._tick_s
        while True:
            ticks_before = self.ticks
            try:
                await self._loop()
            except Exception as err:  # anything but cancellation: this machine only
                cause = err.__cause__ if isinstance(err, InternalError) else None
                reason = f"internal error: {describe(cause or err)}"
                self.crashes += 1
                self.last_crash = reason
                log.exception("%s: %s; driving it safe, its loop restarts", self.name, reason)
                await self._fail_quietly(reason)
                self.on_crash(self.name, reason)
                if self.ticks > ticks_before:  # it made progress since the last crash
                    backoff = self._tick_s
                self._restarting = True
                await self._clock.sleep(backoff)
                self._restarting = False
                backoff = min(2 * backoff, MAX_BACKOFF_TICKS * self._tick_s)

    async def _fail_quietly(self, reason: str) -> None:
        try:
            async with asyncio.timeout(SAFE_STOP_S):
                await self._fail(reason)
        except Exception:
            log.exception("%s: could not end its run cleanly after the internal error", self.name)

    async def stop_safe(self) -> None:
        """At daemon shutdown (the loop is cancelled): drive the machine safe, bounded in time.

        A run stays stored as it is, so the next start resumes it or ends it as the resume
        rules say. Never raises.
        """
        self._commands.refuse_all("the daemon is stopping")
        try:
            async with asyncio.timeout(SAFE_STOP_S):
                await self._safe_at_stop()
        except Exception as err:
            log.critical("%s: safe state not confirmed at shutdown: %s", self.name, describe(err))

    async def _loop(self) -> None:
        if not self._recovered:
            try:
                await self._recover()
            except RunStoreError as err:  # a run that cannot be persisted does not resume
                await self._store_failed(err)
            self._recovered = True
        next_tick = self._clock.now()
        while True:
            next_tick = max(next_tick + self._tick_s, self._clock.now())  # overrun: no burst
            await self._clock.sleep_until(next_tick)
            self.lateness_s.append(self._clock.now() - next_tick)
            if self._paused is not None:
                self._commands.refuse_all(self._paused)
                self.ticks += 1
                continue
            try:
                await self._store_late()
                await self._commands.run_pending()
                await self._tick()
            except RunStoreError as err:  # e.g. the disk is full: safe, stay up
                await self._store_failed(err)
            self.ticks += 1
            self._after_tick()

    async def _drain_while_waiting(self) -> None:
        """During recovery: answer commands between waits, count the loop as alive."""
        await self._commands.run_pending()
        await self._clock.sleep(self._tick_s)
        self.ticks += 1  # alive and waiting for its devices: no watchdog restart loop

    # ----------------------------------------------------------- the machine's part
    @abc.abstractmethod
    async def _recover(self) -> None:
        """After a daemon restart: resume or end what the previous daemon left."""

    @abc.abstractmethod
    async def _tick(self) -> None:
        """Read, check, decide, apply."""

    @abc.abstractmethod
    async def _store_late(self) -> None:
        """Store an outcome the run store refused earlier, if it now takes writes."""

    @abc.abstractmethod
    async def _store_failed(self, err: RunStoreError) -> None:
        """The run store took no write: end the run safely, keep its outcome to store later."""

    @abc.abstractmethod
    async def _fail(self, reason: str) -> None:
        """After an internal error: end the run faulted with ``reason``, machine safe."""

    @abc.abstractmethod
    async def _safe_at_stop(self) -> None:
        """Drive every device safe at shutdown without ending the run."""

    @abc.abstractmethod
    def _after_tick(self) -> None:
        """Publish what a tick changed."""
