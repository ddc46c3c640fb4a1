"""The daemon's ``commissioning`` query: each device of the site and its last record.

What the touchscreen's supervisor screen lists: per device,
its machine and role, whether it holds a passing record for the current config, and the
newest record made for it (passed or failed, when, by whom, and whether the config changed
since). Reading the records also refreshes the gate, so a device commissioned while the daemon
runs clears its machine's standing alarm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from labctl.commands import Caller, CommandRegistry, Payload, Role
from labctl.commission.gate import CommissioningGate, command_hint, streamed
from labctl.commission.record import Commissioning, device_digest, resolve, site_devices
from labctl.config import SiteConfig

Records = Callable[[], Awaitable[Sequence[Commissioning]]]


def _last(record: Commissioning | None, digest: str) -> dict[str, object] | None:
    if record is None:
        return None
    return {
        "passed": record.passed,
        "at": record.at.timestamp(),
        "who": record.who,
        "current": record.config_digest == digest,  # False: made for an earlier config
        "failed": [check.name for check in record.checks if not check.passed],
    }


def device_rows(
    site: SiteConfig, records: Sequence[Commissioning], site_file: Path | None = None
) -> list[dict[str, object]]:
    """One row per device of the site (``records`` newest first, as the ledger gives them)."""
    gated, allowed = set(streamed(site)), set(site.lab.allow_uncommissioned)
    rows: list[dict[str, object]] = []
    for device in site_devices(site):
        where, digest = resolve(site, device), device_digest(site, device)
        mine = [r for r in records if r.device == device]
        rows.append(
            {
                "device": device,
                "machine": where.machine,
                "role": where.role,
                "config_name": where.config_name,
                "family": site.devices[where.config_name].family,
                "streamed": where.machine in gated,
                "allowed_uncommissioned": where.machine in allowed,
                "commissioned": any(r.passed and r.config_digest == digest for r in mine),
                "last": _last(mine[0] if mine else None, digest),
                "command": command_hint(site_file, device),
            }
        )
    return rows


def register_commissioning_query(
    registry: CommandRegistry,
    site: SiteConfig,
    gate: CommissioningGate,
    records: Records,
    site_file: Path | None = None,
) -> None:
    """Register ``commissioning`` (supervisor: the touchscreen's commissioning screen).

    It changes nothing on any device; every role sees ``commissioned`` in the status.
    """

    async def commissioning(_: Payload, __: Caller) -> Mapping[str, object]:
        found = await records()
        gate.update(found)
        return {"devices": device_rows(site, found, site_file)}

    registry.register(
        "commissioning",
        Payload,
        Role.SUPERVISOR,
        commissioning,
        "each device's commissioning: passing for this config, and its last record",
    )
