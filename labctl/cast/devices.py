"""The devices of one caster, read into one observation and driven from one actuation.

:class:`CasterDevices` is the only code that talks to a caster's drivers. Every call is
bounded by a timeout and every driver error becomes a missing value (``None``), so a silent
or garbled device shows up as a stale reading that the interlocks turn into a named fault.
Writes go out only when the wanted state differs from what was last confirmed, except the
crucible setpoint, which is streamed every tick (it is the crucible controller's lease).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from drivers.capabilities import (
    ArmDrive,
    CasterIO,
    ControllerReading,
    DriveReading,
    TemperatureController,
    ThermocoupleInput,
    ThermocoupleReading,
    VacuumGauge,
)
from drivers.errors import DriverError
from labctl.cast.observation import CasterObservation, outputs_changed
from labctl.cast.sequence import SAFE, Actuation

log = logging.getLogger(__name__)
T = TypeVar("T")
IO_TIMEOUT_S = 2.0  # wall seconds for any one device call


@dataclass
class _Link:
    """One device's connection state and the clock time of its last good reading."""

    name: str
    connected: bool = False
    last_good: float | None = None
    failing: bool = False


class ApplyFailed(Exception):
    """A device did not take what the sequence asked of it; the message names the device."""


async def _nothing() -> None:
    return None


def _controller_status(reading: ControllerReading | None) -> str:
    """The crucible controller's status, as :mod:`labctl.cast.device_status` names it."""
    if reading is None:
        return "no reading"
    if reading.sensor_break:
        return "sensor break"
    if reading.pv_over_range:
        return "over range"
    return "no value" if reading.pv_c is None else "ok"


def _fitted(device: object | None, status: str) -> str:
    return "not fitted" if device is None else status


def _drive_status(reading: DriveReading | None) -> str:
    if reading is None:
        return "no reading"
    return "fault" if reading.fault_code else "ok"


def _thermocouple_status(reading: ThermocoupleReading | None) -> str:
    if reading is None:
        return "no reading"
    if reading.open_wire:
        return "open wire"
    return "no value" if reading.temp_c is None else "ok"


