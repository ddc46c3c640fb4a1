"""Which of a machine's devices have not confirmed their safe state: one bookkeeping for all.

A machine that could not drive a device safe (heat off, vacuum vented, drive stopped) retries
every tick and says so; the device-side lease (a controller's program or comms-loss fallback,
the I/O module's watchdog) is what protects the machine meanwhile. Until every device has
confirmed, the machine reads not safe and starts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)


class UnsafeDevices:
    """The devices of ``machine`` whose last safe-state command was not confirmed."""

    def __init__(self, machine: str) -> None:
        self._machine = machine
        self.names: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.names)

    def __str__(self) -> str:
        return ", ".join(self.names)

    def update(self, failed: Sequence[str], why: str = "") -> None:
        """Record the outcome of one safe-state attempt; logs the changes, not the repeats."""
        now = tuple(failed)
        if now and not self.names:
            log.critical(
                "%s: safe state not confirmed on %s%s; retrying every tick, the devices' own "
                "fallback is the protection until then",
                self._machine,
                ", ".join(now),
                f" ({why})" if why else "",
            )
        elif self.names and not now:
            log.warning("%s: safe state confirmed on %s", self._machine, self)
        self.names = now
