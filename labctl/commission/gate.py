"""The daemon's commissioning gate: heat is streamed only to devices that proved their table.

A kiln in stream mode and every caster take their setpoints, coils and drive commands from
labctl tick by tick, so a wrong fact in labctl's table of a device (a register, a scale, a lease
that does not fall back) acts on a real furnace. Each device of such a machine must hold a
passing commissioning record (``labctl commission``) for the current config
(:func:`labctl.commission.record.device_digest`). A kiln in programmer mode needs none: its
program runs inside the controller, which keeps it if the host dies.

At start-up, a streamed machine with a device lacking one stops the daemon
(:class:`NotCommissioned` names the machines, the devices and the command to run), unless the
site names the machine in ``[lab] allow_uncommissioned``: then it runs under a standing alarm
(source ``MACHINE.commissioning``) that stays active, acknowledged or not, until its devices
are commissioned. Every machine's devices without a record are shown in its status, on the
touchscreen and in telemetry (:attr:`labctl.runs.loop.MachineLoop.uncommissioned`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from labctl.alarms import AlarmBoard
from labctl.commission.record import Commissioning, commissioned, resolve, site_devices
from labctl.config.site import SiteConfig
from labctl.errors import ConfigError
from labctl.kiln.runner import KilnRunner
from labctl.runs.loop import MachineLoop

log = logging.getLogger(__name__)

SETTING = "lab.allow_uncommissioned"


class NotCommissioned(ConfigError):
    """Streamed machines whose devices hold no passing record, and the site does not allow it."""


def streamed(site: SiteConfig) -> list[str]:
    """The machines labctl drives tick by tick: stream-mode kilns and every caster."""
    return [n for n, k in site.kilns.items() if k.mode == "stream"] + list(site.casters)


def missing_by_machine(site: SiteConfig, records: Iterable[Commissioning]) -> dict[str, list[str]]:
    """Machine -> its devices with no passing record for the current config (every machine)."""
    passing = commissioned(records, site)
    missing: dict[str, list[str]] = {name: [] for name in [*site.kilns, *site.casters]}
    for device in site_devices(site):
        if not passing[device]:
            missing[resolve(site, device).machine].append(device)
    return missing


def command_hint(site_file: Path | None, device: str) -> str:
    """The shell command that commissions ``device``."""
    return f"labctl commission --config {site_file or 'SITE'} {device}"


class CommissioningGate:
    """Applies the ledger's commissioning records to the machines and the alarm board."""

    def __init__(
        self,
        site: SiteConfig,
        machines: Mapping[str, MachineLoop],
        board: AlarmBoard,
        site_file: Path | None = None,
    ) -> None:
        self._site, self._machines, self._board = site, machines, board
        self._site_file = site_file

    def check(self, records: Iterable[Commissioning]) -> None:
        """At start-up: raise :class:`NotCommissioned` unless every gap is allowed, then apply."""
        missing = missing_by_machine(self._site, records)
        allowed = set(self._site.lab.allow_uncommissioned)
        refused = {m: missing[m] for m in streamed(self._site) if missing[m] and m not in allowed}
        if refused:
            raise NotCommissioned(self._site_file or "site config", SETTING, self._why(refused))
        self._apply(missing)

    def update(self, records: Iterable[Commissioning]) -> None:
        """After a commissioning while running: show the new state, clear alarms that went."""
        self._apply(missing_by_machine(self._site, records))

    def _why(self, refused: Mapping[str, list[str]]) -> str:
        machines = "; ".join(f"{m}: {', '.join(devices)}" for m, devices in refused.items())
        hint = command_hint(self._site_file, next(iter(refused.values()))[0])
        return (
            f"streamed machines whose devices hold no passing commissioning record for this "
            f"config ({machines}); commission each device (`{hint}`), or name the machine in "
            "[lab] allow_uncommissioned to run it under a standing alarm"
        )

    def _apply(self, missing: Mapping[str, list[str]]) -> None:
        gated = set(streamed(self._site))
        for name, machine in self._machines.items():
            devices, previous = tuple(missing.get(name, ())), machine.uncommissioned
            if not devices and previous:
                log.info("%s commissioned: every device holds a passing record", name)
            machine.uncommissioned = devices
            if isinstance(machine, KilnRunner):  # shown at once, not only from its next tick
                machine.snapshot = dataclasses.replace(machine.snapshot, uncommissioned=devices)
            standing = bool(devices) and name in gated
            if standing and devices != previous:
                log.warning(
                    "%s runs NOT commissioned (allowed by [lab] allow_uncommissioned): %s; "
                    "commission each with `%s`",
                    name, ", ".join(devices), command_hint(self._site_file, "DEVICE"),
                )  # fmt: skip
            roles = ", ".join(resolve(self._site, d).role for d in devices)
            text = f"not commissioned: {roles} (allowed by [lab] allow_uncommissioned)"
            self._board.condition(f"{name}.commissioning", standing, text)
