"""Commissioning a Modbus device: the same order of checks for every family.

First every register of the table alone (reads change nothing; they also measure turnaround),
and from those values the identity: a unit that is not the one named gets no write at all,
not even the safe state (labctl would be guessing what its registers do). Then inhibit (the
driver's safe state, verified; if that fails nothing else is tried), the driver's reads as
planned blocks, harmless writes verified by read-back, the turnaround, and the lease. The
device is driven to its safe state again at the end, whatever happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from drivers._modbus.device import ModbusDevice
from drivers.clock import Clock
from drivers.errors import DriverError
from labctl.commission.checks import CheckList, Timings
from labctl.commission.modbus_reads import read_blocks, read_each
from labctl.commission.record import SiteDevice
from labctl.config.caster import CasterSection
from labctl.config.site import SiteConfig
from labctl.errors import LabctlError

CONNECT_TIMEOUT_S = 10.0  # wall seconds for the bus to connect and read the identity


class Refused(LabctlError):
    """Commissioning must not touch this device now (the message says why and what to do)."""


@dataclass(frozen=True, slots=True)
class ModbusTarget:
    """The device under commissioning and what its checks need to know."""

    device: ModbusDevice
    site: SiteConfig
    dev: SiteDevice
    clock: Clock
    timeout_s: float  # the bus's configured reply timeout
    lease_wait_s: float  # silence for a lease the site does not configure (Eurotherm remote SP)

    def caster(self) -> CasterSection:
        """The caster this device belongs to (KeyError for a kiln's device)."""
        return self.site.casters[self.dev.machine]


Step = Callable[[ModbusTarget], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class ModbusFamily:
    """One family's part: how to inhibit it, what identifies it, what to write, its lease."""

    inhibit: Step  # drive it safe (may raise Refused); returns what was done
    identify: Callable[[ModbusTarget, Mapping[str, float], CheckList], bool]  # the unit named?
    writes: Step  # harmless writes, verified; returns what was written
    lease: Callable[[ModbusTarget, CheckList], Awaitable[None]]
    identity: tuple[str, ...]  # the registers the bus re-reads after every connect
    reads: Mapping[str, tuple[str, ...]] | None = None  # the driver's other planned reads
    write_only: tuple[str, ...] = ()  # written with ModbusDevice.command, never read


async def commission_modbus(target: ModbusTarget, family: ModbusFamily, checks: CheckList) -> None:
    """Run ``family``'s checks on ``target`` in order (see the module docstring)."""
    try:
        await target.device.wait_connected(CONNECT_TIMEOUT_S)
    except DriverError as err:
        checks.add("inhibit", False, f"no link to the unit ({err}); nothing was tried")
        return
    timings = Timings()
    values = await read_each(target.device, family.write_only, checks, timings)
    if not family.identify(target, values, checks):
        checks.add("inhibit", False, "not tried: not the unit named (identity); nothing written")
        return
    try:
        checks.add("inhibit", True, await family.inhibit(target))
    except DriverError as err:
        checks.add("inhibit", False, f"could not drive it safe: {err}; nothing else was tried")
        return
    try:
        await _checks(target, family, checks, timings)
    finally:
        try:
            await family.inhibit(target)
        except DriverError as err:
            checks.add("inhibit", False, f"could not drive it safe after the checks: {err}")


async def _checks(
    target: ModbusTarget, family: ModbusFamily, checks: CheckList, timings: Timings
) -> None:
    reads = {"poll": None, "identity": family.identity, **(family.reads or {})}
    await read_blocks(target.device, reads, checks)
    try:
        checks.add("writes", True, await family.writes(target))
    except DriverError as err:
        checks.add("writes", False, str(err))
    timings.report(checks, target.timeout_s)
    try:
        await family.lease(target, checks)
    except DriverError as err:
        checks.add("lease", False, f"the lease could not be exercised: {err}")


def identity_of(values: Mapping[str, float], names: tuple[str, ...], checks: CheckList) -> bool:
    """Put the identity registers' values in ``checks.identity``; False if one did not read."""
    for name in names:
        if name in values:
            checks.identity[name] = f"{values[name]:g}"
    return all(name in values for name in names)
