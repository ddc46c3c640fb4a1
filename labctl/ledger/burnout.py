"""The burnout behind a cast, read from what was stored.

Every kiln run's samples are kept in the run store and read back for the cast record of the
flask that run burnt out.

:class:`KilnHistory` listens to every kiln snapshot of a run. It keeps one sample per
``sample_every_s`` (the first reading of that stretch, with the highest PV in it, so no peak is
lost between samples) and writes them to the run store at the kilns' persist cadence. A cast's
burnout is the run whose ``job`` event names its flask (``kiln_commands.JOB_EVENT``); its peak
and curve are read from the stored samples, whatever restarts happened in between. A stretch
with no samples (the daemon was down, or its last unstored samples were lost with it) is a gap,
listed as such, never bridged.

Without a run store (tests that wire no store) the samples stay in memory, by run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from labctl.kiln.snapshot import KilnSnapshot
from labctl.runs.store import MAX_SAMPLES_PER_RUN, RunStore, RunStoreError, Sample

log = logging.getLogger(__name__)

JOB_EVENT = "job"  # labctl.kiln.commands.JOB_EVENT: the flask a burnout was started for
SAMPLE_EVERY_S = 10.0
PERSIST_EVERY_S = 60.0  # the kilns' run persist cadence (RunSettings.persist_every_s)
GAP_AFTER_S = 60.0  # no sample for longer than this is a gap
MAX_PENDING = 5_000  # samples waiting for the store (beyond: the oldest are dropped, counted)
MEMORY_RUNS = 8  # without a store: runs kept per kiln


@dataclass(frozen=True, slots=True)
class Burnout:
    """The stored samples of the burnout run of a flask, and the gaps in them."""

    run_id: int
    samples: list[Sample]
    gaps: list[tuple[float, float]]

    @property
    def peak_c(self) -> float | None:
        """The highest PV stored for the run (None: no sample has a PV)."""
        peaks = [p for s in self.samples for p in (s[1], s[3]) if p is not None]
        return max(peaks, default=None)


def find_gaps(
    samples: Sequence[Sample], start: float, end: float, gap_after_s: float = GAP_AFTER_S
) -> list[tuple[float, float]]:
    """Every stretch of ``[start, end]`` longer than ``gap_after_s`` without a sample."""
    times = [start, *(s[0] for s in samples if start <= s[0] <= end), end]
    return [(a, b) for a, b in pairwise(times) if b - a > gap_after_s]


@dataclass(slots=True)
class _Open:
    run_id: int
    sample: list[float | None]  # at, pv, sp, pv_max


class KilnHistory:
    """Samples of every kiln run, stored with the run (``store``) or kept in memory."""

    def __init__(
        self,
        store: RunStore | None = None,
        *,
        sample_every_s: float = SAMPLE_EVERY_S,
        persist_every_s: float = PERSIST_EVERY_S,
        gap_after_s: float = GAP_AFTER_S,
    ) -> None:
        self.store = store
        self.sample_every_s, self.persist_every_s = sample_every_s, persist_every_s
        self.gap_after_s = gap_after_s
        self.dropped = 0  # samples lost: the store refused them, or too many waited
        self._open: dict[str, _Open] = {}
        self._pending: deque[tuple[int, Sample]] = deque()
        self._memory: dict[str, dict[int, deque[Sample]]] = {}
        self._flushed_at: float | None = None
        self._flushing: asyncio.Task[None] | None = None

    def add(self, snap: KilnSnapshot) -> None:
        """One kiln snapshot (a listener: never blocks, never raises for a store problem)."""
        current = self._open.get(snap.kiln)
        if current is not None and (
            current.run_id != snap.run_id
            or snap.wall - (current.sample[0] or 0.0) >= self.sample_every_s
        ):
            self._close(snap.kiln)
            current = None
        if snap.run_id is None:
            return
        if current is None:
            self._open[snap.kiln] = _Open(
                snap.run_id, [snap.wall, snap.pv_c, snap.setpoint_c, None]
            )
            current = self._open[snap.kiln]
        peak = current.sample[3]
        if snap.pv_c is not None and (peak is None or snap.pv_c > peak):
            current.sample[3] = snap.pv_c
        if self._flushed_at is None:
            self._flushed_at = snap.wall
        due = snap.wall - self._flushed_at >= self.persist_every_s
        if due and self.store is not None and (self._flushing is None or self._flushing.done()):
            self._flushed_at = snap.wall
            self._flushing = asyncio.get_running_loop().create_task(self.flush())

    def _close(self, kiln: str) -> None:
        done = self._open.pop(kiln, None)
        if done is None:
            return
        at, pv, sp, peak = done.sample
        sample: Sample = (at or 0.0, pv, sp, peak)
        if self.store is not None:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append((done.run_id, sample))
            return
        runs = self._memory.setdefault(kiln, {})
        runs.setdefault(done.run_id, deque(maxlen=MAX_SAMPLES_PER_RUN)).append(sample)
        for old in sorted(runs)[:-MEMORY_RUNS]:
            del runs[old]

    async def flush(self, kiln: str | None = None) -> None:
        """Store the samples waiting (first closing ``kiln``'s open sample, if given)."""
        if kiln is not None:
            self._close(kiln)
        if self._flushing is not None and self._flushing is not asyncio.current_task():
            await asyncio.shield(self._flushing)
        if self.store is None or not self._pending:
            return
        by_run: dict[int, list[Sample]] = {}
        while self._pending:
            run_id, sample = self._pending.popleft()
            by_run.setdefault(run_id, []).append(sample)
        for run_id, samples in by_run.items():
            try:
                self.dropped += len(samples) - await self.store.add_samples(run_id, samples)
            except RunStoreError as err:
                self.dropped += len(samples)
                log.warning("kiln run %d: %d samples not stored: %s", run_id, len(samples), err)

    async def burnout(self, kiln: str, flask_id: str | None, until: float | None) -> Burnout | None:
        """The burnout of ``flask_id`` in ``kiln`` up to ``until`` (wall s), None if unknown."""
        await self.flush(kiln)
        if self.store is None:
            runs = self._memory.get(kiln, {})
            if not runs:
                return None
            run_id = max(runs)
            samples = list(runs[run_id])
            start, end = samples[0][0], samples[-1][0] if until is None else until
        else:
            if flask_id is None:
                return None
            found = await self.store.runs_by_json("$.flask_id", flask_id, JOB_EVENT)
            mine = [
                r for r in found if r.kiln == kiln and (until is None or r.started_wall <= until)
            ]
            if not mine:
                return None
            run = mine[0]
            run_id, samples = run.id, await self.store.samples(run.id)
            ends = [t for t in (until, run.ended_wall) if t is not None]
            last = samples[-1][0] if samples else run.started_wall
            start, end = run.started_wall, min(ends) if ends else last
        kept = [s for s in samples if s[0] <= end]
        return Burnout(run_id, kept, find_gaps(kept, start, end, self.gap_after_s))
