"""Serve simulated units on a real Modbus server behind a fault-injecting link."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from drivers._modbus.bank import RegisterBank
from drivers._modbus.pymodbus_wire import serve_units
from drivers._sim.links import Faults, PtyLink, TcpFaultProxy


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the daemon reaches the simulator: a loopback TCP port or a pty path."""

    port: int | None = None
    path: Path | None = None

    def __str__(self) -> str:
        return f"127.0.0.1:{self.port} (Modbus TCP)" if self.port else f"{self.path} (RTU)"


@contextlib.asynccontextmanager
async def serve_sim(
    banks: Mapping[int, RegisterBank],
    *,
    faults: Faults,
    tcp_port: int | None = None,
    pty_link: Path | None = None,
    baudrate: int = 115200,
) -> AsyncIterator[Endpoint]:
    """TCP (``tcp_port``, 0 = any free port) or RTU on a pty (``pty_link`` symlink)."""
    if pty_link is not None:
        async with (
            PtyLink(faults, link_path=str(pty_link)) as link,
            serve_units(banks, serial_port=link.sim_path, baudrate=baudrate),
        ):
            yield Endpoint(path=pty_link)
        return
    async with serve_units(banks, tcp=("127.0.0.1", 0)) as port:
        assert port is not None
        async with TcpFaultProxy(port, faults, listen_port=tcp_port or 0) as proxy:
            yield Endpoint(port=proxy.port)
