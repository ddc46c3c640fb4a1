"""The composition root: the site config made into buses, drivers and kiln runners.

They run in one TaskGroup, with the command socket and the systemd watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from drivers import delta_vfd, eurotherm3200, iomodule, omron_e5cc
from drivers._modbus.bus import ModbusBus, ModbusDevice
from drivers._modbus.pymodbus_wire import PymodbusWire
from drivers._modbus.registers import RegisterMap
from drivers._modbus.transport import SerialLine, TcpEndpoint
from drivers.clock import Clock, ScaledClock
from drivers.eurotherm3200 import Eurotherm3200
from labctl.alarms import AlarmBoard, register_alarm_commands
from labctl.cast.build import DeviceParts, build_casters
from labctl.cast.commands import register_caster_commands
from labctl.cast.runner import CasterRunner
from labctl.commands.registry import CommandRegistry
from labctl.commands.status import register_status
from labctl.commission.daemon_commands import register_commissioning_commands
from labctl.commission.daemon_run import LabLinks
from labctl.commission.daemon_side import DaemonCommissioning
from labctl.config.site import SiteConfig, load_site
from labctl.daemon.control_socket import ControlSocket
from labctl.daemon.watchdog import notify, too_slow_for_watchdog, watchdog_interval_s, watchdog_loop
from labctl.errors import LabctlError
from labctl.kiln.commands import register_kiln_commands
from labctl.kiln.runner import KilnRunner
from labctl.kiln.settings import RunSettings
from labctl.kiln.snapshot import KilnSnapshot
from labctl.ledger.commands import register_ledger_commands
from labctl.ledger.recorder import CastRecorder, open_recorder
from labctl.profiles.loader import check_profiles
from labctl.runs.loop import MachineLoop
from labctl.runs.store import RunStore
from labctl.telemetry.build import build_telemetry
from labctl.telemetry.service import Telemetry
from labctl.web.options import register_start_options

if TYPE_CHECKING:
    from labctl.web.service import Touchscreen

log = logging.getLogger(__name__)

#: Worker threads (SQLite stores, the telemetry spool) run pure Python while holding the GIL;
#: a 1 ms switch interval (default 5 ms) bounds how long they can keep the control loop waiting.
GIL_SWITCH_S = 0.001

#: Register map and identity registers of each Modbus device family.
MODBUS_FAMILIES: dict[str, tuple[RegisterMap, tuple[str, ...]]] = {
    "eurotherm3200": (eurotherm3200.MAP, tuple(eurotherm3200.IDENTITY)),
    "omron_e5cc": (omron_e5cc.MAP, tuple(omron_e5cc.IDENTITY)),
    "iomodule": (iomodule.MAP, tuple(iomodule.IDENTITY)),
    "delta_vfd": (delta_vfd.MAP, tuple(delta_vfd.IDENTITY)),
}


@dataclass
class Lab:
    """Everything the daemon runs, built from one site config."""

    site: SiteConfig
    clock: Clock
    store: RunStore
    buses: dict[str, ModbusBus] = field(default_factory=dict)
    devices: dict[str, ModbusDevice] = field(default_factory=dict)  # Modbus devices by name
    runners: dict[str, KilnRunner] = field(default_factory=dict)
    registry: CommandRegistry = field(default_factory=CommandRegistry)
    casters: dict[str, CasterRunner] = field(default_factory=dict)
    listeners: list[Callable[[KilnSnapshot], None]] = field(default_factory=list)
    caster_listeners: list[Callable[[dict[str, object], float], None]] = field(default_factory=list)
    telemetry: Telemetry | None = None
    recorder: CastRecorder | None = None
    touchscreen: Touchscreen | None = None
    alarms: list[str] = field(default_factory=list)
    board: AlarmBoard = field(init=False)
    commissioning: DaemonCommissioning | None = None

    def __post_init__(self) -> None:
        self.board = AlarmBoard(self.clock.wall)

    def alarm(self, text: str) -> None:
        """A lab-wide alarm (the ledger stopped, a record missing): logged and kept."""
        self.alarms.append(text)
        self.board.raise_alarm("lab", text)

    def machine_crashed(self, machine: str, reason: str) -> None:
        """A machine's loop caught an internal error and restarts: an alarm for people."""
        caster = self.casters.get(machine)
        state = self.kiln_snapshot(machine) if caster is None else caster.status()
        self.board.crashed(machine, reason, state)

    def publish_caster(self, status: dict[str, object], wall_s: float) -> None:
        for listener in self.caster_listeners:
            try:
                listener(status, wall_s)
            except Exception:
                log.exception("caster status listener failed")

    def modbus_device(self, name: str) -> ModbusDevice:
        """The driver-side handle of Modbus device ``name`` on its bus (one per device)."""
        if name in self.devices:  # its machine's, also for commissioning it
            return self.devices[name]
        cfg = self.site.modbus_device(name)
        regmap, identity = MODBUS_FAMILIES[cfg.family]
        self.devices[name] = self.buses[cfg.bus].device(
            name=name,
            unit=cfg.unit,
            regmap=regmap,
            identity=identity,
            max_block_registers=cfg.max_block_registers,
            max_fill_registers=cfg.max_fill_registers,
        )
        return self.devices[name]

    def kiln_snapshot(self, name: str) -> KilnSnapshot | None:
        runner = self.runners.get(name)
        return None if runner is None else runner.snapshot

    def publish(self, snapshot: KilnSnapshot) -> None:
        for listener in self.listeners:
            try:
                listener(snapshot)
            except Exception:
                log.exception("snapshot listener failed")


