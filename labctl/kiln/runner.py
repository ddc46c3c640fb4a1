"""The control loop of one kiln: the only code that writes to its controller.

Every tick: read the controller, evaluate the interlocks, then (only if nothing tripped) let
the burnout program decide the setpoint and apply it through the execution mode, persist the
run, and publish an immutable snapshot. Commands arrive on a bounded queue and are executed
between ticks, so nothing else ever touches the device.

Any trip runs :meth:`KilnRunner._shutdown`: idempotent, heat off on the device first, then the
honest outcome ``faulted: <reason>`` persisted. If heat-off cannot be confirmed (the device is
unreachable) the runner keeps retrying every tick and says so; the device-side lease (program
on the controller, or the armed comms-loss fallback) is what protects the kiln meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from drivers.capabilities import (
    ControllerReading,
    ProgramStatus,
    TemperatureController,
    ThermocoupleInput,
)
from drivers.clock import Clock
from drivers.errors import DriverError
from labctl.commands.registry import CommandRefused
from labctl.kiln.flask_probe import FlaskProbe
from labctl.kiln.interlocks import InterlockState, Observation, evaluate
from labctl.kiln.modes import ExecutionMode, make_mode
from labctl.kiln.program import engine
from labctl.kiln.program.segments import Schedule
from labctl.kiln.refusals import (
    no_run,
    recovering_text,
    refuse_hold,
    refuse_resume,
    refuse_start,
    refuse_take_flask,
)
from labctl.kiln.run import ActiveRun, new_run, resume_run
from labctl.kiln.settings import RunSettings
from labctl.kiln.snapshot import KilnSnapshot
from labctl.runs.loop import MachineLoop
from labctl.runs.state import IllegalTransition, OutcomeKind
from labctl.runs.store import RunStore, RunStoreError, StoredRun

log = logging.getLogger(__name__)

SAFE_STATE_TIMEOUT_S = 5.0
TOO_HOT_ADVICE = (
    "let it cool, or start with cool_first to cool with the heat off to that temperature first"
)


class KilnRunner(MachineLoop):
    """Owns one kiln's controller, its active run and its control loop."""

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
        self._unsafe = False
        self._connected = False
        self._last_outcome: str | None = None
        self._last_run_id: int | None = None  # the run ``_last_outcome`` belongs to
        self._unrecorded: ActiveRun | None = None  # ended, but the run store refused its outcome
        self._recovering: StoredRun | None = None  # a run left by the previous daemon, unread
        self._held_since: float | None = None  # wall time of the operator hold
        self._check_idle_heat = False  # after a restart: is an idle kiln's controller heating?
        self.write_failures = 0
        self._write_failing = False
        self.snapshot = KilnSnapshot(
            kiln=self.name, at=clock.now(), wall=clock.wall(), link="lost", state="idle"
        )

    @property
    def schedule(self) -> Schedule | None:
        """The schedule of the active run, if any."""
        return self._run.schedule if self._run is not None else None

    # ----------------------------------------------------------------- commands
    def busy_reason(self) -> str | None:
        return self._recovering_text()

    async def start(
        self, schedule: Schedule, profile_json: str, by: str, *, cool_first: bool = False
    ) -> dict[str, object]:
        """Begin ``schedule`` at its first segment; a hot kiln is refused or cools first."""
        if self._run is not None:
            raise CommandRefused(
                f"{self.name} already runs {self._run.profile} (run {self._run.id})"
            )
        self._refuse_while_recovering()
        refuse_start(
            self.name,
            schedule,
            limit_c=self._settings.max_temp_c,
            reachable=self._connected and self._reading is not None,
            unrecorded_run=None if self._unrecorded is None else self._unrecorded.id,
            unsafe=self._unsafe,
        )
        assert self._reading is not None  # reachable
        mode = make_mode(self._settings.mode, self._controller, self._settings)
        pv_c = self._reading.pv_c
        if pv_c is None:
            raise CommandRefused(f"{self.name}: no valid temperature to start the program from")
        if cool_first and mode.name == "programmer":
            raise CommandRefused(
                f"{self.name} runs its program on the controller, which would start heating at "
                "once: let the kiln cool to the loading temperature, then start"
            )
        try:
            run = await new_run(
                settings=self._settings,
                schedule=schedule,
                profile_json=profile_json,
                by=by,
                pv_c=pv_c,
                cool_first=cool_first,
                store=self._store,
                clock=self._clock,
            )
        except engine.TooHot as hot:
            advice = "let it cool" if mode.name == "programmer" else TOO_HOT_ADVICE
            raise CommandRefused(f"{self.name}: {hot}; {advice}") from None
        try:
            await mode.begin(schedule, run.setpoint_c)
        except (DriverError, CommandRefused) as err:
            self._run, self._mode = run, mode
            await self._shutdown(f"could not start on the controller: {err}")
            raise CommandRefused(f"{self.name}: could not start: {err}") from err
        self._run, self._mode = run, mode
        log.info(
            "%s: run %d started by %s: %s (%s mode)", self.name, run.id, by, run.profile, mode.name
        )
        return {"run_id": run.id, "profile": run.profile, "mode": mode.name}

    async def hold(self, by: str) -> dict[str, object]:
        """Hold the program; the run reads held only once the controller took the hold."""
        run, mode = self._require_run("hold")
        refuse_hold(self.name, run, self._held_since)
        await mode.hold()
        run.hold(by)
        self._held_since = self._clock.wall()
        await run.persist(self._store, self._clock, event=f"held by {by}")
        return {"run_id": run.id, "state": run.phase}

    async def resume(self, by: str) -> dict[str, object]:
        """Resume a held program; it runs again only once the controller took the resume."""
        run, mode = self._require_run("resume")
        refuse_resume(self.name, run)
        await mode.resume()
        run.resume(by)
        self._held_since = None
        await run.persist(self._store, self._clock, event=f"resumed by {by}")
        return {"run_id": run.id, "state": run.phase}

    async def abort(self, by: str, reason: str) -> dict[str, object]:
        if self._run is None and self._recovering is not None:
            return await self._abort_recovering(self._recovering, by, reason)
        run, _ = self._require_run("abort")
        outcome = await self._end_with_heat_off(lambda: run.abort(by, reason))
        return {"run_id": run.id, "outcome": outcome}

    async def take_flask(self, by: str) -> dict[str, object]:
        run, _ = self._require_run("take the flask")
        refuse_take_flask(self.name, run)
        outcome = await self._end_with_heat_off(lambda: run.complete(by))
        return {"run_id": run.id, "outcome": outcome}

    def _require_run(self, what: str) -> tuple[ActiveRun, ExecutionMode]:
        self._refuse_while_recovering()
        if self._run is None or self._mode is None:
            raise no_run(self.name, what, self._last_outcome)
        return self._run, self._mode

    def _refuse_while_recovering(self) -> None:
        text = self._recovering_text()
        if text is not None:
            raise CommandRefused(f"{text}; only abort is possible until it answers")

    def _recovering_text(self) -> str | None:
        stored = self._recovering
        return None if stored is None else recovering_text(self.name, stored.id)

    # ---------------------------------------------------------------- the loop
    def _after_tick(self) -> None:
        """Nothing: every tick publishes its snapshot itself."""

    async def run(self) -> None:
        """The supervised control task: recover a persisted run, then tick forever."""
        try:
            await super().run()
        finally:
            self._flask.close()

    async def _read(self) -> ControllerReading | None:
        try:
            if not self._connected:
                await self._controller.connect()
                self._connected = True
                log.info("%s: controller connected", self.name)
            reading = await self._controller.read()
        except DriverError as err:
            if self._connected or self._reading is not None:
                log.warning("%s: no reading from controller: %s", self.name, err)
            self._reading = None
            return None
        self._reading = reading
        return reading

    async def _tick(self) -> None:
        reading = await self._flask.alongside(self._read())
        if self._check_idle_heat and reading is not None:
            self._check_idle_heat = False
            if self._run is None and _heating(reading):
                log.warning("%s: idle after a restart, yet heating: heat off", self.name)
                self._unsafe = True
        if self._unsafe:
            await self._confirm_safe()
        run, mode = self._run, self._mode
        if run is not None and mode is not None:
            trip = self._check_interlocks(run, reading)
            if trip is not None:
                await self._shutdown(trip)
            else:
                problem = await self._step(run, mode, reading)
                if problem is not None:
                    await self._shutdown(problem)
                elif run.ended:
                    await self._finish()
                else:
                    await run.persist_if_due(self._store, self._clock)
        self._publish_snapshot()

    async def _step(
        self, run: ActiveRun, mode: ExecutionMode, reading: ControllerReading | None
    ) -> str | None:
        """One program step; a failed write is not retried here.

        The next tick writes the next setpoint; the stale-reading interlock and the device's
        lease cover a link that stays dead. Logged when writes start and stop failing.
        """
        try:
            problem = await run.step(reading, mode, self._clock)
        except DriverError as err:
            if not self._write_failing:
                log.warning("%s: setpoint not applied: %s", self.name, err)
            self.write_failures += 1
            self._write_failing = True
            return None
        if self._write_failing:
            log.info("%s: setpoint writes go through again", self.name)
            self._write_failing = False
        return problem

    def _check_interlocks(self, run: ActiveRun, reading: ControllerReading | None) -> str | None:
        now = self._clock.now()
        obs = None
        if reading is not None:
            obs = Observation(
                at=reading.at,
                pv_c=reading.pv_c,
                output_pct=reading.output_pct,
                setpoint_c=run.setpoint_c,
                sensor_break=reading.sensor_break,
                pv_over_range=reading.pv_over_range,
            )
        state: InterlockState = run.interlocks
        run.interlocks, trip = evaluate(run.limits, state, obs, now)
        return None if trip is None else trip.reason

    # ------------------------------------------------------------ safe endings
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
            self._keep_unrecorded(run)
        self._publish_snapshot()

    def _keep_unrecorded(self, run: ActiveRun) -> None:
        log.critical(
            "%s: run %d %s, but the run store could not record it", self.name, run.id, run.outcome
        )
        self._last_outcome, self._last_run_id = str(run.outcome), run.id
        self._run, self._mode, self._unrecorded = None, None, run

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
                self._keep_unrecorded(run)
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
        """Store the outcome of a run the run store refused, once it takes writes again."""
        run = self._unrecorded
        if run is None:
            return
        try:
            await run.persist(self._store, self._clock, event=f"ended: {run.outcome}")
            await run.record_outcome(self._store, self._clock)
        except RunStoreError:
            return  # still refused: the next tick tries again
        self._unrecorded = None
        log.warning("%s: run %d outcome stored at last: %s", self.name, run.id, run.outcome)

    async def _end_with_heat_off(self, end: Callable[[], None]) -> str:
        run, _ = self._require_run("end")
        end()
        await self._heat_off()
        await self._finish()
        return str(run.outcome)

    async def _heat_off(self) -> None:
        try:
            async with asyncio.timeout(SAFE_STATE_TIMEOUT_S):
                await self._controller.safe_state()
        except (DriverError, TimeoutError) as err:
            if not self._unsafe:
                log.critical(
                    "%s: could not confirm heat off (%s); retrying every tick, the controller's "
                    "own fallback is the protection until then",
                    self.name,
                    str(err) or "timeout",
                )
            self._unsafe = True
        else:
            if self._unsafe:
                log.warning("%s: heat off confirmed on the controller", self.name)
            self._unsafe = False

    async def _confirm_safe(self) -> None:
        if self._run is None or self._run.ended:
            await self._heat_off()

    async def _finish(self) -> None:
        run = self._run
        if run is None:
            return
        await run.persist(self._store, self._clock, event=f"ended: {run.outcome}")
        await run.record_outcome(self._store, self._clock)
        log.info("%s: run %d ended: %s", self.name, run.id, run.outcome)
        self._last_outcome, self._last_run_id = str(run.outcome), run.id
        self._run, self._mode = None, None

    async def _recover(self) -> None:
        """After a restart: resume a persisted run within limits, else end it as interrupted.

        Waits for the controller no longer than the resume limit allows (measured from the
        run's last saved state), answering commands meanwhile: abort ends the run at once.
        """
        stored = await self._store.active_run(self.name)
        if stored is None:  # idle: a heat-off the previous daemon could not confirm is retried
            self._check_idle_heat = True
            await self._read()
            return
        self._recovering = stored
        deadline = stored.state_saved_wall + self._settings.resume_max_gap_s
        while await self._read() is None:
            if self._clock.wall() >= deadline:
                await self._interrupt_unreached(stored)
                return
            self._publish_snapshot()
            await self._drain_while_waiting()
            if self._recovering_text() is None:  # aborted meanwhile
                return
        self._recovering = None
        mode = make_mode(self._settings.mode, self._controller, self._settings)
        run = resume_run(stored, self._settings, self._reading, self._clock)
        self._run, self._mode = run, mode
        if run.ended:
            log.warning("%s: run %d %s", self.name, run.id, run.outcome)
            await self._heat_off()
            await self._finish()
            return
        try:
            await mode.reattach(run.schedule, run.setpoint_c, self._reading)
        except (DriverError, CommandRefused) as err:
            run.interrupt(f"could not re-attach to the controller after restart: {err}")
            await self._heat_off()
            await self._finish()
            return
        log.warning("%s: resumed run %d after a restart at %s", self.name, run.id, run.segment)
        await run.persist(self._store, self._clock, event="resumed after daemon restart")

    async def _interrupt_unreached(self, stored: StoredRun) -> None:
        minutes = self._settings.resume_max_gap_s / 60.0
        reason = (
            f"the controller did not answer after the restart within the resume limit "
            f"({minutes:g} min since the run was last saved)"
        )
        await self._end_stored(stored, OutcomeKind.INTERRUPTED, reason, None)

    async def _abort_recovering(self, stored: StoredRun, by: str, reason: str) -> dict[str, object]:
        outcome = await self._end_stored(stored, OutcomeKind.ABORTED, reason, by)
        return {"run_id": stored.id, "outcome": outcome}

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


def _heating(reading: ControllerReading) -> bool:
    """Whether a controller labctl left idle runs a program or drives its output."""
    running = reading.program in (ProgramStatus.RUN, ProgramStatus.HOLD)
    return running or (reading.output_pct or 0.0) > 0.5
