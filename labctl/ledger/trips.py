"""Safety trips of burnout runs into the ledger.

:class:`TripRecorder` is a kiln snapshot listener: it follows each kiln's run (its id and the
highest temperature read), and when a run ends ``faulted: <reason>`` it signs a ``safety-trip``
record. The kiln is already safe by then (the runner drives heat off before it publishes the
ended run) and the alarm board has raised the kiln's own alarm; a ledger that cannot append
raises a lab alarm naming the missing record, exactly as a cast record does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from labctl.kiln.snapshot import KilnSnapshot
from labctl.ledger.jcs import LedgerFormatError
from labctl.ledger.ops_records import SafetyTrip
from labctl.ledger.service import LedgerService
from labctl.ledger.store_reads import LedgerError

log = logging.getLogger(__name__)
FAULTED = "faulted: "


class TripRecorder:
    """Signs a ``safety-trip`` record for every burnout run that ends faulted."""

    def __init__(self, service: LedgerService, alarm: Callable[[str], None]) -> None:
        self._service, self._alarm = service, alarm
        self._runs: dict[str, tuple[int, float]] = {}  # kiln -> (run id, peak °C so far)
        self._pending: set[asyncio.Task[None]] = set()

    def add(self, snap: KilnSnapshot) -> None:
        """One kiln snapshot (a ``Lab`` listener)."""
        if snap.run_id is not None:
            run_id, peak = self._runs.get(snap.kiln, (snap.run_id, 0.0))
            peak = peak if run_id == snap.run_id else 0.0
            self._runs[snap.kiln] = (snap.run_id, max(peak, snap.pv_c or 0.0))
            return
        ended = self._runs.pop(snap.kiln, None)
        if ended is None or not (snap.outcome or "").startswith(FAULTED):
            return
        run_id, peak = ended
        reason = str(snap.outcome).removeprefix(FAULTED)
        trip = SafetyTrip(
            run_id=f"{snap.kiln}-run-{run_id}",
            machine=snap.kiln,
            reason=reason[:200] or "unknown",
            tripped_at=datetime.fromtimestamp(snap.wall, UTC),
            peak_c=min(2000, max(0, round(peak))),
        )
        task = asyncio.get_running_loop().create_task(self._record(trip))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _record(self, trip: SafetyTrip) -> None:
        try:
            appended = await self._service.record(trip)
        except (LedgerError, LedgerFormatError, OSError, ValueError) as err:
            self._alarm(f"safety trip of {trip.run_id} is NOT in the ledger: {err}")
            return
        log.info("%s: safety trip recorded in the ledger at index %d", trip.run_id, appended.index)

    async def drain(self) -> None:
        """Wait for the records still being signed (tests, and a clean shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
