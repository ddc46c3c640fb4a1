"""The control loop of one caster: the only code that drives its devices.

Every tick: read every device, evaluate the interlocks, then (only if nothing tripped) let the
cast sequence advance and apply what its state asks for. Commands (start, confirm, abort) run
between ticks. Any trip, failed write or timeout runs :meth:`CasterRunner._shutdown`: every
device to its safe state first, then the cast ends as ``faulted: <reason>``. A cast is never
resumed after a daemon restart (molten metal and an evacuated flask do not wait): a cast
found active at start-up ends as *interrupted* with every device driven safe, and is recorded
in the ledger (flask, melt, confirmations) from what its run stored at start and each step.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable

from drivers.capabilities import CasterOutputs
from drivers.clock import Clock
from labctl.cast.device_status import start_problems
from labctl.cast.devices import ApplyFailed, CasterDevices
from labctl.cast.interlocks import InterlockMemory, check
from labctl.cast.observation import CasterObservation
from labctl.cast.params import CasterKind, CasterLimits, CastParams
from labctl.cast.sequence import (
    Actuation,
    CastProgress,
    CastState,
    actuation,
    advance,
    waiting_for,
)
from labctl.cast.summary import (
    CastOrigin,
    CastSummary,
    Sample,
    interrupted_summary,
    params_json,
    state_json,
)
from labctl.commands.registry import CommandRefused
from labctl.errors import LabctlError
from labctl.runs.loop import MachineLoop
from labctl.runs.state import Outcome, OutcomeKind
from labctl.runs.store import RunStore, RunStoreError, StoredRun

log = logging.getLogger(__name__)


@dataclasses.dataclass
class _Cast:
    id: int
    params: CastParams
    progress: CastProgress
    origin: CastOrigin
    memory: InterlockMemory = dataclasses.field(default_factory=InterlockMemory)
    confirmations: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)
    series: list[Sample] = dataclasses.field(default_factory=list)
    ending: bool = False
    started_wall: float | None = None

    def sample(self, obs: CasterObservation, wall: float) -> None:
        self.series.append((wall, obs.crucible_c, obs.crucible_tc_c, obs.chamber_mbar, obs.rpm))


Recorder = Callable[[CastSummary], Awaitable[None]]


class CasterRunner(MachineLoop):
    """Owns one caster's devices, its active cast and its control loop."""

    def __init__(
        self,
        *,
        name: str,
        limits: CasterLimits,
        devices: CasterDevices,
        clock: Clock,
        store: RunStore,
        tick_s: float,
        publish: Callable[[dict[str, object], float], None] | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(name, clock, tick_s, (RunStoreError, LabctlError, ApplyFailed))
        self.limits, self._devices = limits, devices
        self._store = store
        self._publish = publish
        self.recorder = recorder
        self._cast: _Cast | None = None
        self._obs = CasterObservation(at=clock.now())
        self._unsafe: list[str] = []
        self.last_outcome: str | None = None
        self.last_cast_id: int | None = None
        self._unstored: tuple[int, Outcome] | None = None  # an outcome the store refused
        self._recovering: StoredRun | None = None  # the cast a previous daemon left, not yet ended

    async def start(self, params: CastParams, by: str, origin: CastOrigin) -> dict[str, object]:
        """Begin a cast; refused unless idle, safe, every device answering, lid shut."""
        if self._cast is not None:
            raise CommandRefused(f"{self.name} is already casting (cast {self._cast.id})")
        if not self._recovered:
            raise CommandRefused(f"{self.name} is starting up: waiting for its devices")
        if self._unstored is not None:
            raise CommandRefused(
                f"{self.name}: the outcome of cast {self._unstored[0]} is not stored yet (the run "
                "store refuses writes: is the disk full?)"
            )
        now, obs = self._clock.now(), self._obs
        problems = [
            f"no reading from {n}" for n in self._devices.fresh(now, self.limits.stale_after_s)
        ]
        if self._unsafe:
            problems.append(f"safe state not confirmed on {', '.join(self._unsafe)}")
        if obs.io is not None and not obs.io.estop_ok:
            problems.append("the e-stop is pressed")
        if obs.io is not None and not obs.io.lid_closed:
            problems.append("the lid/door is open")
        # what each device's status means before a cast (the table in device_status.py); a
        # silent device is already named above
        problems += [p for p in start_problems(obs) if not p.startswith("no reading from")]
        if problems:
            raise CommandRefused(f"{self.name} cannot start: {'; '.join(problems)}")
        state = state_json(CastState.PREFLIGHT.value, origin, [])
        cast_id = await self._store.create_run(
            kiln=self.name,
            profile_name=params.alloy,
            profile_json=params_json(params),
            mode=params.kind.value,
            started_by=by,
            state_json=state,
            at_wall=self._clock.wall(),
        )
        progress = CastProgress(state=CastState.PREFLIGHT, entered_at=now)
        self._cast = _Cast(cast_id, params, progress, origin, started_wall=self._clock.wall())
        log.info(
            "%s: cast %d started by %s: %s (%s)",
            self.name,
            cast_id,
            by,
            params.alloy,
            params.piece_class,
        )
        return {"cast_id": cast_id, "alloy": params.alloy, "state": CastState.PREFLIGHT.value}

    async def confirm(self, step: str, by: str) -> dict[str, object]:
        """A person confirms the step the cast waits for (recorded with who)."""
        cast = self._cast
        if cast is None:
            raise CommandRefused(f"{self.name} is not casting; nothing to confirm")
        wanted = waiting_for(cast.progress, cast.params)
        if wanted is None or wanted != step:
            raise CommandRefused(
                f"{self.name} is in {cast.progress.state} and waits for "
                f"{wanted or 'no confirmation'}, not {step}"
            )
        if not self._obs.flask_present:
            raise CommandRefused(f"{self.name}: no flask detected in the machine")
        if not self._obs.lid_closed:
            raise CommandRefused(f"{self.name}: close the lid/door first")
        cast.progress = dataclasses.replace(cast.progress, confirmed_by=by)
        cast.confirmations.append((step, by, self._clock.wall()))
        await self._event(cast, "confirmation", f"{step} confirmed by {by}")
        return {"cast_id": cast.id, "confirmed": step, "by": by}

    async def reset_drive_fault(self, by: str) -> dict[str, object]:
        """Clear the drive's latched fault code (after a comms loss, e.g. a daemon restart).

        Only between casts and with the arm at standstill; the drive stays stopped.
        """
        obs, drive = self._obs, self._devices.drive
        if drive is None:
            raise CommandRefused(f"{self.name} has no drive")
        if self._cast is not None:
            raise CommandRefused(f"{self.name} is casting; a drive fault is cleared between casts")
        if not obs.drive_fault:
            raise CommandRefused(f"{self.name}: the drive reports no fault")
        if not obs.at_standstill:
            raise CommandRefused(f"{self.name}: the arm is not at standstill")
        await self._devices.reset_drive_fault()
        self._obs = dataclasses.replace(obs, drive_fault=0, drive_status="ok")  # a 2nd finds none
        log.warning("%s: drive fault %d cleared by %s", self.name, obs.drive_fault, by)
        return {"caster": self.name, "cleared_fault": obs.drive_fault, "by": by}

    async def abort(self, by: str, reason: str) -> dict[str, object]:
        cast = self._cast
        if cast is None:
            raise CommandRefused(f"{self.name} is not casting; nothing to abort")
        await self._end(cast, OutcomeKind.ABORTED, reason or "aborted", by)
        return {"cast_id": cast.id, "outcome": self.last_outcome}

    # ---------------------------------------------------------------- the loop
    def busy_reason(self) -> str | None:
        return None if self._recovered else f"{self.name} is starting up: waiting for its devices"

    def _after_tick(self) -> None:
        if self._publish is not None:
            self._publish(self.status(), self._clock.wall())

    async def _fail(self, reason: str) -> None:
        """After an internal error: the cast ends faulted with ``reason``, every device safe."""
        cast = self._cast
        if cast is None:
            await self._safe()
            return
        cast.ending = False  # an end cut short by the error is carried out again
        await self._shutdown(cast, reason)

    async def _safe_at_stop(self) -> None:
        """Daemon shutdown: every device safe (a cast is never resumed after a restart)."""
        await self._safe()

    async def _tick(self) -> None:
        self._obs = obs = await self._devices.observe(self._clock.now(), self.limits.stale_after_s)
        cast = self._cast
        if cast is None:
            await (self._safe() if self._unsafe else self._idle_lid(obs))
            return
        cast.sample(obs, self._clock.wall())
        applied = self._devices.applied
        cast.memory, trip = check(cast.progress.state, obs, cast.params, applied, cast.memory)
        if trip is None:
            tick = advance(cast.progress, obs, cast.params)
            trip, cast.progress = tick.fault, tick.progress
            if tick.event is not None:
                await self._event(cast, "state", tick.event)
        if trip is not None:
            await self._shutdown(cast, trip)
            return
        if cast.progress.state is CastState.COMPLETE:
            await self._end(cast, OutcomeKind.COMPLETED, "", None)
            return
        try:
            await self._devices.apply(actuation(cast.progress, cast.params))
        except ApplyFailed as err:
            await self._shutdown(cast, f"could not drive {err}")

    async def _idle_lid(self, obs: CasterObservation) -> None:
        """Between casts a centrifugal lid is released exactly while the arm stands still."""
        if self.limits.kind is not CasterKind.CENTRIFUGAL:
            return
        release = obs.at_standstill
        if self._devices.applied.outputs.lid_release != release:
            try:
                await self._devices.apply(Actuation(outputs=CasterOutputs(lid_release=release)))
            except ApplyFailed as err:
                log.warning("%s: lid lock not set: %s", self.name, err)

    async def _store_late(self) -> None:
        """Retry storing an outcome the run store refused (e.g. while the disk was full)."""
        if self._unstored is None:
            return
        cast_id, outcome = self._unstored
        try:
            await self._store.end_run(
                cast_id,
                outcome_kind=outcome.kind,
                reason=outcome.reason,
                by=outcome.by,
                at_wall=self._clock.wall(),
            )
        except RunStoreError:
            return
        self._unstored = None
        log.warning("%s: cast %d outcome stored at last: %s", self.name, cast_id, outcome)

    async def _store_failed(self, err: RunStoreError) -> None:
        """The run store took no write: the cast (if any) ends faulted, every device safe."""
        cast = self._cast
        if cast is None or cast.ending:
            await self._safe()
            return
        await self._shutdown(cast, f"the run store cannot be written ({err})")

    async def _shutdown(self, cast: _Cast, reason: str) -> None:
        log.error("%s: FAULT: %s; driving every device to its safe state", self.name, reason)
        await self._end(cast, OutcomeKind.FAULTED, reason, None)

    async def _end(self, cast: _Cast, kind: OutcomeKind, reason: str, by: str | None) -> None:
        """Devices safe first, then the outcome stored, then the ledger record. Idempotent.

        The caster reads idle only once all of that is done.
        """
        if self._cast is not cast or cast.ending:
            return
        cast.ending = True
        await self._safe()
        try:
            outcome = await self._store.end_run(
                cast.id, outcome_kind=kind, reason=reason, by=by, at_wall=self._clock.wall()
            )
        except RunStoreError as err:  # the outcome is still told and signed, if the ledger can
            outcome = Outcome(kind, reason, by)
            self._unstored = (cast.id, outcome)  # stored by a later tick, once writes go through
            log.critical("%s: cast %d %s; the run store could not record it: %s",
                         self.name, cast.id, outcome, err)  # fmt: skip
        log.info("%s: cast %d ended: %s", self.name, cast.id, outcome)
        if self.recorder is not None:
            summary = CastSummary(
                cast.id, self.name, cast.params, cast.origin, outcome, cast.confirmations,
                cast.series, started_wall=cast.started_wall,
            )  # fmt: skip
            await self.recorder(summary)
        self._cast = None
        self.last_outcome, self.last_cast_id = str(outcome), cast.id

    async def _safe(self) -> None:
        failed = await self._devices.safe_state()
        if failed and not self._unsafe:
            log.critical(
                "%s: safe state not confirmed on %s; retrying every tick",
                self.name,
                ", ".join(failed),
            )
        self._unsafe = failed

    async def _event(self, cast: _Cast, kind: str, text: str) -> None:
        log.info("%s: cast %d: %s", self.name, cast.id, text)
        state = state_json(cast.progress.state.value, cast.origin, cast.confirmations)
        await self._store.save_state(cast.id, state_json=state, at_wall=self._clock.wall())
        await self._store.add_event(cast.id, at_wall=self._clock.wall(), kind=kind, text=text)

    async def _recover(self) -> None:
        """Wait (up to the stale limit) for the devices to answer, then drive them safe.

        Meanwhile the caster reads "recovering" (with the cast the previous daemon left) and
        not safe: nothing has been confirmed since the restart.
        """
        stored = self._recovering = await self._store.active_run(self.name)
        deadline = self._clock.now() + self.limits.stale_after_s
        while self._clock.now() < deadline:
            self._obs = await self._devices.observe(self._clock.now(), self.limits.stale_after_s)
            if not self._obs.stale:
                break
            await self._drain_while_waiting()
        await self._safe()
        self._recovering = None
        if stored is not None:
            reason = "the daemon restarted during the cast; a cast is never resumed"
            log.warning("%s: cast %d %s", self.name, stored.id, reason)
            await self._store.end_run(
                stored.id,
                outcome_kind=OutcomeKind.INTERRUPTED,
                reason=reason,
                by=None,
                at_wall=self._clock.wall(),
            )
            self.last_outcome = f"interrupted: {reason}"
            await self._record_interrupted(stored, reason)

    async def _record_interrupted(self, stored: StoredRun, reason: str) -> None:
        """The ledger record of a cast cut short: flask, melt, who confirmed what.

        The gold may already be in the flask; the samples before the restart are not in the run
        store (they went to the telemetry), so the record's series is empty and says so.
        """
        if self.recorder is None:
            return
        note = "its samples before the restart are in the telemetry, not in this record"
        try:
            summary = interrupted_summary(
                stored, Outcome(OutcomeKind.INTERRUPTED, f"{reason}; {note}")
            )
        except (ValueError, TypeError, KeyError) as err:
            log.critical(
                "%s: cast %d is NOT in the ledger: its stored state: %r", self.name, stored.id, err
            )
            return
        await self.recorder(summary)

    # ------------------------------------------------------------ observation
    def _idle_state(self) -> str:
        return "idle" if self._recovered else "recovering"

    def status(self) -> dict[str, object]:
        cast, obs = self._cast, self._obs
        return {
            "caster": self.name,
            "kind": self.limits.kind.value,
            "state": cast.progress.state.value if cast else self._idle_state(),
            "cast_id": cast.id if cast else self._recovering.id if self._recovering else None,
            "alloy": cast.params.alloy if cast else None,
            "waiting_for": waiting_for(cast.progress, cast.params) if cast else None,
            "confirmations": [[step, by] for step, by, _ in cast.confirmations] if cast else [],
            "pour_c": cast.params.pour_temp_c if cast else None,
            "target_mbar": cast.params.target_mbar if cast else None,
            "spin_rpm": cast.params.spin_rpm if cast else None,
            "crucible_c": obs.crucible_c,
            "crucible_tc_c": obs.crucible_tc_c,
            "chamber_mbar": obs.chamber_mbar,
            "rpm": obs.rpm,
            "lid_closed": obs.lid_closed,
            "flask_present": obs.flask_present,
            "stale": list(obs.stale),
            "drive_fault": obs.drive_fault or None,
            "outcome": self.last_outcome,
            "last_cast_id": self.last_cast_id,
            "safe": self._recovered and not self._unsafe,
            "commissioned": not self.uncommissioned,
            "uncommissioned": list(self.uncommissioned),
        }
