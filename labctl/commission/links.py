"""The command line's own way to a device: its bus or serial line, as the daemon would open it.

The bus is the daemon's (``ModbusBus`` over the pymodbus wire, same timeout, same block and
fill limits), so what commissioning reads is what the daemon would read. Only the device's
own bus or line is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from drivers._modbus.bus import ModbusBus
from drivers._modbus.device import ModbusDevice
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.transport import SerialLine as RtuLine
from drivers._modbus.transport import TcpEndpoint, Wire
from drivers._serial.line import Line, SerialLine, SerialSettings
from drivers.clock import Clock
from drivers.families import modbus_table
from labctl.config.buses import RtuBus
from labctl.config.site import SiteConfig


def pymodbus_wire(site: SiteConfig, bus: str) -> Wire:
    """The daemon's wire for bus ``[buses.NAME]``."""
    cfg = site.buses[bus]
    endpoint = (
        RtuLine(port=cfg.port, baudrate=cfg.baudrate, parity=cfg.parity, stopbits=cfg.stopbits)
        if isinstance(cfg, RtuBus)
        else TcpEndpoint(host=cfg.host, port=cfg.port)
    )
    return PymodbusWire(endpoint, timeout_s=cfg.timeout_s)


WireFor = Callable[[SiteConfig, str], Wire]


class OwnLinks:
    """Buses and lines opened for one commissioning (see :func:`own_links`)."""

    def __init__(self, site: SiteConfig, clock: Clock, wire_for: WireFor = pymodbus_wire) -> None:
        self._site, self._clock, self._wire_for = site, clock, wire_for
        self.buses: dict[str, ModbusBus] = {}
        self.lines: dict[str, SerialLine] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def modbus(self, config_name: str) -> ModbusDevice:
        cfg = self._site.modbus_device(config_name)
        bus = self.buses.get(cfg.bus)
        if bus is None:
            bus = self.buses[cfg.bus] = self._bus(cfg.bus)
            self._tasks.append(asyncio.create_task(bus.run(), name=f"commission {cfg.bus}"))
        regmap = modbus_table(cfg.family).map
        device = bus.device(  # no identity for the bus: a wrong one would refuse every read,
            name=config_name,  # and commissioning reads it first itself, before any write
            unit=cfg.unit,
            regmap=regmap,
            max_block_registers=cfg.max_block_registers,
            max_fill_registers=cfg.max_fill_registers,
        )
        return device

    def _bus(self, name: str) -> ModbusBus:
        wire, timeout_s = self._wire_for(self._site, name), self._site.buses[name].timeout_s
        return ModbusBus(wire, name=name, clock=self._clock, timeout_s=timeout_s)

    def line(self, line_name: str) -> Line:
        if line_name not in self.lines:
            cfg = self._site.lines[line_name]
            self.lines[line_name] = SerialLine(
                SerialSettings(
                    port=cfg.port, baudrate=cfg.baudrate, parity=cfg.parity, stopbits=cfg.stopbits
                )
            )
        return self.lines[line_name]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for line in self.lines.values():
            await line.close()


@contextlib.asynccontextmanager
async def own_links(
    site: SiteConfig, clock: Clock, wire_for: WireFor = pymodbus_wire
) -> AsyncIterator[OwnLinks]:
    """Open what commissioning asks for (Modbus buses on ``wire_for``'s wires); close it all."""
    links = OwnLinks(site, clock, wire_for)
    try:
        yield links
    finally:
        await links.close()
