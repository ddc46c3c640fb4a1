"""A simulated Eurotherm 3216 on a paced RS-485 line, and the bus's handle for it.

Shared by the paced-line HIL tests and the serial benchmarks (bench/serial_wire.py): the line
delivers bytes at the baud rate with the 3216's turnaround (drivers/_sim/paced_line.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from drivers._modbus.bus import ModbusBus
from drivers._modbus.device import ModbusDevice
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.transport import SerialLine
from drivers._sim.links import Faults
from drivers._sim.paced_line import Pacing
from drivers._sim.server import serve_sim
from drivers.clock import real_clock
from drivers.eurotherm3200 import MAP
from drivers.eurotherm3200.sim import Eurotherm3200Sim
from drivers.wire_time import TURNAROUND, CharFormat

FILL = 50  # the site config's default max_fill_registers


@contextlib.asynccontextmanager
async def paced_3216(
    link: Path, baud: int, *, sim: Eurotherm3200Sim, faults: Faults | None = None
) -> AsyncIterator[Path]:
    """``sim`` at unit 1 behind a paced pty at ``baud`` 8N1; yields ``link``, the host's port."""
    pacing = Pacing(CharFormat(baud), {1: TURNAROUND["eurotherm3200"]})
    async with serve_sim({1: sim.bank}, faults=faults or Faults(), pty_link=link, pacing=pacing):
        yield link


@contextlib.asynccontextmanager
async def rtu_3216(link: Path, baud: int, *, wire_timeout_s: float) -> AsyncIterator[ModbusDevice]:
    """A bus on ``link`` (its timeout twice the wire's) with the 3216 at unit 1, connected."""
    wire = PymodbusWire(SerialLine(port=str(link), baudrate=baud), timeout_s=wire_timeout_s)
    bus = ModbusBus(wire, name="rs485", clock=real_clock(), timeout_s=2 * wire_timeout_s)
    dev = bus.device(name="tc1", unit=1, regmap=MAP, max_fill_registers=FILL)
    task = asyncio.create_task(bus.run())
    try:
        await dev.wait_connected(10)
        yield dev
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()
