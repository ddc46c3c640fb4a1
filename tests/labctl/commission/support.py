"""Commissioning against the simulators' device models with no sockets: a wire at the seam.

:class:`SimWire` is a Modbus ``Wire`` onto a simulator's register bank that steps the
simulator to the clock before each request, so the device's own behaviour (a remote-SP
fallback, a comms watchdog) happens in virtual time while the checks wait in it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drivers._modbus.bank import BankError
from drivers._modbus.registers import Table
from drivers._modbus.transport import Wire
from drivers._sim.server import ModbusSim
from drivers.clock import VirtualClock
from drivers.errors import DeviceRejected
from labctl.commission.links import OwnLinks, own_links
from labctl.config.site import SiteConfig, load_site

#: A kiln streamed to a Eurotherm, and a centrifugal caster (E5CC, I/O module, Delta drive,
#: and an ADAM-4018 on a serial line, which these tests never open).
SITE = """
[lab]
name = "t"
[buses.kiln_link]
kind = "tcp"
host = "127.0.0.1"
port = 5020
[buses.crucible_link]
kind = "tcp"
host = "127.0.0.1"
port = 5021
[buses.io_link]
kind = "tcp"
host = "127.0.0.1"
port = 5022
[buses.drive_link]
kind = "tcp"
host = "127.0.0.1"
port = 5023
[devices.tc1]
family = "eurotherm3200"
bus = "kiln_link"
[devices.crucible1]
family = "omron_e5cc"
bus = "crucible_link"
[devices.io1]
family = "iomodule"
bus = "io_link"
[devices.vfd1]
family = "delta_vfd"
bus = "drive_link"
[lines.tc_line]
port = "/dev/ttyUSB9"
[devices.tc9]
family = "adam4018"
line = "tc_line"
[kilns.kiln1]
controller = "tc1"
max_temp_c = 800
mode = "stream"
[casters.caster1]
kind = "centrifugal"
crucible = "crucible1"
io = "io1"
drive = "vfd1"
crucible_tc = "tc9"
crucible_max_c = 1250
accept_crucible_without_lease = true
io_lease_s = 20
drive_lease_s = 5
"""


@dataclass
class SimWire:
    """A wire onto ``sim``'s bank, stepping ``sim`` to ``clock`` first; counts writes."""

    sim: ModbusSim
    clock: VirtualClock
    connected: bool = False
    writes: list[tuple[Table, int, tuple[int, ...]]] = field(default_factory=list)

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        await asyncio.sleep(0)
        self.sim.step_to(self.clock.now())
        try:
            return self.sim.bank.read(table, address, count)
        except BankError as err:
            raise DeviceRejected(f"exception {err.code}", code=err.code) from None

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        await asyncio.sleep(0)
        self.sim.step_to(self.clock.now())
        self.writes.append((table, address, tuple(values)))
        try:
            self.sim.bank.write(table, address, values)
        except BankError as err:
            raise DeviceRejected(f"exception {err.code}", code=err.code) from None


def site(tmp: Path, text: str = SITE) -> SiteConfig:
    path = tmp / "site.toml"
    path.write_text(text)
    return load_site(path)


@contextlib.asynccontextmanager
async def links_to(
    cfg: SiteConfig, sims: Mapping[str, ModbusSim], clock: VirtualClock
) -> AsyncIterator[tuple[OwnLinks, dict[str, SimWire]]]:
    """Commissioning's links with each bus on a :class:`SimWire` onto ``sims[bus]``."""
    wires = {bus: SimWire(sim, clock) for bus, sim in sims.items()}

    def wire_for(_: SiteConfig, bus: str) -> Wire:
        return wires[bus]

    jumping = asyncio.create_task(clock.autojump())
    try:
        async with own_links(cfg, clock, wire_for) as links:
            yield links, wires
    finally:
        jumping.cancel()
