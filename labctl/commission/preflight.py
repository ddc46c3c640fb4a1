"""Whether ``labctl commission`` may take a device now, and why not.

The command line refuses while the daemon runs. The daemon holds every configured bus and
serial line (one task owns each wire) and the ledger's one writer, so a second process talking
to the device would interleave with its ticks, renew the very lease being tested, and append
behind the daemon's back. With the daemon running, a supervisor commissions from the
touchscreen instead (the daemon's own ``commission`` command), or stops the daemon first.

With the daemon stopped, a run or cast it would resume must not be disturbed either: a stored
active run of the device's machine refuses commissioning until it is ended. (The device's own
state is checked by its family: a Eurotherm whose programmer runs is refused there.)
"""

from __future__ import annotations

from labctl.commands.client import send_command
from labctl.commission.record import SiteDevice
from labctl.config.site import SiteConfig
from labctl.runs.store import RunStore


async def refusal(site: SiteConfig, dev: SiteDevice) -> str | None:
    """Why commissioning ``dev`` from the command line is refused now, or None."""
    socket = site.state_dir / "labctl.sock"
    if socket.exists() and (await send_command(socket, "status", {})).get("ok"):
        return (
            f"the labctl daemon is running ({socket}) and holds the bus of {dev.device}: stop "
            "it first, or commission from the touchscreen's supervisor screen"
        )
    runs = site.state_dir / "runs.sqlite"
    if not runs.exists():
        return None
    store = await RunStore.open(runs)
    try:
        active = await store.active_run(dev.machine)
    finally:
        await store.close()
    if active is None:
        return None
    return (
        f"{dev.machine} has run {active.id} ({active.profile_name}) in progress, which the daemon "
        "resumes when it starts: end it (start the daemon and abort it) before commissioning"
    )
