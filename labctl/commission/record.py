"""Which devices a site has, what each one's commissioning depends on, and who holds a pass.

Devices are named by machine and role, as the status and the alarms name them:

* ``kiln1``: kiln ``kiln1``'s controller; ``kiln1.flask_tc``: its flask-core thermocouple;
* ``caster1.crucible``, ``caster1.io``, ``caster1.crucible_tc``, ``caster1.gauge``,
  ``caster1.drive``: caster ``caster1``'s devices by their roles in ``[casters.NAME]``.

A commissioning record holds for the configuration it was made with: :func:`device_digest` is
the SHA-256 of the canonical JSON (RFC 8785) of everything the checks depend on: the device's
section, its bus or serial line (port or host:port, baud rate, parity, unit, timeouts), the
machine settings the checks use (a kiln's mode, fallback SP and maximum, a caster's leases
and crucible maximum) and, for Modbus families, labctl's register table of the family. Change
any of them and the device needs commissioning again (:func:`commissioned` says False).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from labctl.commission.families import table_facts
from labctl.config.buses import DeviceSection
from labctl.config.caster import CasterSection
from labctl.config.kiln import KilnSection
from labctl.config.site import SiteConfig
from labctl.errors import LabctlError
from labctl.ledger.jcs import canonical
from labctl.ledger.ops_records import Commissioning, DeviceCheck
from labctl.ledger.service import LedgerService, predicate_of

COMMISSIONING_KIND = Commissioning.kind  # "commissioning"
KILN_CONTROLLER = "controller"  # the role a kiln's own name stands for
MAX_RECORDS = 10_000  # commissioning records read back from the ledger, newest first

__all__ = [
    "COMMISSIONING_KIND",
    "Commissioning",
    "DeviceCheck",
    "SiteDevice",
    "UnknownDevice",
    "commissioned",
    "commissioning_records",
    "device_digest",
    "device_facts",
    "resolve",
    "site_devices",
]


class UnknownDevice(LabctlError):
    """A device name that is neither a machine role nor a ``[devices]`` name of the site."""


@dataclass(frozen=True, slots=True)
class SiteDevice:
    """One device of a site: its machine-and-role name, where it is configured, what uses it."""

    device: str  # "kiln1", "caster1.io"
    config_name: str  # its [devices.NAME]
    machine: str
    role: str  # "controller", "flask_tc", "crucible", "io", "crucible_tc", "gauge", "drive"


def _all(site: SiteConfig) -> list[SiteDevice]:
    found: list[SiteDevice] = []
    for name, kiln in site.kilns.items():
        for role, dev in kiln.roles().items():
            label = name if role == KILN_CONTROLLER else f"{name}.{role}"
            found.append(SiteDevice(label, dev, name, role))
    for name, caster in site.casters.items():
        found += [SiteDevice(f"{name}.{r}", dev, name, r) for r, dev in caster.roles().items()]
    return found


def site_devices(site: SiteConfig) -> list[str]:
    """Every device the site's machines use, by machine and role (see the module docstring)."""
    return [d.device for d in _all(site)]


def resolve(site: SiteConfig, name: str) -> SiteDevice:
    """The device called ``name``: a machine-and-role name, or its ``[devices]`` name."""
    devices = _all(site)
    for dev in devices:
        if name in (dev.device, dev.config_name):
            return dev
    known = ", ".join(d.device for d in devices) or "none"
    if name in site.devices:
        raise UnknownDevice(f"{name} is in [devices] but no kiln or caster uses it")
    raise UnknownDevice(f"no device {name!r} in this site (its devices: {known})")


def _machine_facts(site: SiteConfig, dev: SiteDevice) -> dict[str, Any]:
    """The machine settings a device's checks use (its ranges, fallback and lease)."""
    kiln: KilnSection | None = site.kilns.get(dev.machine)
    caster: CasterSection | None = site.casters.get(dev.machine)
    machine: KilnSection | CasterSection | None = kiln or caster
    settings = {
        "controller": ("mode", "max_temp_c", "fallback_sp_c"),
        "flask_tc": ("max_temp_c",),
        "crucible": ("crucible_max_c", "accept_crucible_without_lease"),
        "crucible_tc": ("crucible_max_c",),
        "io": ("io_lease_s",),
        "drive": ("drive_lease_s",),
    }.get(dev.role, ())
    return {key: getattr(machine, key) for key in settings}


def device_facts(site: SiteConfig, device: str) -> dict[str, Any]:
    """Everything the commissioning of ``device`` depends on, as JSON-able data."""
    dev = resolve(site, device)
    section = site.devices[dev.config_name]
    facts: dict[str, Any] = {
        "role": dev.role,
        "section": section.model_dump(mode="json"),
        "machine": _machine_facts(site, dev),
    }
    if isinstance(section, DeviceSection):
        facts["bus"] = site.buses[section.bus].model_dump(mode="json")
        facts["table"] = table_facts(section.family)
    else:
        facts["line"] = site.lines[section.line].model_dump(mode="json")
    return facts


def device_digest(site: SiteConfig, device: str) -> str:
    """SHA-256 (lowercase hex) of the canonical JSON of :func:`device_facts`."""
    return hashlib.sha256(canonical(device_facts(site, device), "device configuration")).hexdigest()


def commissioned(records: Iterable[Commissioning], site: SiteConfig) -> dict[str, bool]:
    """Device -> True when a passing record exists for its current :func:`device_digest`."""
    passing = {(r.device, r.config_digest) for r in records if r.passed}
    return {d: (d, device_digest(site, d)) in passing for d in site_devices(site)}


async def commissioning_records(service: LedgerService) -> list[Commissioning]:
    """Every commissioning record in the ledger, newest first (at most :data:`MAX_RECORDS`)."""
    entries = await service.latest(COMMISSIONING_KIND, MAX_RECORDS)
    return [Commissioning.from_predicate(predicate_of(e.leaf)) for e in entries]
