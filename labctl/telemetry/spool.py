"""The durable telemetry spool: every point goes to a bounded SQLite file before any writer.

The control loop calls :meth:`Spool.offer`, which only appends to a bounded list in memory.
:meth:`Spool.run` moves that list to disk every ``flush_interval_s`` (sooner when it is half
full) in one transaction on the spool's own thread, which owns the connection; nothing here
touches the disk on the event loop. A writer drains with :meth:`Spool.batch` and deletes with
:meth:`Spool.ack` only what the server accepted, so after a crash the file replays them.

The file (spool_file.py) is WAL with ``synchronous=FULL``: a crash or power cut loses at most the
points still in memory, the last flush interval, and never corrupts it. The bound ``max_points``
applies to the file: past it the oldest LOW points go first, HIGH ones only when no LOW one is
left, each counted. Memory holds at most ``buffer_max`` waiting points plus one flush in flight;
offers beyond that are dropped and counted.

When the disk cannot be written (full, I/O error) nothing raises: the spool logs it once, keeps
the unwritten points in memory (within ``buffer_max``, dropping and counting the rest), retries
every interval and logs once when writing works again. A failed read gives an empty batch, a
failed ack acks nothing (the points are sent again; points are idempotent). Counters start at 0
in each process. One drainer per spool: a point handed out by :meth:`Spool.batch` is not handed
out again until :meth:`Spool.release`, so batches may be pipelined but not shared by drainers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from labctl.telemetry.points import TelemetryPoint
from labctl.telemetry.spool_file import FileState, SpoolError, SpoolFile

__all__ = ["Spool", "SpoolError", "SpoolStats"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """Health figures; counters count since the spool was opened."""

    on_disk: int
    buffered: int  # in memory: waiting, or in the transaction under way
    oldest_time_ns: int | None
    dropped_buffer: int  # memory full (or disk failing): the new point was not kept
    dropped_low: int  # deleted at the bound
    dropped_high: int  # deleted at the bound, no LOW point being left
    write_errors: int  # failed flushes

    @property
    def depth(self) -> int:
        return self.on_disk + self.buffered

    @property
    def dropped_total(self) -> int:
        return self.dropped_buffer + self.dropped_low + self.dropped_high


class _Latch:
    """A condition logged once when it starts and once when it ends, never per point."""

    def __init__(self, name: str, start: str, end: str) -> None:
        self._name, self._start, self._end, self.active = name, start, end, False

    def set(self, active: bool, detail: object = "") -> None:
        if active != self.active:
            self.active = active
            level, text = (logging.WARNING, self._start) if active else (logging.INFO, self._end)
            log.log(level, "spool %s %s%s", self._name, text, detail if active else "")


class Spool:
    """The spool. Make one with :meth:`open`, run :meth:`run` as a task, :meth:`close` it."""

    def __init__(
        self, disk: SpoolFile, state: FileState, executor: ThreadPoolExecutor, *, name: str,
        max_points: int, flush_interval_s: float, buffer_max: int,
    ) -> None:  # fmt: skip
        self._disk, self._disk_state, self._executor, self._name = disk, state, executor, name
        self._max, self._interval, self._buffer_max = max_points, flush_interval_s, buffer_max
        self._buffer: list[TelemetryPoint] = []
        self._retry: list[TelemetryPoint] = []  # a failed flush, oldest first
        self._inflight: list[Sequence[TelemetryPoint]] = []
        self._dropped_buffer = self._dropped_seen = self._write_errors = self._after_id = 0
        self._leased: set[int] = set()
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._closed = False
        self._failing = _Latch(name, "cannot write; retrying: ", "writing again")
        self._full = _Latch(name, "full, dropping", "below its bound again")
        self._overflow = _Latch(name, "buffer full, dropping", "buffer has room again")

    @classmethod
    async def open(
        cls, path: Path | str, *, max_points: int, flush_interval_s: float = 0.1,
        buffer_max: int = 20_000,
    ) -> Spool:  # fmt: skip
        """Open (or create) the spool file; its points are kept, to be sent again."""
        if max_points < 1 or buffer_max < 1 or flush_interval_s <= 0:
            raise ValueError("max_points and buffer_max must be >= 1, flush_interval_s > 0")
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        try:
            disk = await asyncio.wrap_future(
                executor.submit(SpoolFile.open, Path(path), max_points)
            )
            state = await asyncio.wrap_future(executor.submit(disk.state))
        except BaseException as err:
            executor.shutdown(wait=False)
            if isinstance(err, sqlite3.Error | OSError):
                raise SpoolError(f"spool {path}: {err}") from err
            raise
        return cls(disk, state, executor, name=str(path), max_points=max_points,
                   flush_interval_s=flush_interval_s, buffer_max=buffer_max)  # fmt: skip

    def offer(self, points: Iterable[TelemetryPoint]) -> None:
        """Keep the points for the next flush; never blocks. Past ``buffer_max``: dropped."""
        new = list(points)
        room = 0 if self._closed else self._buffer_max - len(self._buffer) - len(self._retry)
        kept = new[: max(room, 0)]
        self._buffer.extend(kept)
        self._dropped_buffer += len(new) - len(kept)
        if len(self._buffer) * 2 >= self._buffer_max and not self._failing.active:
            self._wake.set()

    async def run(self) -> None:
        """Flush every ``flush_interval_s`` (sooner when half full) until closed or cancelled."""
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write what is in memory now, in one transaction; see the module for failures."""
        async with self._flushing:
            if self._closed:
                return
            chunk, self._retry, self._buffer = self._retry + self._buffer, [], []
            if chunk:
                self._inflight.append(chunk)
                done = self._submit(self._disk.write, chunk)
                done.add_done_callback(lambda f: self._written(chunk, f))
                await asyncio.wait([done])  # a cancelled flush still lands via the callback
            self._overflow.set(self._dropped_buffer > self._dropped_seen)
            self._dropped_seen = self._dropped_buffer

    def _written(self, chunk: Sequence[TelemetryPoint], done: asyncio.Future[FileState]) -> None:
        self._inflight = [part for part in self._inflight if part is not chunk]
        err = done.exception()
        self._failing.set(err is not None, err)
        if err is None:
            self._set_disk_state(done.result())
            return
        self._write_errors += 1
        kept = self._buffer_max - len(self._retry)
        self._retry.extend(chunk[:kept])
        self._dropped_buffer += max(0, len(chunk) - kept)
        log.debug("spool %s: flush failed", self._name, exc_info=err)

    def _set_disk_state(self, state: FileState) -> None:
        dropping = state.dropped != self._disk_state.dropped
        self._full.set(dropping or (self._full.active and state.on_disk >= self._max))
        self._disk_state = state

    async def batch(self, limit: int) -> list[tuple[int, TelemetryPoint]]:
        """The oldest ``limit`` points on disk not yet handed out, with their ids, oldest first."""
        try:
            points = await self._submit(self._disk.read, self._after_id, limit)
        except sqlite3.Error as err:
            log.warning("spool %s: cannot read a batch (%s)", self._name, err)
            return []
        if points:
            self._leased.update(row_id for row_id, _ in points)
            self._after_id = points[-1][0]
        return points

    async def ack(self, ids: Iterable[int]) -> int:
        """Delete points the server accepted; returns how many were still there to delete."""
        acked = list(ids)
        self._leased.difference_update(acked)
        if not self._leased:
            self._after_id = 0
        try:
            deleted, state = await self._submit(self._disk.delete, acked)
        except sqlite3.Error as err:
            log.warning("spool %s: cannot ack %d points (%s)", self._name, len(acked), err)
            return 0
        self._set_disk_state(state)
        return deleted

    def release(self) -> None:
        """Hand out every unacked point again (a drainer restarting or giving up its batches)."""
        self._leased.clear()
        self._after_id = 0

    def stats(self) -> SpoolStats:
        """Cheap: figures cached from the last disk call plus what is in memory."""
        disk = self._disk_state
        memory = [self._retry, *self._inflight, self._buffer]
        heads = [part[0].time_ns for part in memory if part]
        if disk.oldest_time_ns is not None:
            heads.append(disk.oldest_time_ns)
        return SpoolStats(
            on_disk=disk.on_disk, buffered=sum(map(len, memory)),
            oldest_time_ns=min(heads, default=None), dropped_buffer=self._dropped_buffer,
            dropped_low=disk.dropped[0], dropped_high=disk.dropped[1],
            write_errors=self._write_errors,
        )  # fmt: skip

    async def close(self) -> None:
        """Flush what is in memory, then close the file. Idempotent."""
        if self._closed:
            return
        await self.flush()
        self._closed = True
        lost = len(self._retry) + len(self._buffer)
        if lost:
            log.error("spool %s: %d points could not be written before closing", self._name, lost)
            self._dropped_buffer += lost
            self._retry, self._buffer = [], []
        self._wake.set()  # run() ends
        try:
            await asyncio.wrap_future(self._executor.submit(self._disk.close))
        finally:
            self._executor.shutdown(wait=False)

    def _submit(self, call: Callable[..., T], *args: object) -> asyncio.Future[T]:
        if self._closed:
            raise SpoolError(f"spool {self._name} is closed")
        return asyncio.wrap_future(self._executor.submit(call, *args))
