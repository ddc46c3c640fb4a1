"""The drain loop: spool -> InfluxDB in batches, acknowledged only after the server accepted.

``Drainer.run()`` takes the oldest unsent points from the spool, hands them to a
:class:`~labctl.telemetry.influx.PointWriter` and acknowledges them in the spool only when the
write returned. A failed write acknowledges nothing and releases the spool's lease, so the same
points come back in the next batch; because a point's time and tags are deterministic, a replay
overwrites rather than duplicates (also after a crash between write and ack).

After a failure the loop waits with exponential backoff and full jitter (a uniform draw in
``[0, min(backoff_max_s, backoff_initial_s * 2**(n-1))]``, at least the server's Retry-After),
so many daemons coming back at once do not hammer the server. An error that retrying cannot
fix (bad credentials, unknown database: ``retryable=False``) still keeps every point; the loop
waits the longest backoff between attempts, so it recovers by itself once the server or the
config is fixed. Each change of state (ok, retrying, refused) is logged once, not every
attempt; :meth:`Drainer.stats` gives the counters for the health telemetry.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from drivers.clock import Clock, real_clock
from labctl.telemetry.influx import InfluxWriteError, PointWriter
from labctl.telemetry.points import TelemetryPoint

log = logging.getLogger(__name__)


class SpoolSource(Protocol):
    """What the drain loop needs from the spool (``labctl/telemetry/spool.py``)."""

    async def batch(self, limit: int) -> list[tuple[int, TelemetryPoint]]:
        """Up to ``limit`` of the oldest unacknowledged points with their ids."""

    async def ack(self, ids: Sequence[int]) -> object:
        """Forget these points: the server has them."""

    def release(self) -> None:
        """Hand out every unacknowledged point again (after a failed write)."""


class DrainState(enum.Enum):
    STARTING = "starting"  # nothing sent yet
    OK = "ok"  # the last write was accepted
    RETRYING = "retrying"  # the last write failed and retrying may help
    REFUSED = "refused"  # the server refused the last write; points kept, slow retries


@dataclass(frozen=True, slots=True)
class DrainStats:
    """Counters for health telemetry."""

    state: DrainState
    sent: int  # points acknowledged since start
    batches: int  # batches acknowledged since start
    failed_attempts: int  # failed writes since start
    consecutive_failures: int  # failed writes since the last success
    last_error: str | None  # the most recent failure, kept after recovery


class Drainer:
    """Drains ``spool`` into ``writer``; run :meth:`run` as one supervised task."""

    def __init__(
        self,
        spool: SpoolSource,
        writer: PointWriter,
        *,
        batch_size: int = 1000,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 60.0,
        idle_s: float = 0.5,
        name: str = "influx",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if batch_size < 1 or not 0 < backoff_initial_s <= backoff_max_s or idle_s <= 0:
            raise ValueError("batch_size >= 1 and 0 < backoff_initial_s <= backoff_max_s")
        self._spool, self._writer, self.name = spool, writer, name
        self._batch_size, self._idle_s = batch_size, idle_s
        self._initial, self._max = backoff_initial_s, backoff_max_s
        self._clock = clock or real_clock()
        self._rng = rng or random.Random()
        self._state = DrainState.STARTING
        self._sent = self._batches = self._failed = self._consecutive = 0
        self._last_error: str | None = None
        self._prefetch: asyncio.Future[list[tuple[int, TelemetryPoint]]] | None = None

    def stats(self) -> DrainStats:
        return DrainStats(
            self._state,
            self._sent,
            self._batches,
            self._failed,
            self._consecutive,
            self._last_error,
        )

    async def run(self) -> None:
        """Drain forever: a batch when there is one, else a nap of ``idle_s``."""
        self._spool.release()  # a batch a previous run had in flight is sent again
        try:
            while True:
                if not await self.drain_once():
                    await self._clock.sleep(self._idle_s)
        finally:
            await self._drop_prefetch()

    async def drain_once(self) -> bool:
        """Send one batch; False when the spool was empty (after a failure: its backoff).

        While a full batch is being written, the next one is read from the spool (its own
        thread), so reading and writing overlap; the spool leases each batch to us alone.
        """
        if self._prefetch is None:
            batch = await self._spool.batch(self._batch_size)
        else:
            batch, self._prefetch = await self._prefetch, None
        if not batch:
            return False
        if len(batch) == self._batch_size:
            self._prefetch = asyncio.ensure_future(self._spool.batch(self._batch_size))
        try:
            await self._writer.write([point for _, point in batch])
        except InfluxWriteError as exc:
            await self._drop_prefetch()
            self._spool.release()  # the same points come back in the next batch
            await self._clock.sleep(self._failed_write(exc, len(batch)))
            return True
        await self._spool.ack([point_id for point_id, _ in batch])
        self._sent += len(batch)
        self._batches += 1
        if self._state is not DrainState.OK:
            self._set_state(
                DrainState.OK, "%s: writing (after %d failed attempts)", self._consecutive
            )
        self._consecutive = 0
        return True

    async def _drop_prefetch(self) -> None:
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            prefetch.cancel()
            await asyncio.gather(prefetch, return_exceptions=True)

    def backoff_s(self, exc: InfluxWriteError) -> float:
        """The wait after the ``consecutive_failures``-th failure in a row (>= 1)."""
        if not exc.retryable:
            return self._rng.uniform(self._max / 2, self._max)
        ceiling = min(self._max, self._initial * 2.0 ** min(self._consecutive - 1, 64))
        delay = self._rng.uniform(0.0, ceiling)
        return max(delay, min(exc.retry_after_s or 0.0, self._max))

    def _failed_write(self, exc: InfluxWriteError, kept: int) -> float:
        self._failed += 1
        self._consecutive += 1
        self._last_error = str(exc)
        if exc.retryable and self._state is not DrainState.RETRYING:
            msg = "%s: %s; %d points kept in the spool, retrying with backoff"
            self._set_state(DrainState.RETRYING, msg, exc, kept)
        elif not exc.retryable and self._state is not DrainState.REFUSED:
            msg = "%s: refused: %s; %d points kept in the spool, retrying every ~%.0f s"
            self._set_state(DrainState.REFUSED, msg, exc, kept, self._max)
        return self.backoff_s(exc)

    def _set_state(self, state: DrainState, msg: str, *args: Any) -> None:
        self._state = state
        level = {
            DrainState.OK: logging.INFO,
            DrainState.RETRYING: logging.WARNING,
            DrainState.REFUSED: logging.ERROR,
        }[state]
        log.log(level, msg, self.name, *args)
