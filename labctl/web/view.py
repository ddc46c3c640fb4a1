"""The lab as the touchscreen sees it: one JSON state, rebuilt after every change.

:meth:`LabView.state` is cheap and synchronous (it reads the runners' snapshots); the parts
that need the run store (run history, the job a burnout was started for) are refreshed by
:meth:`LabView.refresh` only when a run starts or ends.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping

from labctl.alarms import AlarmBoard
from labctl.cast.runner import CasterRunner
from labctl.cast.sequence import CastState, table
from labctl.commands.status import history_row
from labctl.config.limits import CasterKind
from labctl.kiln.commands import JOB_EVENT
from labctl.kiln.program import engine
from labctl.kiln.runner import KilnRunner
from labctl.kiln.snapshot import KilnSnapshot
from labctl.profiles.segments import describe
from labctl.runs.store import RunStore
from labctl.units import Unit, localize_fields
from labctl.web.actions import caster_actions, kiln_action_table, outcome_kind
from labctl.web.view_models import NO_JOB, CasterView, HistoryRow, Json, KilnJob, KilnView, LabState

HISTORY_ROWS = 10
SERIES_SPACING_S = 30.0  # clock seconds between chart points kept
SERIES_POINTS = 3000  # 25 h at that spacing
KILN_ACTIONS = kiln_action_table()

WAITING_TEXT = {
    "flask_placed": "Place the hot flask in the chamber and close the lid, then confirm",
    "balance_confirmed": "Load the flask, check the arm's balance and close the lid, then confirm",
}

Point = tuple[float, float | None, float | None, float | None]  # wall, program SP, PV, core


class LabView:
    """Builds the touchscreen's state; keeps each kiln's recent curve for the chart."""

    def __init__(
        self,
        lab: str,
        kilns: Mapping[str, KilnRunner],
        casters: Mapping[str, CasterRunner],
        board: AlarmBoard,
        store: RunStore,
        unit: Unit = "C",
    ) -> None:
        """``unit``: the lab's temperature unit, which every text of the state is written in."""
        self._lab, self._kilns, self._casters = lab, kilns, casters
        self.unit: Unit = unit
        self._board, self._store = board, store
        self._series: dict[str, deque[Point]] = {k: deque(maxlen=SERIES_POINTS) for k in kilns}
        self._jobs: dict[int, KilnJob] = {}
        self._history: list[HistoryRow] = []
        self._runs_seen: object = None

    def add_point(self, snap: KilnSnapshot) -> None:
        """Keep ``snap`` on the kiln's chart when it is far enough from the last point."""
        series = self._series.setdefault(snap.kiln, deque(maxlen=SERIES_POINTS))
        if not series or snap.wall - series[-1][0] >= SERIES_SPACING_S:
            series.append((snap.wall, snap.setpoint_c, snap.pv_c, snap.flask_core_c))

    def series(self, kiln: str) -> dict[str, list[float | None]] | None:
        if kiln not in self._kilns:
            return None
        points = list(self._series.get(kiln, ()))
        return {
            "t": [p[0] for p in points],
            "sp": [p[1] for p in points],
            "pv": [p[2] for p in points],
            "core": [p[3] for p in points],  # all None without a flask thermocouple
        }

    def _runs_key(self) -> object:
        kilns = tuple((k.snapshot.run_id, k.snapshot.outcome) for k in self._kilns.values())
        snaps = [c.snapshot for c in self._casters.values()]
        casts = tuple((s.cast_id, s.outcome) for s in snaps)
        return kilns, casts

    async def refresh(self) -> None:
        """Re-read history and jobs if a run or cast started or ended since the last call."""
        key = self._runs_key()
        if key == self._runs_seen:
            return
        self._runs_seen = key
        self._history = [
            HistoryRow(
                json.loads(json.dumps(history_row(r), default=str)),
                r.outcome.kind if r.outcome else "running",
            )
            for r in await self._store.history(limit=HISTORY_ROWS)
        ]
        for kiln in self._kilns.values():
            run_id = kiln.snapshot.run_id
            if run_id is not None and run_id not in self._jobs:
                events = await self._store.events(run_id)
                jobs = [KilnJob.from_event(e.text) for e in events if e.kind == JOB_EVENT]
                self._jobs[run_id] = jobs[-1] if jobs else NO_JOB

    def state(self) -> Json:
        """The lab as JSON: texts (segments, outcomes, alarms) in the lab's unit, numbers in °C."""
        return localize_fields(self.model().to_json(), self.unit)

    def model(self) -> LabState:
        """The lab, typed (what :meth:`state` serialises)."""
        return LabState(
            lab=self._lab,
            kilns={name: self._kiln(runner) for name, runner in self._kilns.items()},
            casters={name: self._caster(c) for name, c in self._casters.items()},
            alarms=self._board.as_json(),
            history=self._history,
            kiln_actions=KILN_ACTIONS,
        )

    def _kiln(self, runner: KilnRunner) -> KilnView:
        snap, schedule = runner.snapshot, runner.schedule
        job = self._jobs.get(snap.run_id, NO_JOB) if snap.run_id is not None else NO_JOB
        return KilnView(
            kiln=snap.kiln,
            wall=snap.wall,
            state=snap.state,
            link=snap.link,
            run_id=snap.run_id,
            profile=snap.profile,
            segment=snap.segment,
            segment_index=snap.segment_index,
            setpoint_c=snap.setpoint_c,
            pv_c=snap.pv_c,
            flask_core_c=snap.flask_core_c,
            output_pct=snap.output_pct,
            eta_s=snap.eta_s,
            holdback_s=snap.holdback_s,
            outcome=snap.outcome,
            safe=snap.safe,
            commissioned=snap.commissioned,
            uncommissioned=snap.uncommissioned,
            outcome_kind=outcome_kind(snap.outcome),
            holding_back=snap.holdback_s > 0,
            flask_id=job.flask_id,
            alloy=job.alloy,
            piece_class=job.piece_class,
            segments=tuple(describe(s) for s in schedule.segments) if schedule else (),
            casting_c=schedule.casting_temp_c if schedule else None,
            progress_pct=_progress(runner),
        )

    def _caster(self, caster: CasterRunner) -> CasterView:
        snap = caster.snapshot
        sequence = table(CasterKind(snap.kind))
        waiting = snap.waiting_for
        return CasterView(
            status=snap.as_dict(),
            steps=(*(str(s) for s in sequence), CastState.COMPLETE.value),
            step_confirmations={
                str(s): spec.confirmation for s, spec in sequence.items() if spec.confirmation
            },
            waiting_text=WAITING_TEXT.get(waiting) if waiting else None,
            outcome_kind=outcome_kind(snap.outcome),
            actions=caster_actions(snap.state, waiting, snap.drive_fault),
        )


def _progress(runner: KilnRunner) -> float | None:
    """Share of the nominal schedule done, from the time left (100 once at the casting hold)."""
    snap, schedule = runner.snapshot, runner.schedule
    if schedule is None or snap.eta_s is None:
        return None
    total = engine.remaining_s(schedule, engine.begin(schedule, 20.0)) or 0.0
    if total <= 0:
        return 100.0
    return round(max(0.0, min(100.0, 100.0 * (1.0 - snap.eta_s / total))), 1)
