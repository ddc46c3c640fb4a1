"""A cast the previous daemon left: never resumed, ended as interrupted and still recorded.

Molten metal and an evacuated flask do not wait for a restart. Once every device is safe
again, the cast ends as *interrupted* in the run store, and the ledger gets its record from
what the run stored at its start and at each step (flask, melt, who confirmed what).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from labctl.cast.summary import CastSummary, interrupted_summary
from labctl.runs.state import Outcome, OutcomeKind
from labctl.runs.store import RunStore, StoredRun
from labctl.runs.unstored import store_outcome

log = logging.getLogger(__name__)

REASON = "the daemon restarted during the cast; a cast is never resumed"
#: The samples before the restart went to the telemetry, not to the run store.
NO_SERIES = "its samples before the restart are in the telemetry, not in this record"


async def end_interrupted(
    caster: str,
    stored: StoredRun,
    store: RunStore,
    wall: float,
    recorder: Callable[[CastSummary], Awaitable[None]] | None,
) -> Outcome:
    """End ``stored`` as interrupted (its devices are already safe) and hand over its record."""
    log.warning("%s: cast %d %s", caster, stored.id, REASON)
    outcome = Outcome(OutcomeKind.INTERRUPTED, REASON)
    await store_outcome(store, stored.id, outcome, wall)
    if recorder is None:
        return outcome
    try:
        summary = interrupted_summary(
            stored, Outcome(OutcomeKind.INTERRUPTED, f"{REASON}; {NO_SERIES}")
        )
    except (ValueError, TypeError, KeyError) as err:
        log.critical(
            "%s: cast %d is NOT in the ledger: its stored state: %r", caster, stored.id, err
        )
        return outcome
    await recorder(summary)
    return outcome
