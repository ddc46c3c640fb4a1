"""A simulated Delta VFD-B spinning a centrifugal casting arm.

The drive ramps its output frequency towards the command at max_freq / accel_time (Hz/s) up and
max_freq / decel_time down (01-00, 01-09, 01-10), drives :class:`~drivers._sim.plant.arm.ArmModel`
with it, and reports output frequency, current, speed, status and fault code on the 21xxH
registers; 2102H reads back the frequency command (the address list's "frequency command (F)"
monitor, in the 2001H scaling). With 09-03 set, a host that sends no request for that long gets
the 09-02 treatment (warn and keep running, ramp to stop, or coast) and the CE10 code. The
control bits in 2002H act as the address list says: bit 0 (EF on) trips the drive, bit 1
(reset) clears a held trip or warning, bit 2 (B.B on) blocks the output while set. A trip
(backdoor ``drive_fault`` or EF) turns the output off at once: the arm coasts. A RUN command is
ignored while tripped; a reset clears the code and leaves the drive stopped. The command word
2000H carries run/stop and direction only: its bits 6-12 (accel/decel set, multi-step speed and
their enable) are accepted and have no effect here, its reserved bits are ignored.
Assumptions are listed in ``NOTES.md``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from drivers._modbus.bank import ILLEGAL_VALUE, BankError
from drivers._modbus.registers import Table
from drivers._sim.plant.arm import ArmModel, ArmParams
from drivers._sim.server import HostWatchedBank, ServedModbusSim
from drivers.delta_vfd.backdoor import Backdoor
from drivers.delta_vfd.registers import (
    DIR_MASK,
    MAP,
    RUN_MASK,
    STATUS_CMD_FROM_COMMS,
    STATUS_FREQ_FROM_COMMS,
    Command,
    CommLossAction,
    Control,
    DriveState,
    Fault,
)

log = logging.getLogger(__name__)

DRIVE_ID = 0x0B  # what the simulated drive answers at 00-00
SUBSTEP_S = 0.05
NO_LOAD_CURRENT = 0.35  # magnetising current, fraction of rated
MIN_RAMP_S = 0.1  # the shortest ramp the drive makes (01-09/01-10 = 0 means this)
# VFD-B address list pp.5-101/5-102 (C2000 Plus app. A p.A-10): 2102H frequency command (F)
FREQ_CMD_MONITOR = 0x2102


@dataclass(frozen=True, slots=True, kw_only=True)
class VfdSimOptions:
    """Factory parameters of the simulated drive and the arm it turns."""

    max_freq_hz: float = 60.0  # 01-00
    accel_s: float = 10.0  # 01-09: 0 Hz -> max_freq
    decel_s: float = 10.0  # 01-10: max_freq -> 0 Hz
    comm_timeout_s: float = 0.0  # 09-03 factory value: detection off
    comm_fault_treatment: CommLossAction = CommLossAction.CONTINUE  # 09-02 factory value
    rated_current_a: float = 2.0
    arm: ArmParams = field(default_factory=ArmParams)


class _DriveBank(HostWatchedBank):
    """The drive's registers; 2102H monitors the frequency command written at 2001H."""

    def read(self, table: Table, address: int, count: int) -> list[int]:
        words = super().read(table, address, count)
        if table is Table.HOLDING and address <= FREQ_CMD_MONITOR < address + count:
            freq_cmd = self.regmap["freq_cmd"]
            words[FREQ_CMD_MONITOR - address] = freq_cmd.encode(self.get("freq_cmd"))[0]
        return words


