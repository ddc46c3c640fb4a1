"""The composition root: the site config made into buses, drivers, machines and services.

:func:`build_lab` wires everything and starts nothing; :mod:`labctl.daemon.run` runs the
:class:`Lab` it returns (one TaskGroup, with the command socket and the systemd watchdog).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from drivers._modbus.bus import ModbusBus
from drivers._modbus.device import ModbusDevice
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.transport import SerialLine, TcpEndpoint
from drivers.clock import Clock
from drivers.eurotherm3200 import Eurotherm3200
from drivers.families import modbus_table
from labctl.alarms import AlarmBoard, register_alarm_commands
from labctl.cast.build import DeviceParts, build_casters
from labctl.cast.commands import register_caster_commands
from labctl.cast.runner import CasterRunner
from labctl.commands.registry import CommandRegistry
from labctl.commands.status import register_status
from labctl.commission.daemon_commands import register_commissioning_commands
from labctl.commission.daemon_run import LabLinks
from labctl.commission.daemon_side import DaemonCommissioning
from labctl.config.site import SiteConfig
from labctl.kiln.commands import register_kiln_commands
from labctl.kiln.runner import KilnRunner
from labctl.kiln.settings import RunSettings
from labctl.kiln.snapshot import KilnSnapshot
from labctl.ledger.commands import register_ledger_commands
from labctl.ledger.recorder import CastRecorder, open_recorder
from labctl.runs.loop import MachineLoop
from labctl.runs.store import RunStore
from labctl.telemetry.build import build_telemetry
from labctl.telemetry.service import Telemetry
from labctl.web.options import register_start_options

if TYPE_CHECKING:
    from labctl.web.service import Touchscreen

log = logging.getLogger(__name__)


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
        state = self.kiln_snapshot(machine) if caster is None else caster.snapshot.as_dict()
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
        table = modbus_table(cfg.family)
        self.devices[name] = self.buses[cfg.bus].device(
            name=name,
            unit=cfg.unit,
            regmap=table.map,
            identity=table.identity,
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
