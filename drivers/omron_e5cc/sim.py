"""A simulated Omron E5CC controlling a caster's crucible (:class:`CrucibleModel`).

The instrument side is modelled on the driver's register table with Omron's behaviours
(H175 §4-4-3, §4-1-3): every write except the "communications writing" command is refused
with exception 4 (H175 §4-1-3) until writing is enabled; setpoint writes in backup mode count
EEPROM writes, RAM mode writes none; STOP forces the output to 0 %; an input or A/D error
forces it to 0 % too (MV at PV error); a reboot (power cycle or software reset) comes back
with writing disabled, backup mode, the EEPROM setpoint and the stored RUN/STOP. There is NO
comms watchdog (none in H175): a silent host leaves it controlling to its last setpoint.

Modelled assumptions (the manual pages read do not settle them) are listed in ``NOTES.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drivers._modbus.bank import BankError
from drivers._sim.plant.crucible import CrucibleModel
from drivers._sim.plant.pid import Pid
from drivers._sim.server import ServedModbusSim
from drivers.omron_e5cc.backdoor import Backdoor
from drivers.omron_e5cc.bank import E5ccBank
from drivers.omron_e5cc.registers import (
    DECIMALS,
    MAP,
    OPERATION_ERROR,
    VARIABLE_DATA_ERROR,
    CommandCode,
    Status,
)

log = logging.getLogger(__name__)

CONTROL_PERIOD_S = 0.5  # simulated control period (clock seconds) [U]
INPUT_TYPE_K = 5  # input type shown at 0x2C00 (K, -200..1300 °C): an identity value [U]
_CODES = frozenset(CommandCode)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    """How the simulated crucible is built (defaults: 300 g of 18K yellow gold)."""

    charge_g: float = 300.0
    specific_heat_j_per_g_k: float = 0.174
    latent_heat_j_per_g: float = 87.0
    solidus_c: float = 900.0
    liquidus_c: float = 930.0
    start_temp_c: float = 20.0
    range_hi_c: float = 1300.0  # top of the input range: above it, input error (bit 6)
    input_type: int = INPUT_TYPE_K


class OmronE5ccSim(ServedModbusSim):
    """The instrument and its crucible; ``backdoor`` injects faults."""

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = o = options or SimOptions()
        self.bank = E5ccBank(MAP, on_write=self._on_write)
        self.crucible = CrucibleModel(
            charge_g=o.charge_g,
            specific_heat_j_per_g_k=o.specific_heat_j_per_g_k,
            latent_heat_j_per_g=o.latent_heat_j_per_g,
            solidus_c=o.solidus_c,
            liquidus_c=o.liquidus_c,
            start_c=o.start_temp_c,
        )
        self.backdoor = Backdoor(self)
        self.eeprom_writes = 0
        self.output_pct = 0.0
        # PB 15 °C, Ti 120 s, Td 10 s: settles the charge within ~1 % after the melt.
        self._pid = Pid(pb_c=15.0, ti_s=120.0, td_s=10.0)
        self._now: float | None = None
        # EEPROM (factory values), then the power-on RAM state derived from it.
        self._stored_sp_c = 0.0
        self._stored_stop = False
        self.writes_enabled = self.ram_mode = self.stopped = self.manual = False
        self.sp_c = 0.0
        self.reboot()

    # ------------------------------------------------------------ observation
    @property
    def pv_c(self) -> float:
        return self.crucible.metal_c

    @property
    def melt_fraction(self) -> float:
        return self.crucible.melt_fraction

    @property
    def status(self) -> Status:
        """The status word as the instrument would report it now."""
        status = Status(0)
        flags = (
            (self.writes_enabled, Status.COMMS_WRITING),
            (self.ram_mode, Status.RAM_WRITE_MODE),
            (self.ram_mode and self.sp_c != self._stored_sp_c, Status.RAM_NOT_SAVED),
            (self.stopped, Status.STOP),
            (self.manual, Status.MANUAL),
            (self._input_error, Status.INPUT_ERROR),
            (self.backdoor.ad_error, Status.AD_ERROR),
            (self.output_pct > 0, Status.CONTROL_OUTPUT_HEAT),
        )
        for on, bit in flags:
            if on:
                status |= bit
        return status

    @property
    def _input_error(self) -> bool:
        return self.backdoor.thermocouple_open or self.pv_c > self.options.range_hi_c

    # ---------------------------------------------------------------- device
    def reboot(self) -> None:
        """Power cycle: RAM lost, writing disabled, backup mode, EEPROM SP and RUN/STOP."""
        log.warning("simulated E5CC power-on")
        self.writes_enabled, self.ram_mode, self.manual = False, False, False
        self.stopped, self.sp_c = self._stored_stop, self._stored_sp_c
        self._pid.reset()
        self.output_pct = 0.0
        self.bank.set("decimal_point", DECIMALS)
        self.bank.set("input_type", self.options.input_type)
        self._publish()

    def _on_write(self, name: str, value: float) -> None:
        """A write from the wire, already checked against the table (exception 3 first)."""
        if name == "command":
            self._command(int(value))
            self.bank.set("command", 0)  # write-only: nothing to read back
        elif not self.writes_enabled:
            raise BankError(OPERATION_ERROR)
        elif name == "sp":
            self.sp_c = value
            if not self.ram_mode:
                self._stored_sp_c = value
                self.eeprom_writes += 1
        self._publish()

    def _command(self, word: int) -> None:
        code, info = word >> 8, word & 0xFF
        if code not in _CODES or (info not in (0, 1) and code != CommandCode.MULTI_SP):
            raise BankError(VARIABLE_DATA_ERROR)  # checked before the operation error
        if code == CommandCode.COMMS_WRITING:
            self.writes_enabled = info == 1
            return
        if not self.writes_enabled:
            raise BankError(OPERATION_ERROR)
        if code == CommandCode.SOFTWARE_RESET:
            self.reboot()  # the real unit sends no reply (NOTES.md)
        elif code not in (CommandCode.RUN_STOP, CommandCode.WRITE_MODE, CommandCode.AUTO_MANUAL):
            raise BankError(OPERATION_ERROR)  # known, not modelled: cannot be processed
        elif code == CommandCode.RUN_STOP:
            self.stopped = info == 1
            if not self.ram_mode:
                self._stored_stop = self.stopped
                self.eeprom_writes += 1
        elif code == CommandCode.WRITE_MODE:
            self.ram_mode = info == 1
        else:
            self.manual = info == 1

    def step_to(self, now: float) -> None:
        """Advance the instrument and the crucible to clock time ``now``."""
        if self._now is None:
            self._now = now
            return
        dt, self._now = now - self._now, now
        while dt > 0:  # the controller's own sampling, however coarse the caller's steps
            period = min(dt, CONTROL_PERIOD_S)
            self._control(period)
            dt -= period
        self._publish()

    def _control(self, dt: float) -> None:
        if self.stopped or self._input_error or self.backdoor.ad_error:
            output = 0.0  # MV at stop / MV at PV error: 0.0 % (NOTES.md)
            self._pid.track(output)
        elif self.manual:
            output = self._pid.output_pct  # manual MV: held where auto left it
            self._pid.track(output)
        else:
            output = self._pid.update(self.sp_c, self.pv_c, dt)
        self.crucible.relay_stuck_on = self.backdoor.relay_stuck
        self.crucible.heater_failed = self.backdoor.heater_failed
        self.crucible.step(output / 100.0, dt)
        self.output_pct = output

    def _publish(self) -> None:
        bank, status = self.bank, self.status
        bank.set("pv", self.options.range_hi_c if self._input_error else self.pv_c)
        bank.set("internal_sp", self.sp_c)
        bank.set("sp", self.sp_c)
        bank.set("mv_heat", self.output_pct)
        bank.set("status", int(status))
        bank.set("status_lo", int(status) & 0xFFFF)
