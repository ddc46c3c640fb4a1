"""One active burnout run: program state, run state, interlock memory, and their persistence.

The runner owns one :class:`ActiveRun` at a time. Everything needed to resume after a crash
(the schedule as it was loaded, the program state, the run state) is written to the run
store; the schedule is stored whole so a resumed run follows the program it started with even
if the profile file changed since.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from drivers.capabilities import ControllerReading, ProgramStatus
from drivers.clock import Clock
from labctl.config.limits import InterlockLimits
from labctl.kiln.interlocks import InterlockState, Observation, evaluate
from labctl.kiln.modes import ExecutionMode
from labctl.kiln.program import engine, programmer
from labctl.kiln.program.codec import program_state_from_json, program_state_to_json
from labctl.kiln.resume import Interrupted, decide_resume
from labctl.kiln.settings import RunSettings
from labctl.profiles.loader import schedule_from_json
from labctl.profiles.segments import Schedule
from labctl.runs.state import Outcome, Phase, RunState
from labctl.runs.store import RunStore, StoredRun

log = logging.getLogger(__name__)

MAX_STEP_TICKS = 5  # a late tick advances the program by at most this many periods


@dataclass(slots=True, kw_only=True)
class ActiveRun:
    """A run in progress (or just ended, until the runner records it)."""

    id: int
    profile: str
    schedule: Schedule
    limits: InterlockLimits
    program: engine.ProgramState
    state: RunState
    interlocks: InterlockState
    setpoint_c: float
    last_step_at: float
    last_saved_at: float
    tick_s: float
    persist_every_s: float
    events: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.state.phase is Phase.ENDED

    @property
    def outcome(self) -> Outcome | None:
        return self.state.outcome

    @property
    def phase(self) -> str:
        return str(self.state.phase)

    @property
    def segment(self) -> str:
        label = engine.segment_label(self.schedule, self.program.segment)
        if self.program.phase is engine.Phase.COOLING_TO_LOAD:
            load = engine.loading_temp_c(self.schedule)
            return f"cooling to the loading temperature {load:.0f} °C, heat off; then {label}"
        return label

    @property
    def eta_s(self) -> float | None:
        return engine.remaining_s(self.schedule, self.program)

    @property
    def holdback_s(self) -> float:
        return self.program.holdback_s

    # operator and safety transitions
    def hold(self, by: str) -> None:
        self.state = self.state.hold(by)

    def resume(self, by: str) -> None:
        self.state = self.state.resume(by)

    def abort(self, by: str, reason: str) -> None:
        self.state = self.state.abort(by, reason)

    def complete(self, by: str) -> None:
        self.state = self.state.complete(by)

    def fault(self, reason: str) -> None:
        self.state = self.state.fault(reason)

    def interrupt(self, reason: str) -> None:
        self.state = self.state.interrupt(reason)

    def check_interlocks(self, reading: ControllerReading | None, now: float) -> str | None:
        """Evaluate the interlocks on this tick's reading; the reason of a trip, or None."""
        obs = None
        if reading is not None:
            obs = Observation(
                at=reading.at,
                pv_c=reading.pv_c,
                output_pct=reading.output_pct,
                setpoint_c=self.setpoint_c,
                sensor_break=reading.sensor_break,
                pv_over_range=reading.pv_over_range,
            )
        self.interlocks, trip = evaluate(self.limits, self.interlocks, obs, now)
        return None if trip is None else trip.reason

    async def step(
        self, reading: ControllerReading | None, mode: ExecutionMode, clock: Clock
    ) -> str | None:
        """Advance the program one tick and apply it; returns a fault reason or None."""
        now = clock.now()
        dt = min(now - self.last_step_at, MAX_STEP_TICKS * self.tick_s)
        self.last_step_at = now
        pv = reading.pv_c if reading is not None else None
        if self.state.phase in (Phase.RUNNING, Phase.FINAL_HOLD) and pv is not None:
            advance = self._advance(reading, mode, pv, dt)
            if advance.fault is not None:
                return advance.fault
            self.program, self.setpoint_c = advance.state, advance.setpoint_c
            for text in advance.events:
                log.info("%s", text)
                self.events.append(text)
            if self.state.phase is Phase.RUNNING and advance.state.phase is engine.Phase.FINAL_HOLD:
                self.state = self.state.reach_final_hold()
        return await mode.apply(self.setpoint_c, reading)

    def _advance(
        self, reading: ControllerReading | None, mode: ExecutionMode, pv: float, dt: float
    ) -> engine.Advance:
        if mode.name == "programmer" and reading is not None and reading.working_sp_c is not None:
            return programmer.follow(
                self.schedule,
                self.program,
                device_segment=reading.program_segment,
                device_sp_c=reading.working_sp_c,
                device_ended=reading.program is ProgramStatus.END,
                pv_c=pv,
                dt_s=dt,
            )
        return engine.advance(self.schedule, self.program, pv, dt)

    # persistence
    def _state_json(self) -> str:
        return json.dumps(
            {
                "program": program_state_to_json(self.program),
                "setpoint_c": self.setpoint_c,
                "phase": str(self.state.phase),
                "held_by": self.state.held_by,
            }
        )

    async def persist(self, store: RunStore, clock: Clock, *, event: str | None = None) -> None:
        wall = clock.wall()
        for text in self.events:
            await store.add_event(self.id, at_wall=wall, kind="program", text=text)
        self.events.clear()
        if event is not None:
            await store.add_event(self.id, at_wall=wall, kind="run", text=event)
        await store.save_state(self.id, state_json=self._state_json(), at_wall=wall)
        self.last_saved_at = clock.now()

    async def persist_if_due(self, store: RunStore, clock: Clock) -> None:
        if self.events or clock.now() - self.last_saved_at >= self.persist_every_s:
            await self.persist(store, clock)

    async def record_outcome(self, store: RunStore, clock: Clock) -> None:
        outcome = self.outcome
        if outcome is not None:
            await store.end_run(
                self.id,
                outcome_kind=outcome.kind,
                reason=outcome.reason,
                by=outcome.by,
                at_wall=clock.wall(),
            )


