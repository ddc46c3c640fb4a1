"""Commissioning in the daemon, assembled: the gate, the records it reads, the commissioner.

:class:`DaemonCommissioning` is what the composition root builds from the site: at start-up
:meth:`~DaemonCommissioning.check` reads the ledger's commissioning records and applies the gate
(:class:`~labctl.commission.gate.NotCommissioned` if a streamed machine may not start); the
commands (:mod:`labctl.commission.daemon_commands`) list the records and start jobs; each signed
record refreshes the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from drivers.clock import Clock
from labctl.alarms import AlarmBoard
from labctl.commission.daemon_run import Commissioner
from labctl.commission.gate import CommissioningGate
from labctl.commission.record import Commissioning, commissioning_records
from labctl.commission.runner import DeviceAccess
from labctl.config.site import SiteConfig
from labctl.ledger.service import LedgerService
from labctl.runs.loop import MachineLoop


class DaemonCommissioning:
    """The daemon's gate and commissioner over one site, its machines and its ledger."""

    def __init__(
        self,
        site: SiteConfig,
        machines: Mapping[str, MachineLoop],
        board: AlarmBoard,
        ledger: LedgerService | None,
        access: DeviceAccess,
        clock: Clock,
        site_file: Path | None = None,
    ) -> None:
        """``ledger`` None: the site has none, so no device holds a record."""
        self.site, self.site_file, self._ledger = site, site_file, ledger
        self.gate = CommissioningGate(site, machines, board, site_file)
        self.commissioner = Commissioner(site, machines, access, clock, ledger, self.refresh)

    async def records(self) -> list[Commissioning]:
        """Every commissioning record in the ledger, newest first."""
        return [] if self._ledger is None else await commissioning_records(self._ledger)

    async def check(self) -> None:
        """At start-up: NotCommissioned, or every machine shows its state (standing alarms)."""
        self.gate.check(await self.records())

    async def refresh(self) -> None:
        """The records again (one was signed): machines commissioned now lose their alarm."""
        self.gate.update(await self.records())
