"""One commissioning, start to end: checks in the device family's order, then the record.

:func:`commission_device` runs the checks through a :class:`DeviceAccess` (the CLI opens the
device's own bus or serial line; a daemon would pass its own, with the machine idle and its
loop paused) and returns the unsigned :class:`Commissioning` record; :func:`sign` appends it
to the ledger. Nothing here decides whether commissioning may start: see
:mod:`labctl.commission.preflight`.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from drivers._modbus.device import ModbusDevice
from drivers._serial.line import Line
from drivers.clock import Clock
from labctl.commission import delta, eurotherm, iomodule, omron
from labctl.commission.checks import CheckList, OnCheck
from labctl.commission.modbus_family import ModbusFamily, ModbusTarget, commission_modbus
from labctl.commission.record import device_digest, resolve
from labctl.commission.serial_checks import SerialTarget, check_adam, check_tpg
from labctl.config.buses import DeviceSection
from labctl.config.site import SiteConfig
from labctl.ledger.ops_records import Commissioning
from labctl.ledger.service import LedgerService
from labctl.ledger.store import Appended

#: How long a Eurotherm's remote SP is left unrefreshed to see it fall back (clock seconds):
#: the 3216's comms timeout is not in the manual pages read, and the site configures none.
DEFAULT_LEASE_WAIT_S = 60.0

MODBUS_FAMILIES: dict[str, ModbusFamily] = {
    "eurotherm3200": eurotherm.FAMILY,
    "omron_e5cc": omron.FAMILY,
    "iomodule": iomodule.FAMILY,
    "delta_vfd": delta.FAMILY,
}


class DeviceAccess(Protocol):
    """How commissioning reaches a device: the site's bus or serial line, opened by the caller."""

    def modbus(self, config_name: str) -> ModbusDevice:
        """The Modbus device ``[devices.config_name]`` on its bus, which the caller runs.

        A device whose bus re-checks its identity refuses every request when the identity
        registers do not read; commissioning then reports every register refused.
        """

    def line(self, line_name: str) -> Line:
        """The serial line ``[lines.line_name]``."""


async def commission_device(
    site: SiteConfig,
    device: str,
    *,
    access: DeviceAccess,
    clock: Clock,
    who: str | None = None,
    lease_wait_s: float = DEFAULT_LEASE_WAIT_S,
    on_check: OnCheck | None = None,
) -> Commissioning:
    """Commission ``device`` (machine-and-role or ``[devices]`` name); the unsigned record.

    Raises :class:`~labctl.commission.modbus_family.Refused` before any change when the unit
    must not be touched (a Eurotherm programmer running). ``on_check`` sees each check as it
    is made; ``clock`` times the lease waits (a test rig's scaled clock makes them short).
    """
    dev = resolve(site, device)
    section = site.devices[dev.config_name]
    checks = CheckList(on_check=on_check or (lambda check: None))
    if isinstance(section, DeviceSection):
        bus = site.buses[section.bus]
        target = ModbusTarget(
            device=access.modbus(dev.config_name),
            site=site,
            dev=dev,
            clock=clock,
            timeout_s=bus.timeout_s,
            lease_wait_s=lease_wait_s,
        )
        await commission_modbus(target, MODBUS_FAMILIES[section.family], checks)
    else:
        serial = SerialTarget(
            line=access.line(section.line),
            site=site,
            dev=dev,
            timeout_s=site.lines[section.line].timeout_s,
        )
        await (check_tpg if section.family == "tpg36x" else check_adam)(serial, checks)
    identity, firmware = checks.said()
    return Commissioning(
        device=dev.device,
        family=section.family,
        identity=identity,
        firmware=firmware,
        config_digest=device_digest(site, dev.device),
        checks=checks.checks,
        passed=all(c.passed for c in checks.checks),
        at=dt.datetime.fromtimestamp(clock.wall(), dt.UTC),
        who=who,
    )


async def sign(site: SiteConfig, record: Commissioning) -> Appended:
    """Append ``record`` to the site's ledger (opened for this one record, then closed)."""
    cfg = site.ledger
    if cfg is None:
        raise ValueError("the site has no [ledger] to sign into")
    service = await LedgerService.open(
        cfg.path or site.state_dir / "ledger.sqlite",
        origin=cfg.origin,
        key_files=cfg.key_files,
        retired_vkeys=cfg.retired_vkeys,
    )
    try:
        return await service.record(record)
    finally:
        await service.close()
