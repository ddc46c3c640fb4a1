"""Serve simulated units on a real Modbus server behind a fault-injecting link.

:func:`serve_sim` serves register banks; :func:`serve_stepped` also steps the simulator on the
shared clock while it is served, and :class:`HostWatchedBank` lets a simulator with a comms
watchdog see every request from the host.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from drivers._modbus.bank import RegisterBank, WriteHook
from drivers._modbus.pymodbus.server import serve_units
from drivers._modbus.registers import RegisterMap, Table
from drivers._sim.links import Faults, PtyLink, TcpFaultProxy
from drivers._sim.paced_line import Pacing, paced_rtu
from drivers._sim.stepped import Stepped, stepping
from drivers.clock import Clock


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
    pacing: Pacing | None = None,
) -> AsyncIterator[Endpoint]:
    """TCP (``tcp_port``, 0 = any free port) or RTU on a pty (``pty_link`` symlink).

    With ``pacing`` the pty delivers bytes at the line's speed (:mod:`drivers._sim.paced_line`).
    """
    if pty_link is not None:
        async with (
            PtyLink(faults, link_path=None if pacing else str(pty_link)) as link,
            serve_units(banks, serial_port=link.sim_path, baudrate=baudrate),
            paced_rtu(pacing, link.device_path, pty_link),
        ):
            yield Endpoint(path=pty_link)
        return
    async with serve_units(banks, tcp=("127.0.0.1", 0)) as port:
        assert port is not None
        async with TcpFaultProxy(port, faults, listen_port=tcp_port or 0) as proxy:
            yield Endpoint(port=proxy.port)


class HostWatchedBank(RegisterBank):
    """A register bank that reports every request from the host (read or write) first."""

    def __init__(
        self, regmap: RegisterMap, *, on_write: WriteHook, on_request: Callable[[], None]
    ) -> None:
        super().__init__(regmap, on_write=on_write)
        self.on_request = on_request

    def read(self, table: Table, address: int, count: int) -> list[int]:
        self.on_request()
        return super().read(table, address, count)

    def write(self, table: Table, address: int, values: Sequence[int]) -> None:
        self.on_request()
        super().write(table, address, values)


class _Linked(Protocol):
    @property
    def faults(self) -> Faults: ...


class ModbusSim(Stepped, Protocol):
    """A Modbus simulator: a register bank, a backdoor with link faults, a model to step."""

    @property
    def bank(self) -> RegisterBank: ...

    @property
    def backdoor(self) -> _Linked: ...


@contextlib.asynccontextmanager
async def serve_stepped(
    sim: ModbusSim,
    *,
    clock: Clock,
    unit: int,
    tcp_port: int | None,
    pty_link: Path | None,
    name: str,
) -> AsyncIterator[Endpoint]:
    """Serve ``sim`` (TCP on 127.0.0.1, or RTU on a pty) while stepping it on ``clock``."""
    sim.step_to(clock.now())
    faults = sim.backdoor.faults
    async with (
        serve_sim({unit: sim.bank}, faults=faults, tcp_port=tcp_port, pty_link=pty_link) as ep,
        stepping(sim, clock, name=name),
    ):
        yield ep


class ServedModbusSim:
    """Mixin giving a :class:`ModbusSim` its ``serving``.

    The stepping task is named for the simulator's module (``iomodule.sim``).
    """

    def serving(
        self: ModbusSim,
        *,
        clock: Clock,
        unit: int = 1,
        tcp_port: int | None = None,
        pty_link: Path | None = None,
    ) -> contextlib.AbstractAsyncContextManager[Endpoint]:
        """Serve this device (TCP on 127.0.0.1, or RTU on a pty) while stepping it."""
        name = type(self).__module__.removeprefix("drivers.")
        return serve_stepped(
            self, clock=clock, unit=unit, tcp_port=tcp_port, pty_link=pty_link, name=name
        )
