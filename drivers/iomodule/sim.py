"""A simulated caster I/O module: coils, discrete inputs and the ADAM-style comms watchdog.

The module holds the coils the host writes and samples the caster's switches (lid, flask,
e-stop, pump contactor aux) on every request and step. With Comm Safety enabled, a host that
sends no request for the timeout (simulated seconds) finds the coils driven to their safe
values (all off, vent open) and the flag set; its next coil write clears the flag.
:attr:`IoModuleSim.loads` is what the caster's actuators really do, for the rig to feed the
:class:`~drivers._sim.chamber.ChamberModel`. Assumptions are listed in ``NOTES.md``.

:class:`HostWatchedBank` and :func:`serve_stepped` are not specific to this module; the Delta
drive simulator uses them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Protocol

from drivers._modbus.bank import RegisterBank, WriteHook
from drivers._modbus.registers import RegisterMap, Table
from drivers._sim.links import Faults
from drivers._sim.server import Endpoint, serve_sim
from drivers.capabilities import CasterOutputs
from drivers.clock import Clock
from drivers.iomodule.backdoor import Backdoor
from drivers.iomodule.driver import outputs_from
from drivers.iomodule.registers import COILS, MAP, SAFE

log = logging.getLogger(__name__)

STEP_WALL_S = 0.005  # the model advances to the clock's time every 5 ms of wall time
MODULE_ID = 0x4055  # what the simulated module answers at 40211
DEFAULT_TIMEOUT_S = 10.0


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


class Stepped(Protocol):
    def step_to(self, now: float) -> None: ...


async def _stepping(sim: Stepped, clock: Clock) -> None:
    while True:
        sim.step_to(clock.now())
        await asyncio.sleep(STEP_WALL_S)


@contextlib.asynccontextmanager
async def serve_stepped(
    sim: Stepped,
    bank: RegisterBank,
    faults: Faults,
    *,
    clock: Clock,
    unit: int,
    tcp_port: int | None,
    pty_link: Path | None,
    name: str,
) -> AsyncIterator[Endpoint]:
    """Serve ``bank`` (TCP on 127.0.0.1, or RTU on a pty) while stepping ``sim`` on ``clock``."""
    sim.step_to(clock.now())
    async with serve_sim({unit: bank}, faults=faults, tcp_port=tcp_port, pty_link=pty_link) as ep:
        task = asyncio.create_task(_stepping(sim, clock), name=name)
        try:
            yield ep
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class IoModuleSim:
    """The module and the caster switches wired to it; ``backdoor`` injects faults."""

    def __init__(self) -> None:
        self.bank = HostWatchedBank(MAP, on_write=self._on_write, on_request=self._on_request)
        self.backdoor = Backdoor(self)
        self.lid_closed = True
        self.flask_present = True
        self.estop_ok = True
        self.watchdog_trips = 0
        self._now: float | None = None
        self._last_request: float | None = None
        self.bank.set("module_id", MODULE_ID)
        self.bank.set("comm_safety_timeout", DEFAULT_TIMEOUT_S)
        self._power_on()

    # ------------------------------------------------------------ observation
    @property
    def coils(self) -> CasterOutputs:
        """The coils as the module holds them (after any watchdog action)."""
        return outputs_from({name: self.bank.get(name) for name in COILS})

    @property
    def loads(self) -> CasterOutputs:
        """What the actuators do: unpowered while the e-stop is pressed; a failed pump is off."""
        if not self.estop_ok:
            return CasterOutputs()
        coils = self.coils
        return dataclasses.replace(coils, pump=coils.pump and not self.backdoor.pump_failed)

    @property
    def watchdog_tripped(self) -> bool:
        return self.bank.get("comm_safety_flag") != 0

    # ---------------------------------------------------------------- device
    def _power_on(self) -> None:
        """Coils safe and flag clear; the watchdog settings persist (module EEPROM)."""
        for name, value in SAFE.items():
            self.bank.set(name, value)
        self.bank.set("comm_safety_flag", 0)
        self._last_request = self._now
        self._sample_inputs()

    def reboot(self) -> None:
        """Power cycle."""
        log.warning("simulated I/O module reboot")
        self._power_on()

    def _sample_inputs(self) -> None:
        bank = self.bank
        bank.set("lid_closed", self.lid_closed)
        bank.set("flask_present", self.flask_present)
        bank.set("estop_ok", self.estop_ok)
        bank.set("pump_running", self.loads.pump)

    def _on_request(self) -> None:
        self._last_request = self._now
        self._sample_inputs()

    def _on_write(self, name: str, value: float) -> None:
        if MAP[name].table is Table.COIL:
            self.bank.set("comm_safety_flag", 0)

    def step_to(self, now: float) -> None:
        """Advance the watchdog to clock time ``now`` and sample the inputs."""
        self._now = now
        if self._last_request is None:
            self._last_request = now  # the lease runs from power-on
        timeout = self.bank.get("comm_safety_timeout")
        armed = self.bank.get("comm_safety_enable") != 0 and timeout > 0
        silent_s = now - self._last_request
        if armed and not self.watchdog_tripped and silent_s > timeout:
            log.warning("I/O module: no request for %.1f s, coils to their safe values", silent_s)
            for name, value in SAFE.items():
                self.bank.set(name, value)
            self.bank.set("comm_safety_flag", 1)
            self.watchdog_trips += 1
        self._sample_inputs()

    # --------------------------------------------------------------- serving
    def serving(
        self,
        *,
        clock: Clock,
        unit: int = 1,
        tcp_port: int | None = None,
        pty_link: Path | None = None,
    ) -> contextlib.AbstractAsyncContextManager[Endpoint]:
        """Serve this module (TCP on 127.0.0.1, or RTU on a pty) while stepping it."""
        return serve_stepped(
            self,
            self.bank,
            self.backdoor.faults,
            clock=clock,
            unit=unit,
            tcp_port=tcp_port,
            pty_link=pty_link,
            name="iomodule.sim",
        )
