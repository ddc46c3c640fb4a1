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
from labctl.cast.devices import ApplyFailed, CasterDevices
from labctl.cast.interlocks import check
from labctl.cast.observation import CasterObservation
from labctl.cast.params import CastParams
from labctl.cast.recovery import end_interrupted
from labctl.cast.run import CastInProgress, refusals, snapshot
from labctl.cast.sequence import Actuation, CastProgress, CastState, actuation, advance
from labctl.cast.snapshot import CasterSnapshot
from labctl.cast.summary import (
    CastOrigin,
    CastSummary,
    params_json,
    state_json,
)
from labctl.commands.registry import CommandRefused
from labctl.config.limits import CasterKind, CasterLimits
from labctl.errors import LabctlError
from labctl.runs.loop import MachineLoop
from labctl.runs.safe_state import UnsafeDevices
from labctl.runs.state import Outcome, OutcomeKind
from labctl.runs.store import RunStore, RunStoreError, StoredRun
from labctl.runs.unstored import UnstoredOutcome, store_outcome

log = logging.getLogger(__name__)

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
        self._cast: CastInProgress | None = None
        self._obs = CasterObservation(at=clock.now())
        self._unsafe = UnsafeDevices(name)
        self._last_outcome: str | None = None
        self._last_cast_id: int | None = None
        self._unstored: UnstoredOutcome | None = None
        self._recovering: StoredRun | None = None  # the cast a previous daemon left, not yet ended

    async def start(self, params: CastParams, by: str, origin: CastOrigin) -> dict[str, object]:
        """Begin a cast; refused unless idle, safe, every device answering, lid shut."""
        if self._cast is not None:
            raise CommandRefused(f"{self.name} is already casting (cast {self._cast.id})")
        if not self._recovered:
            raise CommandRefused(f"{self.name} is starting up: waiting for its devices")
        if self._unstored is not None:
            raise CommandRefused(self._unstored.refusal())
        now = self._clock.now()
        silent = self._devices.fresh(now, self.limits.stale_after_s)
        problems = refusals(self._obs, silent, str(self._unsafe))
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
        self._cast = CastInProgress(
            cast_id, params, progress, origin, started_wall=self._clock.wall()
        )
        log.info("%s: cast %d started by %s: %s (%s)",
                 self.name, cast_id, by, params.alloy, params.piece_class)  # fmt: skip
        return {"cast_id": cast_id, "alloy": params.alloy, "state": CastState.PREFLIGHT.value}

    async def confirm(self, step: str, by: str) -> dict[str, object]:
        """A person confirms the step the cast waits for (recorded with who)."""
        cast = self._cast
        if cast is None:
            raise CommandRefused(f"{self.name} is not casting; nothing to confirm")
        cast.refuse_confirm(self.name, step, self._obs)
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
        return {"cast_id": cast.id, "outcome": self._last_outcome}

    # ---------------------------------------------------------------- the loop
    def busy_reason(self) -> str | None:
        return None if self._recovered else f"{self.name} is starting up: waiting for its devices"

    def _after_tick(self) -> None:
        if self._publish is not None:
            self._publish(self.snapshot.as_dict(), self._clock.wall())

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
        if cast is None:  # coils a watchdog or power cycle changed: safe again, not left so
            if (changed := self._devices.changed_behind(obs)) is not None:
                log.warning("%s: idle, yet %s; every device to its safe state", self.name, changed)
            await (self._safe() if self._unsafe or changed else self._idle_lid(obs))
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
        if self._unstored is not None and await self._unstored.retry():
            self._unstored = None

    async def _store_failed(self, err: RunStoreError) -> None:
        """The run store took no write: the cast (if any) ends faulted, every device safe."""
        cast = self._cast
        if cast is None or cast.ending:
            await self._safe()
            return
        await self._shutdown(cast, f"the run store cannot be written ({err})")

    async def _shutdown(self, cast: CastInProgress, reason: str) -> None:
        log.error("%s: FAULT: %s; driving every device to its safe state", self.name, reason)
        await self._end(cast, OutcomeKind.FAULTED, reason, None)

    async def _end(
        self, cast: CastInProgress, kind: OutcomeKind, reason: str, by: str | None
    ) -> None:
        """Devices safe first, then the outcome stored, then the ledger record. Idempotent.

        The caster reads idle only once all of that is done.
        """
        if self._cast is not cast or cast.ending:
            return
        cast.ending = True
        await self._safe()
        outcome = Outcome(kind, reason, by)
        try:
            outcome = await store_outcome(self._store, cast.id, outcome, self._clock.wall())
        except RunStoreError as err:  # the outcome is still told and signed, if the ledger can
            late = outcome

            async def store_late() -> Outcome:  # by a later tick, once writes go through
                return await store_outcome(self._store, cast.id, late, self._clock.wall())

            self._unstored = UnstoredOutcome(self.name, "cast", cast.id, outcome, store_late)
            log.critical("%s: cast %d %s; the run store could not record it: %s",
                         self.name, cast.id, outcome, err)  # fmt: skip
        log.info("%s: cast %d ended: %s", self.name, cast.id, outcome)
        if self.recorder is not None:
            await self.recorder(cast.summary(self.name, outcome))
        self._cast = None
        self._last_outcome, self._last_cast_id = str(outcome), cast.id

    async def _safe(self) -> None:
        self._unsafe.update(await self._devices.safe_state())

    async def _event(self, cast: CastInProgress, kind: str, text: str) -> None:
        log.info("%s: cast %d: %s", self.name, cast.id, text)
        state = cast.saved_state()
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
            ended = await end_interrupted(
                self.name, stored, self._store, self._clock.wall(), self.recorder
            )
            self._last_outcome = str(ended)

    # ------------------------------------------------------------ observation
    @property
    def snapshot(self) -> CasterSnapshot:
        """The caster now: its cast (if any), its last reading, its last outcome."""
        recovering = self._recovering
        return snapshot(
            name=self.name,
            kind=self.limits.kind,
            obs=self._obs,
            cast=self._cast,
            idle_state="idle" if self._recovered else "recovering",
            recovering_id=recovering.id if recovering else None,
            last_outcome=self._last_outcome,
            last_cast_id=self._last_cast_id,
            safe=self._recovered and not self._unsafe,
            uncommissioned=self.uncommissioned,
        )
