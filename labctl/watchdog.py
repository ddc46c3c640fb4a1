"""systemd readiness and a watchdog pinged only when every control loop made progress.

``sd_notify`` is a datagram to ``$NOTIFY_SOCKET`` (sd_notify(3)); ten lines, no dependency.
The ping is gated on progress, not on the event loop being alive: a hung control task stops
the pings, systemd kills and restarts the daemon, and the device-side lease keeps the kiln
safe meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


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


async def watchdog_loop(progress: Sequence[Callable[[], int]], interval_s: float) -> None:
    """Ping systemd every ``interval_s`` (wall) while each progress counter has moved."""
    last = [p() for p in progress]
    starved = False
    while True:
        await asyncio.sleep(interval_s)
        now = [p() for p in progress]
        if all(n != b for n, b in zip(now, last, strict=True)):
            notify("WATCHDOG=1")
            if starved:
                log.warning("control loops progress again; watchdog pings resumed")
            starved = False
        elif not starved:
            log.error("a control loop made no progress in %.1f s; withholding watchdog", interval_s)
            starved = True
        last = now
