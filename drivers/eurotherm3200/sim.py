"""A simulated Eurotherm 3216P driving a burnout kiln with an invested flask.

The instrument side (what the registers mean, the controller's own PID, its programmer, the
remote-setpoint comms-loss fallback, sensor break) is modelled here on the same register table the
driver uses; the kiln is :class:`~drivers._sim.plant.physics.KilnThermalModel`. The simulator is
served over a real pymodbus server, on loopback TCP behind a fault proxy or as RTU on a pty, and
stepped on the shared clock so an accelerated daemon and simulator agree on the time. The wire side
(float region, fast status, what it refuses) is :class:`EurothermBank`.

Modelled assumptions (the manual pages read do not settle them) are listed in ``NOTES.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from drivers._modbus.bank import BankError
from drivers._sim.backdoor import Backdoor
from drivers._sim.plant.physics import KilnThermalModel
from drivers._sim.plant.pid import Pid
from drivers._sim.server import ServedModbusSim
from drivers.eurotherm3200.bank import EurothermBank
from drivers.eurotherm3200.programmer import Programmer, ProgramSegment
from drivers.eurotherm3200.registers import (
    DECIMALS,
    MAP,
    SEGMENTS,
    LoopMode,
    SetpointSource,
    Status,
    TStat,
)

log = logging.getLogger(__name__)

INSTRUMENT_VERSION = 0x0111  # V1.11, the example of the OEM 3200 manual (ACS §9.3 p.25)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimOptions:
    """How the simulated kiln is built."""

    flask: Literal["small", "large", "none"] = "large"
    comms_timeout_s: float = 10.0  # simulated seconds without a remote SP write -> fallback
    start_temp_c: float = 20.0
    range_hi_c: float = 1200.0


class Eurotherm3200Sim(ServedModbusSim):
    """The instrument and its kiln; ``backdoor`` injects faults."""

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options or SimOptions()
        self.bank = EurothermBank(on_write=self._on_write)
        self.kiln = KilnThermalModel(flask=self.options.flask, start_c=self.options.start_temp_c)
        self.backdoor = Backdoor(self)
        self.eeprom_writes = 0
        self.output_pct = 0.0
        self.working_sp_c = self.options.start_temp_c
        self._pid = Pid()
        self._programmer = Programmer()
        self._now: float | None = None
        self._remote_written_at: float | None = None
        self._factory_reset()

    # ------------------------------------------------------------ observation
    @property
    def pv_c(self) -> float:
        return self.kiln.chamber_c

    @property
    def flask_core_c(self) -> float:
        return self.kiln.flask_core_c

    @property
    def tstat(self) -> TStat:
        return TStat(int(self.bank.get("tstat")))

    # ---------------------------------------------------------------- device
    def _factory_reset(self) -> None:
        """Power-on state: manual 0 %, local SP, program reset (also used by a reboot)."""
        for name, value in {
            "decimals": DECIMALS,
            "inst_version": INSTRUMENT_VERSION,
            "range_lo": 0.0,
            "range_hi": self.options.range_hi_c,
            "loop_mode": LoopMode.MANUAL,
            "manual_op": 0.0,
            "sp_select": SetpointSource.LOCAL,
            "tstat": TStat.RESET,
            "ramp_units": 1,
            "prog_dwell_units": 1,
        }.items():
            self.bank.set(name, value)
        self._programmer.reset()
        self._remote_written_at = None

    def reboot(self) -> None:
        """Power cycle: volatile parameters back to power-on values."""
        log.warning("simulated controller reboot")
        self._factory_reset()

    def _on_write(self, name: str, value: float) -> None:
        reg = MAP[name]
        if reg.nonvolatile:
            self.eeprom_writes += 1
        if name == "remote_sp":
            self._remote_written_at = self._now
        elif name == "tstat":
            self._command_program(TStat(int(value)))

    def _command_program(self, command: TStat) -> None:
        pv = self.kiln.chamber_c
        if command is TStat.END:
            raise BankError(3)
        if command is TStat.RESET:
            self._programmer.reset()
        elif command is TStat.HOLD:
            self._programmer.hold()
        elif self._programmer.tstat is TStat.HOLD:
            self._programmer.resume()
        else:
            self._programmer.load(
                self._segments(),
                holdback_c=self.bank.get("prog_holdback"),
                end_type=int(self.bank.get("prog_end_type")),
            )
            self._programmer.run(pv)

    def _segments(self) -> list[ProgramSegment]:
        return [
            ProgramSegment(
                target_c=self.bank.get(f"seg{n}_target"),
                ramp_rate_c_per_h=self.bank.get(f"seg{n}_rate"),
                dwell_min=self.bank.get(f"seg{n}_dwell"),
            )
            for n in range(1, SEGMENTS + 1)
        ]

    def step_to(self, now: float) -> None:
        """Advance the instrument and the kiln to clock time ``now``."""
        if self._now is None:
            self._now = now
            return
        dt, self._now = now - self._now, now
        if dt <= 0:
            return
        pv, faults = self.kiln.chamber_c, self.backdoor
        status = Status(0)
        remote_fail = False
        if self._programmer.tstat is not TStat.RESET:
            sp = self._programmer.step(pv, dt)
            if self._programmer.tstat is TStat.END:
                status |= Status.PROGRAM_END
        elif self.bank.get("sp_select") == SetpointSource.REMOTE:
            written = self._remote_written_at
            remote_fail = written is None or now - written > self.options.comms_timeout_s
            sp = self.bank.get("target_sp" if remote_fail else "remote_sp")
        else:
            sp = self.bank.get("target_sp")
        manual = self.bank.get("loop_mode") == LoopMode.MANUAL
        if faults.thermocouple_open:
            status |= Status.SENSOR_BREAK
            output = self.bank.get("manual_op") if manual else self.bank.get("sbrk_op")
        elif manual:
            output = self.bank.get("manual_op")
        else:
            output = self._pid.update(sp, pv, dt)
        if manual:
            status |= Status.MANUAL
            self._pid.track(output)
        if remote_fail:
            status |= Status.REMOTE_SP_FAIL
        span = self.options.range_hi_c
        if pv > span * 1.05:
            status |= Status.PV_OVER_RANGE
        self.kiln.relay_stuck_on = faults.relay_stuck
        self.kiln.heater_failed = faults.heater_failed
        self.kiln.step(output / 100.0, dt)
        self.output_pct, self.working_sp_c = output, sp
        self._publish(sp, output, status)

    def _publish(self, sp: float, output: float, status: Status) -> None:
        bank, tc_open = self.bank, self.backdoor.thermocouple_open
        bank.set("pv", self.options.range_hi_c if tc_open else self.kiln.chamber_c)
        bank.set("working_sp", sp)
        bank.set("working_op", output)
        bank.set("status", int(status))
        bank.set("sbrk_flag", 1 if tc_open else 0)
        bank.set("tstat", self._programmer.tstat)
        bank.set("prog_segment", self._programmer.segment)