def device_health(device: ModbusDevice) -> Callable[[], str]:
    return lambda: str(device.health)


def _settings(site: SiteConfig, name: str) -> RunSettings:
    kiln = site.kilns[name]
    return RunSettings(
        kiln=name,
        mode=kiln.mode,
        tick_s=site.lab.tick_s,
        max_temp_c=kiln.max_temp_c,
        fallback_sp_c=kiln.fallback_sp_c,
        interlocks=kiln.interlocks.limits(kiln.max_temp_c),
        resume_max_gap_s=kiln.resume.max_gap_min * 60.0,
        resume_max_drop_c=kiln.resume.max_drop_c,
    )


async def build_lab(site: SiteConfig, clock: Clock, *, site_file: Path | None = None) -> Lab:
    """Open the run store and wire buses, drivers and runners (nothing runs yet).

    Streamed machines must be commissioned (:mod:`labctl.commission.gate`): otherwise
    ``NotCommissioned`` names them, with ``site_file`` in the command it suggests.
    """
    site.state_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    lab = Lab(site=site, clock=clock, store=await RunStore.open(site.state_dir / "runs.sqlite"))
    for name, bus_cfg in site.buses.items():
        endpoint: TcpEndpoint | SerialLine
        if bus_cfg.kind == "tcp":
            endpoint = TcpEndpoint(host=bus_cfg.host, port=bus_cfg.port)
        else:
            endpoint = SerialLine(
                port=bus_cfg.port,
                baudrate=bus_cfg.baudrate,
                parity=bus_cfg.parity,
                stopbits=bus_cfg.stopbits,
            )
        wire = PymodbusWire(endpoint, timeout_s=bus_cfg.timeout_s)
        lab.buses[name] = ModbusBus(wire, name=name, clock=clock, timeout_s=bus_cfg.timeout_s)
    parts = DeviceParts(site, lab.modbus_device, clock)  # the lab's serial lines
    for name, kiln in site.kilns.items():
        device = lab.modbus_device(kiln.controller)
        lab.runners[name] = KilnRunner(
            settings=_settings(site, name),
            controller=Eurotherm3200(device),
            link_health=device_health(device),
            clock=clock,
            store=lab.store,
            publish=lab.publish,
            flask_tc=None if kiln.flask_tc is None else parts.thermocouple(kiln.flask_tc),
        )
    register_kiln_commands(lab.registry, lab.runners, site.profiles_dir, lab.store)
    lab.casters = build_casters(
        site, lab.modbus_device, clock, lab.store, lab.publish_caster, parts=parts
    )
    lab.recorder = await open_recorder(site, lab.alarm, lab.store)
    await _check_commissioning(lab, parts, site_file)
    if lab.recorder is not None:
        lab.listeners.append(lab.recorder.history.add)
        lab.listeners.append(lab.recorder.trips.add)
        for caster in lab.casters.values():
            caster.recorder = lab.recorder.record
        register_ledger_commands(lab.registry, lab.recorder, site.state_dir / "certificates")
    register_caster_commands(
        lab.registry, lab.casters, lab.kiln_snapshot, site.profiles_dir, lab.recorder
    )
    lab.telemetry = await build_telemetry(
        site, clock, lab.registry, lab.buses, lab.runners, lab.casters
    )
    register_status(
        lab.registry, lab.runners, lab.casters, lab.store, lab.telemetry.summary, lab.alarms.copy
    )
    lab.listeners.append(lab.telemetry.kiln)
    lab.caster_listeners.append(lab.telemetry.caster)
    _build_alarms_and_touchscreen(lab)
    return lab


async def _check_commissioning(lab: Lab, parts: DeviceParts, site_file: Path | None) -> None:
    """The commissioning gate (records from the ledger); a refusal closes what was opened."""
    machines: dict[str, MachineLoop] = {**lab.runners, **lab.casters}
    ledger = None if lab.recorder is None else lab.recorder.service
    links = LabLinks(lab.modbus_device, parts.line)
    lab.commissioning = DaemonCommissioning(
        lab.site, machines, lab.board, ledger, links, lab.clock, site_file
    )
    try:
        await lab.commissioning.check()
    except BaseException:
        if ledger is not None:
            await ledger.close()
        await lab.store.close()
        raise
    register_commissioning_commands(lab.registry, lab.commissioning)


def _build_alarms_and_touchscreen(lab: Lab) -> None:
    site = lab.site
    lab.listeners.append(lab.board.kiln)
    lab.caster_listeners.append(lab.board.caster)
    if lab.telemetry is not None:  # every alarm (those raised while building too) to telemetry
        lab.board.subscribe(lab.telemetry.alarm)
    register_alarm_commands(lab.registry, lab.board)
    register_start_options(lab.registry, site.profiles_dir, lab.recorder)
    if site.ui is None:
        return
    from labctl.web.service import Touchscreen  # aiohttp's server side: only when configured

    lab.touchscreen = Touchscreen(
        site.ui,
        site.lab.name,
        site.users,
        lab.registry,
        lab.runners,
        lab.casters,
        lab.board,
        lab.store,
        state_dir=site.state_dir,
    )
    lab.listeners.append(lab.touchscreen.kiln)
    lab.caster_listeners.append(lab.touchscreen.push.poke)
    lab.board.on_change = lab.touchscreen.push.poke


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