@dataclass
class CasterDevices:
    """A caster's device drivers by role; optional roles are None when not fitted."""

    names: dict[str, str]  # role -> device name from the site config
    crucible: TemperatureController
    io: CasterIO
    crucible_tc: ThermocoupleInput | None = None
    gauge: VacuumGauge | None = None
    drive: ArmDrive | None = None
    _links: dict[str, _Link] = field(default_factory=dict)
    _applied: Actuation | None = None  # last actuation confirmed on every device
    _heating: bool = False

    def link(self, role: str) -> _Link:
        return self._links.setdefault(role, _Link(self.names[role]))

    async def _call(
        self,
        role: str,
        connect: Callable[[], Awaitable[None]],
        read: Callable[[], Awaitable[T]],
        now: float,
    ) -> T | None:
        link = self.link(role)
        try:
            async with asyncio.timeout(IO_TIMEOUT_S):
                if not link.connected:
                    await connect()
                    link.connected = True
                value = await read()
        except (DriverError, TimeoutError) as err:
            if not link.failing:
                log.warning("%s: no reading: %s", link.name, str(err) or "timeout")
            link.failing, link.connected = True, False  # reconnect (and re-identify) next time
            return None
        if link.failing:
            log.info("%s: readings again", link.name)
        link.failing, link.last_good = False, now
        return value

    async def observe(self, now: float, stale_after_s: float) -> CasterObservation:
        """Read every device once, concurrently, so the readings belong to one instant.

        Devices on one bus are still served one at a time by that bus's task.
        """
        none = _nothing
        ctl, io, tc, gauge, drive = await asyncio.gather(
            self._call("crucible", self.crucible.connect, self.crucible.read, now),
            self._call("io", self.io.connect, self.io.read, now),
            none()
            if self.crucible_tc is None
            else self._call("crucible_tc", self.crucible_tc.connect, self.crucible_tc.read, now),
            none()
            if self.gauge is None
            else self._call("gauge", self.gauge.connect, self.gauge.read, now),
            none()
            if self.drive is None
            else self._call("drive", self.drive.connect, self.drive.read, now),
        )
        stale = tuple(
            link.name
            for role, link in sorted(self._links.items())
            if role in self.names
            and (link.last_good is None or now - link.last_good > stale_after_s)
        )
        return CasterObservation(
            at=now,
            crucible_c=None if ctl is None else ctl.pv_c,
            crucible_status=_controller_status(ctl),
            crucible_tc_c=None if tc is None else tc.temp_c,
            crucible_tc_status=_fitted(self.crucible_tc, _thermocouple_status(tc)),
            chamber_mbar=None if gauge is None else gauge.mbar,
            gauge_status=_fitted(self.gauge, "no reading" if gauge is None else gauge.status),
            io=io,
            rpm=None if drive is None else drive.rpm,
            drive_fault=0 if drive is None else drive.fault_code,
            drive_status=_fitted(self.drive, _drive_status(drive)),
            stale=stale,
        )

    def fresh(self, now: float, stale_after_s: float) -> list[str]:
        """Devices with no good reading within ``stale_after_s`` (a start needs none)."""
        return [
            name
            for role, name in sorted(self.names.items())
            if (last := self.link(role).last_good) is None or now - last > stale_after_s
        ]

    async def apply(self, wanted: Actuation) -> None:
        """Drive every device to ``wanted``; ApplyFailed names the device that did not take it."""
        before = self._applied
        self._applied = None  # unknown until every write below is confirmed
        if before is None or wanted.outputs != before.outputs:
            if before is not None:  # writing every coil would hide a change made behind us
                await self._unchanged_since(before)
            await self._do("io", self.io.set_outputs(wanted.outputs))
        if wanted.crucible_sp_c is not None:
            if not self._heating:
                await self._do("crucible", self.crucible.arm_stream(fallback_sp_c=0.0))
                self._heating = True
            await self._do("crucible", self.crucible.stream_setpoint(wanted.crucible_sp_c))
        elif self._heating or before is None:
            await self._do("crucible", self.crucible.safe_state())
            self._heating = False
        if self.drive is not None and (before is None or wanted.drive_hz != before.drive_hz):
            hz = wanted.drive_hz
            await self._do("drive", self.drive.safe_state() if hz is None else self.drive.run(hz))
        self._applied = wanted

    def changed_behind(self, obs: CasterObservation) -> str | None:
        """Why the coils read in ``obs`` are not what labctl last set (None: they are)."""
        return None if obs.io is None else outputs_changed(obs.io.outputs, self.applied.outputs)

    async def _unchanged_since(self, before: Actuation) -> None:
        """The coils still read what labctl set last (a power cycle or a watchdog changes them)."""
        try:
            async with asyncio.timeout(IO_TIMEOUT_S):
                now = (await self.io.read()).outputs
        except (DriverError, TimeoutError) as err:
            raise ApplyFailed(f"{self.names['io']}: {str(err) or 'no reply in time'}") from err
        changed = outputs_changed(now, before.outputs)
        if changed is not None:
            raise ApplyFailed(f"{self.names['io']}: {changed}")

    async def _do(self, role: str, call: Awaitable[None]) -> None:
        try:
            async with asyncio.timeout(IO_TIMEOUT_S):
                await call
        except (DriverError, TimeoutError) as err:
            raise ApplyFailed(f"{self.names[role]}: {str(err) or 'no reply in time'}") from err

    async def reset_drive_fault(self) -> None:
        """Clear the drive's latched fault, bounded in time; ApplyFailed names what failed."""
        if self.drive is not None:
            await self._do("drive", self.drive.reset_fault())

    @property
    def applied(self) -> Actuation:
        return self._applied or SAFE

    async def safe_state(self) -> list[str]:
        """Every device to its safe state, each isolated; returns the ones not confirmed."""
        self._applied, self._heating = None, False
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("crucible", self.crucible.safe_state),
            ("io", self.io.safe_state),
        ]
        if self.drive is not None:
            steps.insert(0, ("drive", self.drive.safe_state))
        failed: list[str] = []
        for role, step in steps:
            try:
                async with asyncio.timeout(IO_TIMEOUT_S):
                    await step()
            except (DriverError, TimeoutError) as err:
                log.error(
                    "%s: safe state not confirmed: %s", self.names[role], str(err) or "timeout"
                )
                failed.append(self.names[role])
        if not failed:
            self._applied = SAFE
        return failed
