"""A kiln's flask-core thermocouple, read beside the control loop and never in its way.

Labs measure the flask core with an independent probe (in a dummy flask) on a thermocouple
module. The reading is information only: no interlock uses it and it never changes the
program. Each tick the runner starts a probe read alongside the controller read; the tick
takes the probe's value only if the read has finished by the time the controller answered, so
a slow or dead probe never delays control. A read that fails, or outlives its own timeout,
gives ``None`` (logged when that starts and stops).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from drivers.capabilities import ThermocoupleInput
from drivers.errors import DriverError

log = logging.getLogger(__name__)
T = TypeVar("T")

PROBE_TIMEOUT_S = 2.0  # wall seconds for one probe read (connect included)


class FlaskProbe:
    """The optional probe of one kiln; :attr:`core_c` is its latest reading or None."""

    def __init__(self, kiln: str, probe: ThermocoupleInput | None) -> None:
        self._kiln, self._probe, self._timeout_s = kiln, probe, PROBE_TIMEOUT_S
        self._pending: asyncio.Task[float | None] | None = None
        self._connected = False
        self._failing = False
        self.core_c: float | None = None

    async def alongside(self, control: Awaitable[T]) -> T:
        """Await ``control`` while a probe read runs concurrently; return what control gave.

        The probe's value is taken if its read is done by then, else on a later tick.
        """
        if self._probe is not None and self._pending is None:
            self._pending = asyncio.create_task(self._read(), name=f"kiln[{self._kiln}].flask_tc")
        try:
            return await control
        finally:
            if self._pending is not None and self._pending.done():
                self.core_c, self._pending = _value(self._kiln, self._pending), None

    def close(self) -> None:
        """Cancel a read still in flight (the runner stops)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    async def _read(self) -> float | None:
        assert self._probe is not None
        try:
            async with asyncio.timeout(self._timeout_s):
                if not self._connected:
                    await self._probe.connect()
                    self._connected = True
                reading = await self._probe.read()
        except (DriverError, TimeoutError) as err:
            if not self._failing:
                log.warning("%s: no flask core reading: %s", self._kiln, str(err) or "timeout")
            self._failing, self._connected = True, False  # reconnect (re-identify) next time
            return None
        if self._failing:
            log.info("%s: flask core readings again", self._kiln)
            self._failing = False
        return reading.temp_c


def _value(kiln: str, task: asyncio.Task[float | None]) -> float | None:
    """A finished read's value; a cancelled or crashed read (a bug) is None, never raised."""
    if task.cancelled():
        return None
    err = task.exception()
    if err is not None:
        log.error("%s: flask core read failed", kiln, exc_info=err)
        return None
    return task.result()
