"""A whole lab at the device seam, in virtual time: one kiln, one caster, the real registry.

The runners, command queues, registry, run store, ledger and alarm board are the daemon's own,
wired as ``labctl.daemon.app.build_lab`` wires them; only the devices are fakes, and every
fault the tests need can be injected into them: the kiln's controller
(:mod:`tests._support.kiln_controller`), the caster's plant (:mod:`tests._support.caster_plant`),
the run store and unexpected bugs (:mod:`tests._support.faults`). A test moves the lab's time
and sends its commands through :class:`tests._support.lab_driver.LabDriver`; the site it
stands for is :mod:`tests._support.lab_site`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from labctl.alarms import AlarmBoard
from labctl.cast.runner import CasterRunner
from labctl.commands.registry import CommandRegistry
from labctl.config.kiln import InterlockSection
from labctl.config.limits import CasterKind, CasterLimits
from labctl.kiln.runner import KilnRunner
from labctl.kiln.settings import RunSettings
from labctl.kiln.snapshot import KilnSnapshot
from labctl.ledger.burnout import KilnHistory
from labctl.ledger.recorder import CastRecorder
from labctl.ledger.service import LedgerService
from tests._support.caster_plant import CasterPlant, caster_devices
from tests._support.clock import StepClock
from tests._support.faults import FlakyStore
from tests._support.kiln_controller import FakeController
from tests._support.lab_commands import lab_registry
from tests._support.lab_driver import TICK_S, LabDriver
from tests._support.lab_site import (
    CASTER,
    FLASK_ID,
    KILN,
    MELT_ID,
    open_ledger,
)


@dataclass
class Lab(LabDriver):
    """One kiln and one caster with fake devices, wired like labctl.daemon.app.build_lab."""

    tmp: Path
    kiln_mode: str
    caster_kind: CasterKind
    clock: StepClock
    controller: FakeController
    plant: CasterPlant
    store: FlakyStore
    service: LedgerService
    board: AlarmBoard
    recorder: CastRecorder
    kiln: KilnRunner = field(init=False)
    caster: CasterRunner = field(init=False)
    registry: CommandRegistry = field(init=False)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    crashes: list[tuple[str, str]] = field(default_factory=list)
    restarts: int = 0
    #: As ``labctl.daemon.app`` wires it: the recorder's burnout samples go to the run store, and a
    #: restart builds a new recorder (a new process remembers nothing; SIGKILL loses the
    #: samples not yet stored). Off (the default): one in-memory history for the lab's life.
    stored_history: bool = False
    #: Every kiln snapshot published (what telemetry gets: InfluxDB, MQTT), across restarts.
    telemetry: list[KilnSnapshot] = field(default_factory=list)
    #: The flask and melt a cast starts from (``PAYLOADS["cast_start"]``).
    flask_id: str = FLASK_ID
    melt_id: str = MELT_ID

    # ---------------------------------------------------------------- building
    @classmethod
    async def open(
        cls,
        tmp: Path,
        *,
        kiln_mode: str = "programmer",
        caster_kind: CasterKind,
        stored_history: bool = False,
    ) -> Lab:
        clock = StepClock()
        plant = CasterPlant(clock)
        store = await FlakyStore.open(tmp / "runs.sqlite")
        service = await open_ledger(tmp)
        board = AlarmBoard(clock.wall)
        history = KilnHistory(store if stored_history else None)
        recorder = CastRecorder(service, tmp / "archive", history, cls._lab_alarm(board))
        lab = cls(
            tmp, kiln_mode, caster_kind, clock, FakeController(clock, kiln_mode == "programmer"),
            plant, store, service, board, recorder, stored_history=stored_history,
        )  # fmt: skip
        board.raise_alarm("lab", "an alarm for people to acknowledge")  # alarm 1
        lab._wire()
        return lab

    @staticmethod
    def _lab_alarm(board: AlarmBoard) -> Callable[[str], None]:
        def alarm(text: str) -> None:
            board.raise_alarm("lab", text)

        return alarm

    def _wire(self) -> None:
        """New runners and a new registry over the same devices, store and ledger."""
        settings = RunSettings(
            kiln=KILN, mode=self.kiln_mode, tick_s=TICK_S, max_temp_c=760.0, fallback_sp_c=0.0,
            interlocks=InterlockSection().limits(760.0), resume_max_gap_s=120.0,
            resume_max_drop_c=50.0, persist_every_s=5.0,
        )  # fmt: skip
        controller = self.controller
        self.kiln = KilnRunner(
            settings=settings,
            controller=controller,
            link_health=lambda: "ok" if controller.link_up else "lost",
            clock=self.clock,
            store=self.store,
            publish=self._publish_kiln,
        )
        limits = CasterLimits(kind=self.caster_kind, crucible_max_c=1450, confirm_timeout_s=120)
        self.caster = CasterRunner(
            name=CASTER,
            limits=limits,
            devices=caster_devices(self.plant, self.caster_kind),
            clock=self.clock,
            store=self.store,
            tick_s=TICK_S,
            publish=self.board.caster,
            recorder=self.recorder.record,
        )
        for machine in (self.kiln, self.caster):
            machine.on_crash = self._crashed
        self.registry = lab_registry(self)

    def _publish_kiln(self, snap: KilnSnapshot) -> None:
        self.telemetry.append(snap)
        self.recorder.history.add(snap)
        self.recorder.trips.add(snap)
        self.board.kiln(snap)

    def kiln_snapshot(self, name: str) -> KilnSnapshot | None:
        """The kiln's snapshot by name (what a caster reads of the kiln its flask comes from)."""
        return self.kiln.snapshot if name == KILN else None

    def _crashed(self, machine: str, reason: str) -> None:
        self.crashes.append((machine, reason))
        self.board.raise_alarm(machine, f"{machine}: {reason}; driven safe, its loop restarted")

    @property
    def machines(self) -> tuple[KilnRunner, CasterRunner]:
        return self.kiln, self.caster

    async def start(self) -> None:
        """Start both machine loops and let them take their first ticks."""
        self.tasks = [
            asyncio.create_task(self.kiln.run(), name="kiln"),
            asyncio.create_task(self.caster.run(), name="caster"),
        ]
        await self.ticks(2)

    async def stop(self, *, graceful: bool = True) -> None:
        """Stop both loops; graceful: as at SIGTERM (every machine driven safe)."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if graceful:
            async with asyncio.timeout(30):
                await asyncio.gather(*(m.stop_safe() for m in self.machines))
        self.tasks = []

    async def restart(self, *, graceful: bool) -> None:
        """The daemon restarts: new runners and registry on the same run store file."""
        await self.stop(graceful=graceful)
        if self.stored_history:
            await self.recorder.trips.drain()  # (a trip being signed at a SIGKILL: not modelled)
            if graceful:  # labctl.daemon.app: closing the ledger flushes the samples not yet stored
                await self.recorder.history.flush()
        refusing = self.store.refuse_writes
        await self.store.close()
        self.store = await FlakyStore.open(self.tmp / "runs.sqlite")
        self.store.refuse_writes = refusing
        if self.stored_history:  # the new process's recorder, over the reopened store
            history = KilnHistory(self.store)
            alarm = self._lab_alarm(self.board)
            self.recorder = CastRecorder(self.service, self.tmp / "archive", history, alarm)
        self._wire()
        self.restarts += 1
        self.tasks = [
            asyncio.create_task(self.kiln.run(), name="kiln"),
            asyncio.create_task(self.caster.run(), name="caster"),
        ]
        await self.settle()

    async def close(self) -> None:
        await self.stop(graceful=False)
        if self.stored_history:
            await self.recorder.trips.drain()
        await self.store.close()
        await self.service.close()

    def queued(self) -> int:
        """Commands waiting in the machines' queues for their loop to take them."""
        return sum(m._commands._queue.qsize() for m in self.machines)

    # ---------------------------------------------------------------- what is seen
    def kiln_state(self) -> str:
        return self.kiln.snapshot.state

    def caster_state(self) -> str:
        return self.caster.snapshot.state

    def status(self) -> dict[str, object]:
        snap = self.kiln.snapshot
        return {
            "t": self.clock.now(),
            "kiln": {
                "state": snap.state, "run_id": snap.run_id, "outcome": snap.outcome,
                "safe": snap.safe, "segment": snap.segment, "holdback_s": snap.holdback_s,
                "ticks": self.kiln.ticks, "crashes": self.kiln.crashes,
            },
            "controller": {
                "program": str(self.controller.program), "pv": self.controller.pv_c,
                "heating": self.controller.heating, "link": self.controller.link_up,
            },
            "caster": {**self.caster.snapshot.as_dict(), "ticks": self.caster.ticks},
            "dead": self.dead_loops(),
        }  # fmt: skip


@contextlib.asynccontextmanager
async def lab_of(
    tmp: Path,
    *,
    caster_kind: CasterKind,
    kiln_mode: str = "programmer",
    stored_history: bool = False,
):
    lab = await Lab.open(
        tmp, kiln_mode=kiln_mode, caster_kind=caster_kind, stored_history=stored_history
    )
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()
