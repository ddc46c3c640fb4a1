"""systemd readiness and a watchdog pinged only when every control loop made progress.

``sd_notify`` is a datagram to ``$NOTIFY_SOCKET`` (sd_notify(3)); ten lines, no dependency.
The ping is gated on progress, not on the event loop being alive: a hung control task stops
the pings, systemd kills and restarts the daemon (``WatchdogSec=`` in systemd/labctl.service),
and the device-side lease keeps the kiln safe meanwhile. ``STATUS=`` names the stuck loop, so
``systemctl status labctl`` shows why the pings stopped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger(__name__)

#: A control loop's tick counter, read by the watchdog.
Progress = Callable[[], int]


def notify(message: str) -> bool:
    """Send one sd_notify message; False when not run under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(address)
            sock.sendall(message.encode())
        except OSError as err:
            log.warning("sd_notify to %s failed: %s", address, err)
            return False
    return True


def watchdog_interval_s() -> float | None:
    """Half the systemd watchdog timeout, or None when no watchdog is configured."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6


def too_slow_for_watchdog(
    ticks: Mapping[str, float], clock_speed: float, interval_s: float | None
) -> str | None:
    """Why the slowest control tick (clock seconds, by config field) would starve the pings."""
    if interval_s is None or not ticks:
        return None
    field, tick_s = max(ticks.items(), key=lambda item: item[1])
    wall_s = tick_s / clock_speed
    if wall_s < interval_s:
        return None
    return (
        f"{field} = {tick_s:g} s is a control tick of {wall_s:g} s, but the systemd watchdog "
        f"needs progress every {interval_s:g} s: lower {field} or raise WatchdogSec"
    )


class ProgressGate:
    """Whether every loop's counter moved since the previous :meth:`stuck` call.

    ``progress`` maps a loop's name to its counter (a plain sequence is named by position).
    With no loops at all the gate is always open: the ping then proves the event loop runs.
    """

    def __init__(self, progress: Mapping[str, Progress] | Sequence[Progress]) -> None:
        if isinstance(progress, Mapping):
            self._progress = dict(progress)
        else:
            self._progress = {f"loop {i}": p for i, p in enumerate(progress)}
        self._last = self._read()

    def _read(self) -> dict[str, int]:
        return {name: counter() for name, counter in self._progress.items()}

    def stuck(self) -> list[str]:
        """The loops whose counter has not moved since the last call (or construction)."""
        now = self._read()
        stuck = [name for name, count in now.items() if count == self._last[name]]
        self._last = now
        return stuck


async def watchdog_loop(
    progress: Mapping[str, Progress] | Sequence[Progress], interval_s: float
) -> None:
    """Every ``interval_s`` (wall), ping systemd if every loop's counter moved meanwhile.

    A loop stuck for a whole interval withholds the ping, and systemd kills the daemon when no
    ping came for ``WatchdogSec`` (twice ``interval_s``): between 1 and 1.5 ``WatchdogSec``
    after the hang. Every loop must tick faster than ``interval_s``, or it starves the pings.
    """
    gate = ProgressGate(progress)
    withheld = False
    while True:
        await asyncio.sleep(interval_s)
        stuck = gate.stuck()
        if not stuck:
            notify("WATCHDOG=1")
            if withheld:
                log.warning("control loops progress again; watchdog pings resumed")
                notify("STATUS=running")
            withheld = False
        elif not withheld:
            names = ", ".join(stuck)
            log.error("no progress in %.1f s from %s; withholding the watchdog", interval_s, names)
            notify(f"STATUS=watchdog withheld: no progress from {names}")
            withheld = True
