"""Faults the lab's fakes inject that are not a device's own: a bug, a full disk.

:class:`InjectedBug` is the unexpected error a fake raises on demand (to prove the machine
loops' supervision); :class:`FlakyStore` is the real :class:`RunStore` whose writes can be
refused, as on a full disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labctl.runs.state import Outcome, OutcomeKind
from labctl.runs.store import RunStore, RunStoreError


class InjectedBug(RuntimeError):
    """The unexpected error a fake raises on demand (a bug in a driver, say)."""


class FlakyStore(RunStore):
    """The real run store; while ``refuse_writes`` is set every write fails (disk full)."""

    refuse_writes = False

    @classmethod
    async def open(cls, path: Path | str) -> FlakyStore:
        store = await super().open(path)
        assert isinstance(store, FlakyStore)
        return store

    def _refuse(self) -> None:
        if self.refuse_writes:
            raise RunStoreError(f"run store {self._path}: database or disk is full")

    async def create_run(self, **kwargs: Any) -> int:
        self._refuse()
        return await super().create_run(**kwargs)

    async def save_state(self, run_id: int, *, state_json: str, at_wall: float) -> None:
        self._refuse()
        await super().save_state(run_id, state_json=state_json, at_wall=at_wall)

    async def add_event(self, run_id: int, *, at_wall: float, kind: str, text: str) -> None:
        self._refuse()
        await super().add_event(run_id, at_wall=at_wall, kind=kind, text=text)

    async def end_run(
        self, run_id: int, *, outcome_kind: OutcomeKind, reason: str, by: str | None, at_wall: float
    ) -> Outcome:
        self._refuse()
        return await super().end_run(
            run_id, outcome_kind=outcome_kind, reason=reason, by=by, at_wall=at_wall
        )