class DeltaVfdSim(ServedModbusSim):
    """The drive and its arm; ``backdoor`` injects faults."""

    def __init__(self, options: VfdSimOptions | None = None) -> None:
        self.options = o = options or VfdSimOptions()
        self.bank = _DriveBank(MAP, on_write=self._on_write, on_request=self._on_request)
        self.arm = ArmModel(o.arm)
        self.backdoor = Backdoor(self)
        for name, value in {
            "drive_id": DRIVE_ID,
            "max_freq": o.max_freq_hz,
            "accel_time": o.accel_s,
            "decel_time": o.decel_s,
            "comm_timeout": o.comm_timeout_s,
            "comm_fault_treatment": o.comm_fault_treatment,
        }.items():
            self.bank.set(name, value)
        self.output_hz = 0.0
        self.output_on = False
        self.run_command = False
        self.base_block = False
        self.trip_code = Fault.NONE.value
        self.warning_code = Fault.NONE.value
        self._now: float | None = None
        self._last_request: float | None = None
        self._comm_lost = False
        self._power_on()

    # ---------------------------------------------------------------- device
    def _power_on(self) -> None:
        """Output off (the arm coasts), commands and faults cleared; parameters persist."""
        self.output_hz, self.output_on, self.run_command = 0.0, False, False
        self.base_block = False
        self.trip_code = self.warning_code = Fault.NONE.value
        self.bank.set("command", 0)
        self.bank.set("control", 0)
        self.bank.set("freq_cmd", 0.0)
        self._last_request, self._comm_lost = self._now, False
        self._publish()

    def reboot(self) -> None:
        """Power cycle."""
        log.warning("simulated drive reboot")
        self._power_on()

    def trip(self, code: int) -> None:
        """A drive fault: output off at once, run command dropped, code held until reset."""
        self.trip_code = code
        self.run_command = self.output_on = False
        self.output_hz = 0.0
        self._publish()

    def _on_request(self) -> None:
        self._last_request = self._now
        self._comm_lost = False

    def _on_write(self, name: str, value: float) -> None:
        if name == "freq_cmd" and value > self.bank.get("max_freq"):
            raise BankError(ILLEGAL_VALUE)
        if name == "command":
            self._command(int(value))
        elif name == "control":
            self._control(int(value))

    def _command(self, word: int) -> None:
        """2000H: run/stop (bits 1-0) and direction (bits 5-4); nothing else acts here."""
        run_bits, direction = word & RUN_MASK, word & DIR_MASK
        if run_bits == RUN_MASK or direction & Command.REV:
            raise BankError(ILLEGAL_VALUE)  # no jog; reverse inhibited (02-04), see NOTES.md
        if run_bits == Command.STOP:
            self.run_command = False
        elif run_bits == Command.RUN and not self.trip_code:
            self.run_command = True
            self.output_on = not self.base_block
        self._publish()

    def _control(self, word: int) -> None:
        """2002H: EF on trips, reset clears a held trip or warning, B.B on blocks the output."""
        if word & Control.RESET:
            self.trip_code = self.warning_code = Fault.NONE.value
        if word & Control.EF:
            self.trip(Fault.EXTERNAL)
        self.base_block = bool(word & Control.BASE_BLOCK)
        if self.base_block:
            self.output_on, self.output_hz = False, 0.0  # the arm coasts
        elif self.run_command and not self.trip_code and not self.output_on:
            self.output_on = True  # B.B released: the held RUN resumes from 0 Hz
        self._publish()

    def step_to(self, now: float) -> None:
        """Advance the drive and the arm to clock time ``now``."""
        if self._now is None or self._last_request is None:
            self._now = self._last_request = now
            return
        dt, self._now = now - self._now, now
        if dt <= 0:
            return
        self._watch_host(now)
        n = max(1, math.ceil(dt / SUBSTEP_S))
        for _ in range(n):
            self._ramp(dt / n)
            self.arm.step(dt / n, output_hz=self.output_hz if self.output_on else None)
        self._publish()

    def _watch_host(self, now: float) -> None:
        """09-03 / 09-02: what the drive does when the host has gone silent."""
        assert self._last_request is not None
        timeout = self.bank.get("comm_timeout")
        if self._comm_lost or timeout <= 0 or now - self._last_request <= timeout:
            return
        self._comm_lost = True
        action = CommLossAction(int(self.bank.get("comm_fault_treatment")))
        log.warning("drive: no request for %.1f s, %s", now - self._last_request, action.name)
        if action is not CommLossAction.CONTINUE:
            self.warning_code = Fault.COMM_TIMEOUT
        if action is CommLossAction.WARN_RAMP_STOP:
            self.run_command = False
        elif action is CommLossAction.WARN_COAST_STOP:
            self.run_command = self.output_on = False
            self.output_hz = 0.0

    def _ramp(self, h: float) -> None:
        if not self.output_on:
            return
        max_hz = self.bank.get("max_freq")
        target = self.bank.get("freq_cmd") if self.run_command else 0.0
        if target >= self.output_hz:
            accel_s = max(self.bank.get("accel_time"), MIN_RAMP_S)
            self.output_hz = min(target, self.output_hz + h * max_hz / accel_s)
        else:
            decel_s = max(self.bank.get("decel_time"), MIN_RAMP_S)
            self.output_hz = max(target, self.output_hz - h * max_hz / decel_s)
        if not self.run_command and self.output_hz <= 0.0:
            self.output_on = False

    def _state(self) -> DriveState:
        if not self.output_on:
            return DriveState.STOPPED
        return DriveState.RUNNING if self.run_command else DriveState.DECELERATING

    def _publish(self) -> None:
        bank, arm = self.bank, self.arm
        on = self.output_on
        load = abs(arm.motor_torque(self.output_hz, arm.rpm)) / arm.params.rated_torque_nm
        current = self.options.rated_current_a * max(NO_LOAD_CURRENT, load) if on else 0.0
        status = int(self._state()) | STATUS_FREQ_FROM_COMMS | STATUS_CMD_FROM_COMMS
        bank.set("fault_code", self.trip_code or self.warning_code)
        bank.set("status", status)
        bank.set("output_freq", self.output_hz if on else 0.0)
        bank.set("output_current", current)
        bank.set("rpm", round(arm.rpm) if on else 0)  # sensorless: no speed with the output off
