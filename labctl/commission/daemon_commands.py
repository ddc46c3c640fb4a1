"""The daemon's commissioning commands: ``commissioning`` (query) and ``commission`` (start).

``commissioning`` is what the touchscreen's supervisor screen lists: per device, its machine
and role, whether it holds a passing record for the current config, the newest record made for
it (passed or failed, when, by whom, and whether the config changed since) and its last job
started from the daemon. Reading the records also refreshes the gate, so a device commissioned
meanwhile clears its machine's standing alarm. ``commission`` starts a job
(:mod:`labctl.commission.daemon_run`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import Field

from labctl.commands.registry import Caller, CommandRegistry, Payload
from labctl.commission.daemon_run import Job
from labctl.commission.daemon_side import DaemonCommissioning
from labctl.commission.gate import command_hint, streamed
from labctl.commission.record import Commissioning, device_digest, resolve, site_devices
from labctl.config.site import SiteConfig
from labctl.config.users import Role


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
    site: SiteConfig,
    records: Sequence[Commissioning],
    jobs: Mapping[str, Job],
    site_file: Path | None = None,
) -> list[dict[str, object]]:
    """One row per device of the site (``records`` newest first, as the ledger gives them).

    ``job`` is the device's last commissioning started from the daemon (None: none).
    """
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
                "job": jobs[device].as_json() if device in jobs else None,
            }
        )
    return rows


class CommissionPayload(Payload):
    """The device to commission: machine and role (``kiln1``, ``caster1.io``) or its name."""

    device: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,130}$")


def register_commissioning_commands(registry: CommandRegistry, daemon: DaemonCommissioning) -> None:
    """Register ``commissioning`` and ``commission`` (supervisor: the commissioning screen).

    Every role sees ``commissioned`` in the status; the records and the jobs are a
    supervisor's, as is commissioning (it drives a machine's devices to their safe state).
    """

    async def commissioning(_: Payload, __: Caller) -> Mapping[str, object]:
        found = await daemon.records()
        daemon.gate.update(found)
        jobs = daemon.commissioner.jobs
        return {"devices": device_rows(daemon.site, found, jobs, daemon.site_file)}

    async def commission(p: CommissionPayload, who: Caller) -> Mapping[str, object]:
        return daemon.commissioner.start(p.device, who.name).as_json()

    registry.register(
        "commissioning",
        Payload,
        Role.SUPERVISOR,
        commissioning,
        "each device's commissioning: passing for this config, and its last record",
    )
    registry.register(
        "commission",
        CommissionPayload,
        Role.SUPERVISOR,
        commission,
        "commission a device of an idle machine (answers at once; the query shows the checks)",
    )
