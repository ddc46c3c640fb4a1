"""The daemon process: run a built :class:`~labctl.daemon.app.Lab`, and stop it safely.

``labctl run`` refuses a bad config, builds the lab, then runs every bus, machine loop and
service in one TaskGroup until SIGTERM/SIGINT (or a task that fails); on the way out every
machine is driven safe before anything is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from drivers.clock import ScaledClock
from labctl.config.site import load_site
from labctl.daemon.app import Lab, build_lab
from labctl.daemon.control_socket import ControlSocket
from labctl.daemon.watchdog import notify, too_slow_for_watchdog, watchdog_interval_s, watchdog_loop
from labctl.errors import LabctlError
from labctl.profiles.loader import check_profiles
from labctl.runs.loop import MachineLoop

log = logging.getLogger(__name__)

#: Worker threads (SQLite stores, the telemetry spool) run pure Python while holding the GIL;
#: a 1 ms switch interval (default 5 ms) bounds how long they can keep the control loop waiting.
GIL_SWITCH_S = 0.001

#: How long closing one service may take at shutdown (wall seconds). With the machines' safe
#: state (SAFE_STOP_S, in parallel) the daemon stops within ~20 s, under systemd's
#: TimeoutStopSec=30s.
CLOSE_S = 3.0


async def run_lab(lab: Lab, *, ready: asyncio.Event | None = None) -> None:
    """Run every bus and machine loop until cancelled; the command socket and watchdog too.

    Each machine loop is supervised (its own errors never end it). Any other task that ends
    with an error stops the daemon at once, with the reason logged: never a half-alive daemon.
    On the way out every machine is driven safe, then every service is closed, each bounded.
    """
    sock = ControlSocket(lab.site.state_dir / "labctl.sock", lab.registry)
    await sock.start()
    if lab.touchscreen is not None:
        await lab.touchscreen.start()
    machines: list[MachineLoop] = [*lab.runners.values(), *lab.casters.values()]
    for machine in machines:
        machine.on_crash = lab.machine_crashed
    # the buses outlive the loops: the machines are driven safe through them at the end
    buses = [asyncio.create_task(b.run(), name=f"bus[{n}]") for n, b in lab.buses.items()]
    try:
        async with asyncio.TaskGroup() as tg:
            if buses:
                tg.create_task(_bus_ended(buses), name="buses")
            for name, runner in lab.runners.items():
                tg.create_task(runner.run(), name=f"kiln[{name}].control")
            for name, caster in lab.casters.items():
                tg.create_task(caster.run(), name=f"caster[{name}].control")
            if lab.touchscreen is not None:
                tg.create_task(lab.touchscreen.run(), name="touchscreen")
            if lab.telemetry is not None:
                tg.create_task(lab.telemetry.run(), name="telemetry")
                health_s = lab.site.telemetry.health_interval_s
                tg.create_task(lab.telemetry.health_loop(health_s), name="telemetry.health")
            interval = watchdog_interval_s()
            if interval is not None:
                progress = {f"kiln[{n}]": (lambda r=r: r.ticks) for n, r in lab.runners.items()}
                progress |= {f"caster[{n}]": (lambda c=c: c.ticks) for n, c in lab.casters.items()}
                tg.create_task(watchdog_loop(progress, interval), name="systemd.watchdog")
            notify("READY=1")
            log.info(
                "labctl running: %d kiln(s), %d caster(s), %d bus(es)",
                len(lab.runners),
                len(lab.casters),
                len(lab.buses),
            )
            if ready is not None:
                ready.set()
    finally:
        notify("STOPPING=1")
        await _stop(lab, sock, machines, buses)


async def _bus_ended(buses: list[asyncio.Task[None]]) -> None:
    """A bus task never ends on its own: if one does, the daemon stops, saying why."""
    done, _ = await asyncio.wait(buses, return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        task.result()  # its error, if it had one
    raise RuntimeError(f"{', '.join(t.get_name() for t in done)} stopped")


async def _stop(
    lab: Lab, sock: ControlSocket, machines: list[MachineLoop], buses: list[asyncio.Task[None]]
) -> None:
    """Every machine safe through its still-running bus (in parallel, bounded).

    Then the buses are stopped and every service closed (each bounded).
    """
    log.info("labctl stopping: driving every machine to its safe state")
    if lab.commissioning is not None:  # a commissioning job holds a machine's devices
        await lab.commissioning.commissioner.close()
    await asyncio.gather(*(m.stop_safe() for m in machines))
    for task in buses:
        task.cancel()
    await asyncio.gather(*buses, return_exceptions=True)
    closers: list[tuple[str, Callable[[], Awaitable[None]]]] = [("command socket", sock.close)]
    if lab.touchscreen is not None:
        closers.append(("touchscreen", lab.touchscreen.close))
    closers += [(f"bus {name}", bus.close) for name, bus in lab.buses.items()]
    if lab.telemetry is not None:
        closers.append(("telemetry", lab.telemetry.close))
    if lab.recorder is not None:
        closers.append(("ledger", lab.recorder.service.close))
    closers.append(("run store", lab.store.close))
    for what, close in closers:
        try:
            async with asyncio.timeout(CLOSE_S):
                await close()
        except Exception as err:
            log.error("closing the %s at shutdown: %s", what, str(err) or type(err).__name__)


@contextlib.contextmanager
def _stop_on_signals(task: asyncio.Task[None]) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def run_daemon_from_config(path: Path) -> int:
    """``labctl run``: refuse to start on a bad config, else run until SIGTERM."""
    try:
        site = load_site(path)
    except LabctlError as err:
        log.error("not starting: %s", err)
        return 2
    _, errors = check_profiles([site.profiles_dir])
    for problem in errors:
        log.error("not starting: %s", problem)
    if errors:
        return 2
    ticks = {"lab.tick_s": site.lab.tick_s}
    ticks |= {f"casters.{n}.tick_s": c.tick_s for n, c in site.casters.items()}
    too_slow = too_slow_for_watchdog(ticks, site.lab.clock_speed, watchdog_interval_s())
    if too_slow is not None:
        log.error("not starting: %s", too_slow)
        return 2
    clock = ScaledClock(site.lab.clock_speed, epoch=site.lab.clock_epoch)
    sys.setswitchinterval(GIL_SWITCH_S)
    try:
        lab = await build_lab(site, clock, site_file=path)
    except LabctlError as err:
        log.error("not starting: %s", err)
        return 2
    task = asyncio.current_task()
    assert task is not None
    try:
        with _stop_on_signals(task), contextlib.suppress(asyncio.CancelledError):
            await run_lab(lab)
    except BaseExceptionGroup as group:
        for failure in group.exceptions:
            log.critical("labctl stopped: a task failed: %s", failure, exc_info=failure)
        return 1
    log.info("labctl stopped")
    return 0
