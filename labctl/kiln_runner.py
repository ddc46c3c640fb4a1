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
from collections import deque
from collections.abc import Callable

from drivers.capabilities import ControllerReading, TemperatureController, ThermocoupleInput
from drivers.clock import Clock
from drivers.errors import DriverError
from labctl.commands import Action, CommandQueue, CommandRefused
from labctl.flask_probe import FlaskProbe
from labctl.interlocks import InterlockState, Observation, evaluate
from labctl.kiln_run import ActiveRun, new_run, resume_run
from labctl.kiln_settings import RunSettings
from labctl.modes import ExecutionMode, make_mode
from labctl.profiles.loader import schedule_to_json
from labctl.program import engine
from labctl.program.segments import Schedule
from labctl.runstore import RunStore, RunStoreError
from labctl.snapshot import KilnSnapshot

log = logging.getLogger(__name__)

SAFE_STATE_TIMEOUT_S = 5.0


class KilnRunner:
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
        self.name = settings.kiln
        self._settings = settings
        self._controller = controller
        self._flask = FlaskProbe(settings.kiln, flask_tc)  # information only, never acted on
        self._link_health = link_health
        self._clock = clock
        self._store = store
        self._publish = publish
        self._run: ActiveRun | None = None
        self._mode: ExecutionMode | None = None
        self._reading: ControllerReading | None = None
        self._unsafe = False
        self._connected = False
        self._last_outcome: str | None = None
        self._unrecorded: ActiveRun | None = None  # ended, but the run store refused its outcome
        self._commands = CommandQueue(self.name, (DriverError, RunStoreError))
        self.ticks = 0
        self.write_failures = 0
        self._write_failing = False
        self.lateness_s: deque[float] = deque(maxlen=4096)  # tick start lateness, clock s
        self.snapshot = KilnSnapshot(
            kiln=self.name, at=clock.now(), wall=clock.wall(), link="lost", state="idle"
        )

    @property
    def schedule(self) -> Schedule | None:
        """The schedule of the active run, if any."""
        return self._run.schedule if self._run is not None else None

    # ----------------------------------------------------------------- commands
    async def submit(self, action: Action) -> dict[str, object]:
        """Queue ``action`` to run between ticks; its CommandRefused reaches the caller."""
        return await self._commands.submit(action)

    async def start(self, schedule: Schedule, profile_json: str, by: str) -> dict[str, object]:
        if self._run is not None:
            raise CommandRefused(
                f"{self.name} already runs {self._run.profile} (run {self._run.id})"
            )
        if not self._connected or self._reading is None:
            raise CommandRefused(f"{self.name}: controller not reachable; check its link")
        if self._unrecorded is not None:
            raise CommandRefused(
                f"{self.name}: the outcome of run {self._unrecorded.id} is not stored yet (the "
                "run store refuses writes: is the disk full?)"
            )
        if self._unsafe:
            raise CommandRefused(f"{self.name}: heat-off not yet confirmed after the last fault")
        if schedule.max_temp_c > self._settings.max_temp_c:
            raise CommandRefused(
                f"{schedule.name} goes to {schedule.max_temp_c:.0f} °C but {self.name} is "
                f"limited to {self._settings.max_temp_c:.0f} °C"
            )
        mode = make_mode(self._settings.mode, self._controller, self._settings)
        if mode.name == "programmer":  # the controller runs what it is given from the start
            if self._reading.pv_c is None:
                raise CommandRefused(f"{self.name}: no valid temperature to start the program from")
            try:
                schedule = engine.seek_schedule(schedule, self._reading.pv_c)
            except ValueError as err:
                raise CommandRefused(f"{self.name}: {err}; let it cool first") from err
            profile_json = schedule_to_json(schedule)
        run = await new_run(
            settings=self._settings,
            schedule=schedule,
            profile_json=profile_json,
            by=by,
            pv_c=self._reading.pv_c,
            store=self._store,
            clock=self._clock,
        )
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
        run, mode = self._require_run("hold")
        run.hold(by)
        await mode.hold()
        await run.persist(self._store, self._clock, event=f"held by {by}")
        return {"run_id": run.id, "state": run.phase}

    async def resume(self, by: str) -> dict[str, object]:
        run, mode = self._require_run("resume")
        run.resume(by)
        await mode.resume()
        await run.persist(self._store, self._clock, event=f"resumed by {by}")
        return {"run_id": run.id, "state": run.phase}

    async def abort(self, by: str, reason: str) -> dict[str, object]:
        run, _ = self._require_run("abort")
        outcome = await self._end_with_heat_off(lambda: run.abort(by, reason))
        return {"run_id": run.id, "outcome": outcome}

    async def take_flask(self, by: str) -> dict[str, object]:
        run, _ = self._require_run("take the flask")
        outcome = await self._end_with_heat_off(lambda: run.complete(by))
        return {"run_id": run.id, "outcome": outcome}

    def _require_run(self, what: str) -> tuple[ActiveRun, ExecutionMode]:
        if self._run is None or self._mode is None:
            raise CommandRefused(f"cannot {what}: no burnout is running on {self.name}")
        return self._run, self._mode

    # ---------------------------------------------------------------- the loop
    async def run(self) -> None:
        """The control task: connect, recover a persisted run, then tick forever."""
        try:
            await self._loop()
        finally:
            self._flask.close()

    async def _loop(self) -> None:
        try:
            await self._recover()
        except RunStoreError as err:  # a resumed run that cannot be persisted does not resume
            await self._store_failed(err)
        next_tick = self._clock.now()
        while True:
            next_tick += self._settings.tick_s
            now = self._clock.now()
            if next_tick < now:  # overrun: skip missed ticks rather than bursting
                next_tick = now
            await self._clock.sleep_until(next_tick)
            self.lateness_s.append(self._clock.now() - next_tick)
            try:
                await self._record_late()
                await self._commands.run_pending()
                await self._tick()
            except RunStoreError as err:  # e.g. the disk is full: stop heating, stay up
                await self._store_failed(err)
            self.ticks += 1

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
        once the store takes writes again (:meth:`_record_late`); until then no run starts.
        """
        run = self._run
        if run is not None and not run.ended:
            log.error("%s: FAULT: the run store cannot be written: %s; heat off", self.name, err)
            run.fault(f"the run store cannot be written ({err}); the run cannot be kept safely")
        await self._heat_off()
        if run is not None:
            log.critical(
                "%s: run %d %s, but the run store could not record it", self.name, run.id,
                run.outcome,
            )  # fmt: skip
            self._last_outcome = str(run.outcome)
            self._run, self._mode, self._unrecorded = None, None, run
        self._publish_snapshot()

    async def _record_late(self) -> None:
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
        self._last_outcome = str(run.outcome)
        self._run, self._mode = None, None

    async def _recover(self) -> None:
        """After a restart: resume a persisted run within limits, else end it as interrupted."""
        stored = await self._store.active_run(self.name)
        while await self._read() is None:
            await self._clock.sleep(self._settings.tick_s)
            self.ticks += 1  # alive and waiting for the controller: no watchdog restart loop
            if stored is None:
                self._publish_snapshot()
                return
        if stored is None:
            return
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

    def _publish_snapshot(self) -> None:
        reading, run = self._reading, self._run
        self.snapshot = KilnSnapshot(
            kiln=self.name,
            at=self._clock.now(),
            wall=self._clock.wall(),
            link=self._link_health(),
            state=run.phase if run else "idle",
            run_id=run.id if run else None,
            profile=run.profile if run else None,
            mode=self._settings.mode,
            segment=run.segment if run else "",
            segment_index=run.program.segment if run else None,
            setpoint_c=run.setpoint_c if run else None,
            pv_c=reading.pv_c if reading else None,
            working_sp_c=reading.working_sp_c if reading else None,
            output_pct=reading.output_pct if reading else None,
            flask_core_c=self._flask.core_c,
            eta_s=run.eta_s if run else None,
            holdback_s=run.holdback_s if run else 0.0,
            outcome=self._last_outcome,
            safe=not self._unsafe,
        )
        self._publish(self.snapshot)
