"""The state of one kiln's loop and every way its run ends: heat off first, always.

Any trip runs :meth:`KilnEndings._shutdown`: idempotent, heat off on the device first, then the
honest outcome ``faulted: <reason>`` persisted. If heat-off cannot be confirmed (the device is
unreachable) the kiln keeps retrying every tick and says so; the device-side lease (program
on the controller, or the armed comms-loss fallback) is what protects the kiln meanwhile. An
outcome the run store refuses is shown at once and stored by a later tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from drivers.capabilities import ControllerReading, TemperatureController, ThermocoupleInput
from drivers.clock import Clock
from drivers.errors import DriverError
from labctl.kiln.flask_probe import FlaskProbe
from labctl.kiln.modes import ExecutionMode
from labctl.kiln.refusals import recovering_text
from labctl.kiln.run import ActiveRun
from labctl.kiln.setpoint_writes import SetpointWrites
from labctl.kiln.settings import RunSettings
from labctl.kiln.snapshot import KilnSnapshot
from labctl.runs.loop import MachineLoop
from labctl.runs.safe_state import UnsafeDevices
from labctl.runs.state import IllegalTransition, OutcomeKind
from labctl.runs.store import RunStore, RunStoreError, StoredRun
from labctl.runs.unstored import UnstoredOutcome

log = logging.getLogger(__name__)

SAFE_STATE_TIMEOUT_S = 5.0


class KilnEndings(MachineLoop):
    """One kiln's controller, run and state; how a run ends safely. The runner adds the rest."""

    def __init__(
        self,
        *,
        settings: RunSettings,
        controller: TemperatureController,
        link_health: Callable[[], str],
        clock: Clock,
        store: RunStore,
        publish: Callable[[KilnSnapshot], None],
        flask_tc: ThermocoupleInput | None = None,
    ) -> None:
        super().__init__(
            settings.kiln, clock, settings.tick_s, (DriverError, RunStoreError, IllegalTransition)
        )
        self._settings = settings
        self._controller = controller
        self._flask = FlaskProbe(settings.kiln, flask_tc)  # information only, never acted on
        self._link_health = link_health
        self._store = store
        self._publish = publish
        self._run: ActiveRun | None = None
        self._mode: ExecutionMode | None = None
        self._reading: ControllerReading | None = None
        self._unsafe = UnsafeDevices(settings.kiln)
        self._connected = False
        self._last_outcome: str | None = None
        self._last_run_id: int | None = None  # the run ``_last_outcome`` belongs to
        self._unstored: UnstoredOutcome | None = None
        self._recovering: StoredRun | None = None  # a run left by the previous daemon, unread
        self._held_since: float | None = None  # wall time of the operator hold
        self._check_idle_heat = False  # after a restart: is an idle kiln's controller heating?
        self.setpoint_writes = SetpointWrites(settings.kiln)
        self.snapshot = KilnSnapshot(
            kiln=self.name, at=clock.now(), wall=clock.wall(), link="lost", state="idle"
        )

    async def _shutdown(self, reason: str) -> None:
        """Trip: heat off first, then the run ends as faulted. Idempotent."""
        run = self._run
        if run is not None and not run.ended:
            log.error("%s: FAULT: %s; driving the kiln to its safe state", self.name, reason)
            run.fault(reason)
        await self._heat_off()
        await self._finish()

    async def _store_failed(self, err: RunStoreError) -> None:
        """The run store took no write: a run that cannot be persisted stops, heat off.

        Its outcome is shown at once (snapshot, alarm, telemetry) and stored by a later tick
        once the store takes writes again (:meth:`_store_late`); until then no run starts.
        """
        run = self._run
        if run is not None and not run.ended:
            log.error("%s: FAULT: the run store cannot be written: %s; heat off", self.name, err)
            run.fault(f"the run store cannot be written ({err}); the run cannot be kept safely")
        await self._heat_off()
        if run is not None:
            self._keep_unstored(run)
        self._publish_snapshot()

    def _keep_unstored(self, run: ActiveRun) -> None:
        log.critical(
            "%s: run %d %s, but the run store could not record it", self.name, run.id, run.outcome
        )
        assert run.outcome is not None  # ended

        async def store_late() -> None:  # by a later tick, once writes go through
            await self._store_outcome(run)

        self._unstored = UnstoredOutcome(self.name, "run", run.id, run.outcome, store_late)
        self._last_outcome, self._last_run_id = str(run.outcome), run.id
        self._run, self._mode = None, None

    async def _fail(self, reason: str) -> None:
        """After an internal error: the run ends faulted with ``reason``, heat off."""
        run = self._run
        if run is not None and not run.ended:
            log.error("%s: FAULT: %s; heat off", self.name, reason)
            run.fault(reason)
        await self._heat_off()
        if run is not None:
            try:
                await self._finish()
            except Exception:  # the store, or the bug itself: stored by a later tick
                self._keep_unstored(run)
        self._publish_snapshot()

    async def _safe_at_stop(self) -> None:
        """Daemon shutdown: heat off; the run stays stored for the resume rules."""
        run = self._run
        if run is None and not self._unsafe:
            return
        await self._heat_off()
        if run is not None and not run.ended:
            await run.persist(self._store, self._clock, event="daemon stopped: heat off")

    async def _store_late(self) -> None:
        if self._unstored is not None and await self._unstored.retry():
            self._unstored = None

    async def _store_outcome(self, run: ActiveRun) -> None:
        await run.persist(self._store, self._clock, event=f"ended: {run.outcome}")
        await run.record_outcome(self._store, self._clock)

    async def _heat_off(self) -> None:
        """Heat off on the controller; not confirmed, it is retried every tick."""
        try:
            async with asyncio.timeout(SAFE_STATE_TIMEOUT_S):
                await self._controller.safe_state()
        except (DriverError, TimeoutError) as err:
            self._unsafe.update(["controller"], str(err) or "timeout")
        else:
            self._unsafe.update([])

    async def _confirm_safe(self) -> None:
        if self._run is None or self._run.ended:
            await self._heat_off()

    async def _finish(self) -> None:
        run = self._run
        if run is None:
            return
        await self._store_outcome(run)
        log.info("%s: run %d ended: %s", self.name, run.id, run.outcome)
        self._last_outcome, self._last_run_id = str(run.outcome), run.id
        self._run, self._mode = None, None

    async def _end_stored(
        self, stored: StoredRun, kind: OutcomeKind, reason: str, by: str | None
    ) -> str:
        """End a run the previous daemon left, without its controller: heat off is retried."""
        self._recovering = None
        await self._heat_off()
        wall = self._clock.wall()
        outcome = await self._store.end_run(
            stored.id, outcome_kind=kind, reason=reason, by=by, at_wall=wall
        )
        await self._store.add_event(stored.id, at_wall=wall, kind="run", text=f"ended: {outcome}")
        log.warning("%s: run %d ended while recovering: %s", self.name, stored.id, outcome)
        self._last_outcome, self._last_run_id = str(outcome), stored.id
        self._publish_snapshot()
        return str(outcome)

    def _recovering_text(self) -> str | None:
        stored = self._recovering
        return None if stored is None else recovering_text(self.name, stored.id)

    def _publish_snapshot(self) -> None:
        reading, run, stored = self._reading, self._run, self._recovering
        self.snapshot = KilnSnapshot(
            kiln=self.name,
            at=self._clock.now(),
            wall=self._clock.wall(),
            link=self._link_health(),
            state=run.phase if run else "recovering" if stored else "idle",
            run_id=run.id if run else stored.id if stored else None,
            profile=run.profile if run else stored.profile_name if stored else None,
            mode=self._settings.mode,
            segment=run.segment if run else self._recovering_text() or "",
            segment_index=run.program.segment if run else None,
            setpoint_c=run.setpoint_c if run else None,
            pv_c=reading.pv_c if reading else None,
            working_sp_c=reading.working_sp_c if reading else None,
            output_pct=reading.output_pct if reading else None,
            flask_core_c=self._flask.core_c,
            eta_s=run.eta_s if run else None,
            holdback_s=run.holdback_s if run else 0.0,
            outcome=self._last_outcome,
            outcome_run_id=self._last_run_id,
            safe=not self._unsafe,
            uncommissioned=self.uncommissioned,
        )
        self._publish(self.snapshot)
