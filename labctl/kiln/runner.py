"""The control loop of one kiln: the only code that writes to its controller.

Every tick: read the controller, evaluate the interlocks, then (only if nothing tripped) let
the burnout program decide the setpoint and apply it through the execution mode, persist the
run, and publish an immutable snapshot. Commands arrive on a bounded queue and are executed
between ticks, so nothing else ever touches the device. How a run ends (heat off first) is
:class:`labctl.kiln.safe_endings.KilnEndings`; after a daemon restart the run the previous
daemon left is resumed within the resume limits, or ended (:meth:`KilnRunner._recover`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.capabilities import ControllerReading, ProgramStatus
from drivers.errors import DriverError
from labctl.commands.registry import CommandRefused
from labctl.kiln.modes import ExecutionMode, make_mode
from labctl.kiln.program import engine
from labctl.kiln.refusals import no_run, refuse_hold, refuse_resume, refuse_start, refuse_take_flask
from labctl.kiln.run import ActiveRun, new_run, resume_run
from labctl.kiln.safe_endings import KilnEndings
from labctl.profiles.segments import Schedule
from labctl.runs.state import OutcomeKind
from labctl.runs.store import StoredRun

log = logging.getLogger(__name__)

TOO_HOT_ADVICE = (
    "let it cool, or start with cool_first to cool with the heat off to that temperature first"
)


class KilnRunner(KilnEndings):
    """Owns one kiln's controller, its active run and its control loop."""

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
            unstored=self._unstored,
            unsafe=bool(self._unsafe),
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
                self._unsafe.update(["controller"], "heating while idle")
        if self._unsafe:
            await self._confirm_safe()
        run, mode = self._run, self._mode
        if run is not None and mode is not None:
            trip = run.check_interlocks(reading, self._clock.now())
            if trip is not None:
                await self._shutdown(trip)
            else:
                problem = await self.setpoint_writes.step(run, mode, reading, self._clock)
                if problem is not None:
                    await self._shutdown(problem)
                elif run.ended:
                    await self._finish()
                else:
                    await run.persist_if_due(self._store, self._clock)
        self._publish_snapshot()

    async def _end_with_heat_off(self, end: Callable[[], None]) -> str:
        run, _ = self._require_run("end")
        end()
        await self._heat_off()
        await self._finish()
        return str(run.outcome)

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


def _heating(reading: ControllerReading) -> bool:
    """Whether a controller labctl left idle runs a program or drives its output."""
    running = reading.program in (ProgramStatus.RUN, ProgramStatus.HOLD)
    return running or (reading.output_pct or 0.0) > 0.5