async def new_run(
    *,
    settings: RunSettings,
    schedule: Schedule,
    profile_json: str,
    by: str,
    pv_c: float,
    cool_first: bool,
    store: RunStore,
    clock: Clock,
) -> ActiveRun:
    """Create and persist a new run at its first segment (engine.TooHot on a hot kiln)."""
    program = engine.begin(schedule, pv_c, cool_first=cool_first)
    now = clock.now()
    run = ActiveRun(
        id=0,
        profile=schedule.name,
        schedule=schedule,
        limits=settings.limits_for(schedule.max_temp_c),
        program=program,
        state=RunState().start(),
        interlocks=InterlockState.start(now),
        setpoint_c=program.setpoint_c,
        last_step_at=now,
        last_saved_at=now,
        tick_s=settings.tick_s,
        persist_every_s=settings.persist_every_s,
    )
    run.id = await store.create_run(
        kiln=settings.kiln,
        profile_name=schedule.name,
        profile_json=profile_json,
        mode=settings.mode,
        started_by=by,
        state_json=run._state_json(),
        at_wall=clock.wall(),
    )
    return run


def resume_run(
    stored: StoredRun, settings: RunSettings, reading: ControllerReading | None, clock: Clock
) -> ActiveRun:
    """Rebuild a persisted run; it comes back ended as interrupted when outside resume limits."""
    schedule = schedule_from_json(stored.profile_json)
    saved = json.loads(stored.state_json)
    program = program_state_from_json(saved["program"])
    state = RunState().start()
    if saved["phase"] == Phase.HELD:
        state = state.hold(saved["held_by"] or "unknown")
    elif saved["phase"] == Phase.FINAL_HOLD:
        state = state.reach_final_hold()
    now = clock.now()
    run = ActiveRun(
        id=stored.id,
        profile=stored.profile_name,
        schedule=schedule,
        limits=settings.limits_for(schedule.max_temp_c),
        program=program,
        state=state,
        interlocks=InterlockState.start(now),
        setpoint_c=float(saved["setpoint_c"]),
        last_step_at=now,
        last_saved_at=now,
        tick_s=settings.tick_s,
        persist_every_s=settings.persist_every_s,
    )
    decision = decide_resume(
        saved_at_wall=stored.state_saved_wall,
        now_wall=clock.wall(),
        saved_setpoint_c=run.setpoint_c,
        pv_c=reading.pv_c if reading else None,
        max_gap_s=settings.resume_max_gap_s,
        max_drop_c=settings.resume_max_drop_c,
    )
    if isinstance(decision, Interrupted):
        run.interrupt(decision.reason)
    return run
