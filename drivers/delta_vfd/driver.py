"""Delta VFD-B driver: the :class:`ArmDrive` capability over Modbus.

One read is one transaction (0x2100..0x210C coalesced). Every setting goes through
:meth:`ModbusDevice.write`: one attempt, verified by read-back; the fault reset (2002H bit 1)
is a one-shot :meth:`ModbusDevice.command`. On connect the driver arms the
drive's own comms-loss behaviour (09-03 time-out detection, 09-02 "warn and ramp to stop"), so
a host that goes silent leaves the arm decelerating to rest, not spinning; those two
parameters live in the drive's EEPROM and are written only when they differ.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers._modbus.device import ModbusDevice
from drivers.capabilities import DriveReading
from drivers.delta_vfd.registers import MAP, Command, CommLossAction, Control, DriveState
from drivers.errors import ConfigurationError

RUN_FORWARD = Command.RUN | Command.FWD


def decode_reading(at: float, values: Mapping[str, float]) -> DriveReading:
    """Polled register values -> a reading; running while the output is on (run or decel)."""
    state = DriveState(int(values["status"]) & 0x3)
    return DriveReading(
        at=at,
        output_hz=values["output_freq"],
        rpm=values["rpm"],
        running=state in (DriveState.RUNNING, DriveState.DECELERATING),
        fault_code=int(values["fault_code"]),
    )


class DeltaVfd:
    """One Delta VFD-B (or alike) spinning a centrifugal arm."""

    def __init__(
        self,
        device: ModbusDevice,
        *,
        comm_timeout_s: float = 5.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self._device = device
        self._comm_timeout_s = comm_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._max_hz: float | None = None

    @property
    def name(self) -> str:
        return self._device.name

    @property
    def max_hz(self) -> float | None:
        """The drive's maximum output frequency (01-00), known after :meth:`connect`."""
        return self._max_hz

    async def connect(self) -> None:
        """Wait for the link, learn the maximum frequency, arm the comms-loss stop."""
        await self._device.wait_connected(self._connect_timeout_s)
        wanted = {
            "comm_fault_treatment": float(CommLossAction.WARN_RAMP_STOP),
            "comm_timeout": self._comm_timeout_s,
        }
        current = (await self._device.read(("max_freq", *wanted))).values
        self._max_hz = current["max_freq"]
        for name, value in wanted.items():
            if abs(current[name] - value) > MAP[name].resolution / 2:
                await self._device.write(name, value)

    async def read(self) -> DriveReading:
        sample = await self._device.read()
        return decode_reading(sample.at, sample.values)

    async def run(self, frequency_hz: float) -> None:
        """Frequency first, then RUN | FWD; a tripped drive stays stopped (see ``read``)."""
        if self._max_hz is None:
            raise ConfigurationError(f"{self.name}: connect() before run()")
        if not 0.0 <= frequency_hz <= self._max_hz:
            raise ConfigurationError(
                f"{self.name}: {frequency_hz} Hz outside 0..{self._max_hz:g} Hz (01-00)"
            )
        await self._device.write("freq_cmd", frequency_hz)
        await self._device.write("command", RUN_FORWARD)

    async def safe_state(self) -> None:
        """STOP: the drive decelerates by its own ramp (01-10)."""
        await self._device.write("command", Command.STOP)

    async def reset_fault(self) -> None:
        """2002H bit 1 (reset): clear a trip or the comms-loss warning; stays stopped until run().

        A one-shot command, written once with no read-back (the bit is an action, not a
        setting); the caller sees the effect in the fault code of the next ``read``.
        """
        await self._device.command("control", Control.RESET)


__all__ = ["RUN_FORWARD", "DeltaVfd", "decode_reading"]
