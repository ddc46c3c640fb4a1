"""A simulated caster I/O module: coils, discrete inputs and the ADAM-style comms watchdog.

The module holds the coils the host writes and samples the caster's switches (lid, flask,
e-stop, pump contactor aux) on every request and step. Its comm safety settings are module
settings (EEPROM, made over DCON or with Advantech's utility, :mod:`drivers.iomodule.dcon`), given
as :class:`IoModuleOptions`; Modbus reads them (40215 enable, 40216 flag) and cannot write them:
FC06/FC16 on any holding register is refused with exception 02 (appendix G marks them all R; the
code is an assumption, NOTES.md). With comm safety enabled, a host that sends no request for the
timeout (simulated seconds) finds the coils at the safety value (all off, vent open) and the
flag set; its next coil write clears the flag.
:attr:`IoModuleSim.loads` is what the caster's actuators really do, for the rig to feed the
:class:`~drivers._sim.plant.chamber.ChamberModel`. Assumptions are listed in ``NOTES.md``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from drivers._modbus.bank import ILLEGAL_ADDRESS, BankError
from drivers._modbus.registers import Table
from drivers._sim.server import HostWatchedBank, ServedModbusSim
from drivers.capabilities import CasterOutputs
from drivers.iomodule.backdoor import Backdoor
from drivers.iomodule.dcon import CommSafety
from drivers.iomodule.driver import outputs_from
from drivers.iomodule.registers import COILS, MAP, SAFE

log = logging.getLogger(__name__)

MODULE_ID = 0x4055  # what the simulated module answers at 40211
#: As a simulated rig's module is set up: the 60 s lease of labctl's rig sites (which the driver
#: used to write at connect), and the wiring's safety value, vent open.
DEFAULT_COMM_SAFETY = CommSafety(timeout_s=60.0)


@dataclass(frozen=True, slots=True)
class IoModuleOptions:
    """The module's own settings: comm safety on, and what ``$AAX0`` set (timeout, value)."""

    comm_safety_enabled: bool = True
    comm_safety: CommSafety = DEFAULT_COMM_SAFETY


class _ReadOnlyHolding(HostWatchedBank):
    """Every holding register of the module is read-only: FC06/FC16 get exception 02."""

    def write(self, table: Table, address: int, values: Sequence[int]) -> None:
        if table is Table.HOLDING:
            self.on_request()
            raise BankError(ILLEGAL_ADDRESS)
        super().write(table, address, values)


class IoModuleSim(ServedModbusSim):
    """The module and the caster switches wired to it; ``backdoor`` injects faults."""

    def __init__(self, options: IoModuleOptions | None = None) -> None:
        self.options = options or IoModuleOptions()
        self.bank = _ReadOnlyHolding(MAP, on_write=self._on_write, on_request=self._on_request)
        self.backdoor = Backdoor(self)
        self.lid_closed = True
        self.flask_present = True
        self.estop_ok = True
        self.arm_stopped = True  # the arm's standstill sensor (set by the caster rig)
        self.watchdog_trips = 0
        self._now: float | None = None
        self._last_request: float | None = None
        self.bank.set("module_id", MODULE_ID)
        self.bank.set("comm_safety_enable", self.options.comm_safety_enabled)
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
        bank.set("arm_stopped", self.arm_stopped)
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
        safety = self.options.comm_safety
        armed = self.options.comm_safety_enabled and safety.timeout_s > 0
        silent_s = now - self._last_request
        if armed and not self.watchdog_tripped and silent_s > safety.timeout_s:
            log.warning("I/O module: no request for %.1f s, coils to the safety value", silent_s)
            for channel, name in enumerate(COILS):
                self.bank.set(name, safety.safe_value >> channel & 1)
            self.bank.set("comm_safety_flag", 1)
            self.watchdog_trips += 1
        self._sample_inputs()
