"""One program step per tick, and what happens when its setpoint write fails: not retried.

The next tick writes the next setpoint; the stale-reading interlock and the controller's lease
cover a link that stays dead. The failures are counted, and logged when they start and stop.
"""

from __future__ import annotations

import logging

from drivers.capabilities import ControllerReading
from drivers.clock import Clock
from drivers.errors import DriverError
from labctl.kiln.modes import ExecutionMode
from labctl.kiln.run import ActiveRun

log = logging.getLogger(__name__)


class SetpointWrites:
    """The program steps of one kiln, and how many of their writes failed."""

    def __init__(self, kiln: str) -> None:
        self._kiln = kiln
        self.failures = 0
        self._failing = False

    async def step(
        self, run: ActiveRun, mode: ExecutionMode, reading: ControllerReading | None, clock: Clock
    ) -> str | None:
        """Step ``run``; the problem that ends it, if any (a failed write is none)."""
        try:
            problem = await run.step(reading, mode, clock)
        except DriverError as err:
            if not self._failing:
                log.warning("%s: setpoint not applied: %s", self._kiln, err)
            self.failures += 1
            self._failing = True
            return None
        if self._failing:
            log.info("%s: setpoint writes go through again", self._kiln)
            self._failing = False
        return problem
