"""Omron E5CC driver: the :class:`TemperatureController` capability over Modbus (2-byte mode).

Omron's conventions (H175 §4-4-3 p.4-13): the host sends "communications writing enable"
before any write; it selects RAM write mode so the setpoint streamed every tick never wears the
EEPROM; RUN/STOP and auto/manual are operation commands written to 0x0000. The E5CC has no
programmer and no host watchdog (none in H175; NOTES.md): when the host goes silent it keeps
controlling to its last setpoint, so the daemon's interlocks and the caster's own limit
controller are the protection, and :meth:`OmronE5cc.safe_state` stores STOP in EEPROM (a power
cycle comes back stopped) while :meth:`OmronE5cc.arm_stream` starts RUN in RAM mode only.

The command register is write-only, so :meth:`ModbusDevice.write`'s read-back cannot verify a
command; each command is written once without read-back (:func:`send_command`) and verified by
the status bits it must change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from drivers._modbus.device import ModbusDevice
from drivers.capabilities import ControllerReading, DeviceSegment, EndAction
from drivers.errors import ConfigurationError, WriteNotVerified
from drivers.omron_e5cc.registers import DECIMALS, MAP, Command, Status

log = logging.getLogger(__name__)

FAMILY = "Omron E5CC"
COMMAND = MAP["command"]
# The status bit each command sets (True) or clears (False).
EFFECT: dict[Command, tuple[Status, bool]] = {
    Command.WRITE_ENABLE: (Status.COMMS_WRITING, True),
    Command.WRITE_DISABLE: (Status.COMMS_WRITING, False),
    Command.RAM_MODE: (Status.RAM_WRITE_MODE, True),
    Command.BACKUP_MODE: (Status.RAM_WRITE_MODE, False),
    Command.STOP: (Status.STOP, True),
    Command.RUN: (Status.STOP, False),
    Command.MANUAL: (Status.MANUAL, True),
    Command.AUTO: (Status.MANUAL, False),
}


def decode_status(values: Mapping[str, float]) -> Status:
    """The 32-bit status, with the low word at 0x2001 ORed in (it is certain, NOTES.md)."""
    return Status(int(values["status"]) | int(values["status_lo"]))


def decode_reading(at: float, values: Mapping[str, float]) -> ControllerReading:
    """Polled register values -> a reading; PV is None on an input or A/D converter error."""
    status = decode_status(values)
    invalid = bool(status & (Status.INPUT_ERROR | Status.AD_ERROR))
    return ControllerReading(
        at=at,
        pv_c=None if invalid else values["pv"],
        working_sp_c=values["internal_sp"],
        output_pct=values["mv_heat"],
        sensor_break=invalid,  # no valid measurement either way: the interlock must trip
        manual=Status.MANUAL in status,
        remote_sp_fail=False,  # no host watchdog on the E5CC (NOTES.md): nothing falls back
    )


async def send_command(device: ModbusDevice, command: Command) -> None:
    """Write ``command`` to the write-only command register 0x0000 once (FC06), no read-back."""
    await device.command("command", command)


class OmronE5cc:
    """One Omron E5CC on a Modbus bus; no programmer, no comms watchdog."""

    has_programmer = False

    def __init__(
        self, device: ModbusDevice, *, connect_timeout_s: float = 5.0, safe_sp_c: float = 0.0
    ) -> None:
        self._device = device
        self._connect_timeout_s = connect_timeout_s
        self._safe_sp_c = safe_sp_c

    @property
    def name(self) -> str:
        return self._device.name

    async def connect(self) -> None:
        await self._device.wait_connected(self._connect_timeout_s)
        sample = await self._device.read(("decimal_point",))
        if int(sample.values["decimal_point"]) != DECIMALS:
            raise ConfigurationError(
                f"{self.name}: decimal point monitor (0x2410) is "
                f"{int(sample.values['decimal_point'])}; labctl's E5CC table expects {DECIMALS}"
            )

    async def read(self) -> ControllerReading:
        sample = await self._device.read()
        return decode_reading(sample.at, sample.values)

    async def safe_state(self) -> None:
        """STOP stored in EEPROM (control output off, also after a power cycle), SP low in RAM."""
        status = await self._status()
        status = await self._ensure(status, Command.WRITE_ENABLE)
        status = await self._ensure(status, Command.BACKUP_MODE)
        await self._command(Command.STOP)  # always: stores STOP even when already stopped
        await self._command(Command.RAM_MODE)
        await self._device.write("sp", self._safe_sp_c)

    async def arm_stream(self, *, fallback_sp_c: float) -> None:
        """Writing enabled, RAM mode, SP at ``fallback_sp_c``, auto, RUN (not stored)."""
        status = await self._status()
        status = await self._ensure(status, Command.WRITE_ENABLE)
        status = await self._ensure(status, Command.RAM_MODE)
        await self._device.write("sp", fallback_sp_c)
        status = await self._ensure(status, Command.AUTO)
        await self._ensure(status, Command.RUN)

    async def stream_setpoint(self, setpoint_c: float) -> None:
        """SP (0x2103) in RAM mode: no EEPROM wear.

        After a power cycle writing is disabled again, so the write is refused
        (DeviceRejected, code 4) and the run trips instead of streaming into a reset unit.
        """
        await self._device.write("sp", setpoint_c)

    async def reset_program(self) -> None:
        """Nothing to reset: the E5CC has no programmer."""

    async def download_program(
        self, segments: Sequence[DeviceSegment], *, holdback_band_c: float, end: EndAction
    ) -> None:
        raise self._no_programmer()

    async def run_program(self) -> None:
        raise self._no_programmer()

    async def hold_program(self) -> None:
        raise self._no_programmer()

    async def resume_program(self) -> None:
        raise self._no_programmer()

    def _no_programmer(self) -> ConfigurationError:
        return ConfigurationError(
            f"{self.name}: the {FAMILY} has no programmer; stream the setpoint instead"
        )

    async def _status(self) -> Status:
        return decode_status((await self._device.read(("status", "status_lo"))).values)

    async def _ensure(self, status: Status, command: Command) -> Status:
        """Send ``command`` unless the status already shows its effect; the new status."""
        bit, wanted = EFFECT[command]
        if (bit in status) == wanted:
            return status
        return await self._command(command)

    async def _command(self, command: Command) -> Status:
        """Send ``command`` and verify its effect on the status word; the new status."""
        await send_command(self._device, command)
        status = await self._status()
        bit, wanted = EFFECT[command]
        if (bit in status) != wanted:
            raise WriteNotVerified(
                f"{self.name}: sent {command.name} (0x{int(command):04X}) but status bit "
                f"{bit.name} is {'clear' if wanted else 'set'} (status 0x{int(status):08X})",
                register="command",
                written=float(command),
                read_back=float(status),
            )
        log.debug("%s: %s done", self.name, command.name)
        return status


__all__ = ["OmronE5cc", "decode_reading", "decode_status", "send_command"]
