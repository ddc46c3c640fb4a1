"""An outcome the run store refused: shown at once, stored by a later tick.

A run that ends while the store takes no writes (the disk is full) ends anyway: every device
is driven safe and the outcome is shown (snapshot, alarm, telemetry). The machine keeps it
here and its loop retries every tick (``MachineLoop._store_late``); until it is stored the
machine starts no new run, so the store never holds two open runs of one machine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from labctl.runs.state import Outcome
from labctl.runs.store import RunStore, RunStoreError

log = logging.getLogger(__name__)


async def store_outcome(store: RunStore, run_id: int, outcome: Outcome, at_wall: float) -> Outcome:
    """End run ``run_id`` in the store with ``outcome``; the store's outcome is returned."""
    return await store.end_run(
        run_id, outcome_kind=outcome.kind, reason=outcome.reason, by=outcome.by, at_wall=at_wall
    )


@dataclass(frozen=True, slots=True)
class UnstoredOutcome:
    """How run ``run_id`` ended, not yet in the run store; ``write`` stores it."""

    machine: str
    what: str  # "run" or "cast": how the log names it
    run_id: int
    outcome: Outcome
    write: Callable[[], Awaitable[object]]

    async def retry(self) -> bool:
        """Store the outcome now; False while the run store still refuses it."""
        try:
            await self.write()
        except RunStoreError:
            return False
        log.warning(
            "%s: %s %d outcome stored at last: %s",
            self.machine,
            self.what,
            self.run_id,
            self.outcome,
        )
        return True

    def refusal(self) -> str:
        """Why the machine starts no run until this outcome is stored."""
        return (
            f"{self.machine}: the outcome of {self.what} {self.run_id} is not stored yet (the run "
            "store refuses writes: is the disk full?)"
        )
