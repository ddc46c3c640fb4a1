"""Eurotherm 3200 / 3216P driver: the :class:`TemperatureController` capability over Modbus.

Every write goes through :meth:`ModbusDevice.write` (one attempt, verified by read-back).
Non-volatile parameters (target SP, segments, sensor-break output) are written only when their
value differs from what the instrument holds, so a run costs at most a handful of EEPROM cycles;
the setpoint streamed every tick goes to the volatile remote setpoint (26) only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from drivers._modbus.device import ModbusDevice
from drivers.capabilities import ControllerReading, DeviceSegment, EndAction, ProgramStatus
from drivers.errors import ConfigurationError, FramingError
from drivers.eurotherm3200.registers import (
    DECIMALS,
    DWELL_MINUTES,
    MAP,
    RAMP_PER_HOUR,
    SEGMENTS,
    EndType,
    LoopMode,
    SetpointSource,
    Status,
    TStat,
)

log = logging.getLogger(__name__)

_PROGRAM = {
    TStat.RESET: ProgramStatus.RESET,
    TStat.RUN: ProgramStatus.RUN,
    TStat.HOLD: ProgramStatus.HOLD,
    TStat.END: ProgramStatus.END,
}
_END = {EndAction.DWELL: EndType.DWELL, EndAction.RESET: EndType.RESET}


def decode_reading(at: float, values: Mapping[str, float]) -> ControllerReading:
    """Polled register values -> a reading; PV is None when the instrument flags it invalid."""
    status = Status(int(values["status"]))
    sensor_break = Status.SENSOR_BREAK in status or values["sbrk_flag"] != 0
    over_range = Status.PV_OVER_RANGE in status
    return ControllerReading(
        at=at,
        pv_c=None if sensor_break or over_range else values["pv"],
        working_sp_c=values["working_sp"],
        output_pct=values["working_op"],
        sensor_break=sensor_break,
        pv_over_range=over_range,
        remote_sp_fail=Status.REMOTE_SP_FAIL in status
        and values["sp_select"] == SetpointSource.REMOTE,
        manual=values["loop_mode"] == LoopMode.MANUAL,
        program=_program(values["tstat"]),
        program_segment=int(values["prog_segment"]) or None,
    )


def _program(tstat: float) -> ProgramStatus:
    """T.STAT decoded; a value the manual does not define is a garbled reply, not a crash."""
    try:
        return _PROGRAM[TStat(int(tstat))]
    except ValueError:
        raise FramingError(f"T.STAT (address 23) reads {tstat:g}, not one of 0-3") from None


class Eurotherm3200:
    """One Eurotherm 3216/3216P on a Modbus bus."""

    has_programmer = True

    def __init__(self, device: ModbusDevice, *, connect_timeout_s: float = 5.0) -> None:
        self._device = device
        self._connect_timeout_s = connect_timeout_s

    @property
    def name(self) -> str:
        return self._device.name

    async def connect(self) -> None:
        await self._device.wait_connected(self._connect_timeout_s)
        sample = await self._device.read(("decimals",))
        if int(sample.values["decimals"]) != DECIMALS:
            raise ConfigurationError(
                f"{self.name}: decimal point (dEc.P, 525) is {int(sample.values['decimals'])}; "
                f"labctl's 3200 table expects {DECIMALS} (nnn.n)"
            )

    async def read(self) -> ControllerReading:
        sample = await self._device.read()
        return decode_reading(sample.at, sample.values)

    async def safe_state(self) -> None:
        """Program reset, manual mode, output 0 %: no heat whatever the setpoint says."""
        await self._device.write("tstat", TStat.RESET)
        await self._device.write("loop_mode", LoopMode.MANUAL)
        await self._device.write("manual_op", 0.0)

    async def arm_stream(self, *, fallback_sp_c: float) -> None:
        """Fallback armed first (local SP and sensor-break output), then remote SP selected."""
        await self._device.write("tstat", TStat.RESET)
        await self._write_if_changed({"sbrk_op": 0.0, "target_sp": fallback_sp_c})
        await self._device.write("remote_sp", fallback_sp_c)
        await self._device.write("sp_select", SetpointSource.REMOTE)
        await self._device.write("loop_mode", LoopMode.AUTO)

    async def stream_setpoint(self, setpoint_c: float) -> None:
        await self._device.write("remote_sp", setpoint_c)

    async def reset_program(self) -> None:
        await self._device.write("tstat", TStat.RESET)

    async def download_program(
        self, segments: Sequence[DeviceSegment], *, holdback_band_c: float, end: EndAction
    ) -> None:
        if not segments or len(segments) > SEGMENTS:
            raise ConfigurationError(f"a 3216P program has 1 to {SEGMENTS} segments")
        wanted: dict[str, float] = {
            "ramp_units": RAMP_PER_HOUR,
            "prog_dwell_units": DWELL_MINUTES,
            "prog_holdback": holdback_band_c,
            "prog_end_type": _END[end],
            "sbrk_op": 0.0,
        }
        last = segments[-1].target_c
        for n in range(1, SEGMENTS + 1):
            seg = segments[n - 1] if n <= len(segments) else DeviceSegment(last, None, 0.0)
            wanted[f"seg{n}_target"] = seg.target_c
            wanted[f"seg{n}_rate"] = seg.ramp_rate_c_per_h or 0.0  # 0 = step (ramp off)
            wanted[f"seg{n}_dwell"] = round(seg.dwell_min)
        await self._write_if_changed(wanted)
        log.info("%s: program of %d segments in the controller", self.name, len(segments))

    async def run_program(self) -> None:
        await self._device.write("sp_select", SetpointSource.LOCAL)
        await self._device.write("loop_mode", LoopMode.AUTO)
        await self._device.write("tstat", TStat.RUN)

    async def hold_program(self) -> None:
        await self._device.write("tstat", TStat.HOLD)

    async def resume_program(self) -> None:
        await self._device.write("tstat", TStat.RUN)

    async def _write_if_changed(self, wanted: Mapping[str, float]) -> None:
        """Write only what differs: these parameters live in EEPROM."""
        current = (await self._device.read(tuple(wanted))).values
        for name, value in wanted.items():
            if abs(current[name] - value) > MAP[name].resolution / 2:
                await self._device.write(name, value)


__all__ = ["Eurotherm3200", "decode_reading"]
