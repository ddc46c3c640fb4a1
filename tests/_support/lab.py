"""A whole lab at the device seam, in virtual time: one kiln, one caster, the real registry.

The runners, command queues, registry, run store, ledger and alarm board are the daemon's own;
only the devices are fakes, and every fault the tests need can be injected into them:

- :class:`FakeController` (a kiln's temperature controller) runs in programmer mode (its own
  ramp/dwell programmer with a holdback band) or stream mode; it can lose its link
  (``LinkDown``), refuse a programmer hold or the heat-off with Modbus exception 4
  (``DeviceRejected``), report a sensor break, lag its setpoint (holdback), or raise an
  unexpected ``RuntimeError`` from a read (to prove supervision).
- :class:`CasterPlant` extends the caster physics of ``tests/labctl/test_caster_runner.py``
  with knobs that hold a cast sequence in one step (capped heating, a weak pump, a blocked
  vent, a slow arm), a drive that refuses RESET, and one-shot unexpected errors.
- :class:`FlakyStore` is the real :class:`RunStore` whose writes can be refused (disk full).

Time is a :class:`StepClock`: a :class:`VirtualClock` that counts its sleepers, so the lab can
tell when every machine loop is asleep and only then move time on: each tick happens exactly
at its deadline, and nothing depends on how fast the machine running the test is.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import labctl.daemon.app
from drivers.capabilities import (
    ControllerReading,
    DeviceSegment,
    EndAction,
    ProgramStatus,
)
from drivers.clock import VirtualClock
from drivers.errors import DeviceRejected, LinkDown
from labctl.alarms import AlarmBoard, register_alarm_commands
from labctl.cast.commands import register_caster_commands
from labctl.cast.devices import CasterDevices
from labctl.cast.params import CasterKind, CasterLimits
from labctl.cast.runner import CasterRunner
from labctl.commands.queue import COMMAND_DEADLINE_S
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry, Role
from labctl.commands.status import register_status
from labctl.commission.daemon_commands import register_commissioning_commands
from labctl.commission.daemon_run import LabLinks
from labctl.commission.daemon_side import DaemonCommissioning
from labctl.config.kiln import InterlockSection
from labctl.config.site import SiteConfig
from labctl.kiln.commands import register_kiln_commands
from labctl.kiln.runner import KilnRunner
from labctl.kiln.settings import RunSettings
from labctl.kiln.snapshot import KilnSnapshot
from labctl.ledger import keys
from labctl.ledger.burnout import KilnHistory
from labctl.ledger.commands import register_ledger_commands
from labctl.ledger.metal import Melt
from labctl.ledger.recorder import CastRecorder
from labctl.ledger.records import Document, JobTicket, LotReceipt, Supplier, TreeFlask
from labctl.ledger.service import LedgerService
from labctl.runs.state import Outcome, OutcomeKind
from labctl.runs.store import RunStore, RunStoreError
from labctl.web.options import register_start_options
from tests._support.caster_fakes import Crucible, Drive, Gauge, Io, Plant, Tc

REPO = Path(__file__).resolve().parents[2]
TICK_S = 1.0  # both machines tick once a (virtual) second
STRAGGLER_S = 0.1  # wall time a queued command waits for the others sent with it
KILN, CASTER = "k1", "c1"
FLASK_ID, MELT_ID = "F-1", "M-1"
ALLOY = "gold-18k-yellow"  # medium pieces: flask at 566 ± 40 °C, pour at 1025 °C
FLASK_C = 566.0
PROFILE = "matrix-short"
#: A burnout a test can run to its end in ~100 ticks: step to 600 °C, soak 1 min, cool to
#: 590 °C (within the flask window of the alloy above) and hold there until the flask is taken.
PROFILE_TOML = f"""
schema_version = 1
name = "{PROFILE}"
description = "a short burnout for tests"
investment = "gypsum"
pattern = "wax"
flask = "small"
max_temp_c = 760
casting_temp_c = 590
holdback_band_c = 15
holdback_limit_min = 10
soak_band_c = 10
[[segments]]
kind = "step"
target_c = 600
[[segments]]
kind = "hold"
hold_min = 1
[[segments]]
kind = "cool"
target_c = 590
rate_c_per_h = 1000
[[segments]]
kind = "final_hold"
"""
#: The register_* functions the lab below calls: labctl.daemon.app's own (checked by the tests).
REGISTER_FUNCTIONS: tuple[Callable[..., None], ...] = (
    register_kiln_commands,
    register_ledger_commands,
    register_caster_commands,
    register_status,
    register_alarm_commands,
    register_start_options,
    register_commissioning_commands,
)
USERS = {role: role.name.lower() for role in Role}  # the caller's name is its role's name


def app_register_functions() -> set[Callable[..., None]]:
    """Every register_* function labctl.daemon.app (the composition root) uses."""
    return {
        f for n, f in vars(labctl.daemon.app).items() if n.startswith("register_") and callable(f)
    }


# ------------------------------------------------------------------------------ time


class StepClock(VirtualClock):
    """A virtual clock that tells how many tasks sleep on it (see the module docstring)."""

    @property
    def waiting(self) -> int:
        """Tasks asleep on the clock (a woken one counts again only once it sleeps again)."""
        return sum(not fut.done() for _, _, fut in self._sleepers)


# ------------------------------------------------------------------------------ kiln


class InjectedBug(RuntimeError):
    """The unexpected error a fake raises on demand (a bug in a driver, say)."""


@dataclass
class FakeController:
    """A kiln controller: a ramp/dwell programmer (or a streamed remote setpoint) and a PV.

    The PV follows the working setpoint at once unless ``stuck`` (a kiln that lags: holdback);
    it never cools by itself. A streamed setpoint is a lease: without a new one for
    ``lease_s`` the comms-loss fallback takes over (heat off); a program runs on regardless.
    The programmer waits while the PV is outside its holdback band, as a Eurotherm 3216P does.
    """

    clock: VirtualClock
    programmer: bool = True  # the kiln's configured mode (programmer readings carry status)
    pv_c: float = 20.0
    link_up: bool = True
    stuck: bool = False
    sensor_break: bool = False
    refuse_hold: bool = False
    refuse_safe: bool = False
    crash_reads: int = 0  # the next reads raise InjectedBug
    crash_hold: bool = False  # a programmer hold raises InjectedBug (a bug in a command)
    remote_sp: float | None = None
    program: ProgramStatus = ProgramStatus.RESET
    segments: list[DeviceSegment] = field(default_factory=list)
    band_c: float = 0.0
    seg: int = 0
    working_sp: float | None = None
    dwell_left_s: float = 0.0
    last: float = 0.0
    holds: int = 0  # programmer holds the device took
    lease_s: float = 10.0  # stream mode: no setpoint for this long, the fallback (0 °C) engages
    streamed_at: float = 0.0
    has_programmer = True

    @property
    def heating(self) -> bool:
        """Whether the controller drives heat (a program or a streamed setpoint is live)."""
        live = (ProgramStatus.RUN, ProgramStatus.HOLD, ProgramStatus.END)
        leased = self.clock.now() - self.streamed_at <= self.lease_s
        return (self.remote_sp is not None and leased) or self.program in live

    def _link(self) -> None:
        if not self.link_up:
            raise LinkDown("k1 controller: no reply (link down)")

    def _step(self) -> None:
        now = self.clock.now()
        dt, self.last = max(0.0, now - self.last), now
        if self.program is ProgramStatus.RUN:
            self._run_program(dt)
        if self.remote_sp is not None and now - self.streamed_at > self.lease_s:
            self.remote_sp = None  # the comms-loss fallback: the host went silent, heat off
        target = self.working_sp if self.program is not ProgramStatus.RESET else self.remote_sp
        if target is not None and not self.stuck:
            self.pv_c = target

    def _run_program(self, dt: float) -> None:
        while dt > 0 and self.program is ProgramStatus.RUN:
            seg = self.segments[self.seg]
            sp = self.working_sp if self.working_sp is not None else self.pv_c
            if self.band_c and abs(self.pv_c - sp) > self.band_c:
                return  # holdback: the program clock waits for the kiln
            if sp != seg.target_c:
                rate = seg.ramp_rate_c_per_h
                if rate is None:
                    self.working_sp = seg.target_c
                    continue
                need = abs(seg.target_c - sp) / rate * 3600.0
                used = min(need, dt)
                move = rate * used / 3600.0
                self.working_sp = sp + move if seg.target_c > sp else sp - move
                if used >= need:
                    self.working_sp = seg.target_c
                dt -= used
                continue
            if self.dwell_left_s > dt:
                self.dwell_left_s -= dt
                return
            dt -= self.dwell_left_s
            if self.seg + 1 >= len(self.segments):
                self.program = ProgramStatus.END  # dwell at the last target (EndAction.DWELL)
                return
            self.seg += 1
            self.dwell_left_s = self.segments[self.seg].dwell_min * 60.0

    async def connect(self) -> None:
        await asyncio.sleep(0)
        self._link()

    async def read(self) -> ControllerReading:
        await asyncio.sleep(0)
        self._link()
        if self.crash_reads > 0:
            self.crash_reads -= 1
            raise InjectedBug("injected bug in the controller driver")
        self._step()
        live = self.program in (ProgramStatus.RUN, ProgramStatus.HOLD)
        return ControllerReading(
            at=self.clock.now(),
            pv_c=None if self.sensor_break else self.pv_c,
            working_sp_c=self.working_sp if self.programmer else self.remote_sp,
            output_pct=50.0,
            sensor_break=self.sensor_break,
            program=self.program if self.programmer else None,
            program_segment=self.seg + 1 if live else None,
        )

    async def safe_state(self) -> None:
        await asyncio.sleep(0)
        self._link()
        if self.refuse_safe:
            raise DeviceRejected("k1 controller: Modbus exception 4 writing heat off", code=4)
        self.program, self.remote_sp, self.working_sp = ProgramStatus.RESET, None, None

    async def arm_stream(self, *, fallback_sp_c: float) -> None:
        self._link()

    async def stream_setpoint(self, setpoint_c: float) -> None:
        await asyncio.sleep(0)
        self._link()
        self._step()
        self.remote_sp, self.streamed_at = setpoint_c, self.clock.now()

    async def reset_program(self) -> None:
        self._link()
        self.program, self.working_sp = ProgramStatus.RESET, None

    async def download_program(
        self, segments: Sequence[DeviceSegment], *, holdback_band_c: float, end: EndAction
    ) -> None:
        self._link()
        assert end is EndAction.DWELL
        self.segments, self.band_c = list(segments), holdback_band_c

    async def run_program(self) -> None:
        self._link()
        self._step()
        self.program, self.seg, self.working_sp = ProgramStatus.RUN, 0, self.pv_c
        self.dwell_left_s = self.segments[0].dwell_min * 60.0

    async def hold_program(self) -> None:
        await asyncio.sleep(0)
        self._link()
        if self.crash_hold:
            raise InjectedBug("injected bug in the controller's hold")
        if self.refuse_hold:
            raise DeviceRejected(
                "k1 controller: Modbus exception 4 (slave device failure) on program HOLD", code=4
            )
        self._step()
        if self.program is ProgramStatus.RUN:
            self.program = ProgramStatus.HOLD
            self.holds += 1

    async def resume_program(self) -> None:
        await asyncio.sleep(0)
        self._link()
        self._step()
        if self.program is ProgramStatus.HOLD:
            self.program = ProgramStatus.RUN


# ------------------------------------------------------------------------------ caster


@dataclass
class CasterPlant(Plant):
    """The caster physics of test_caster_runner.Plant, with knobs that hold a step."""

    heat_cap_c: float | None = None  # the crucible cannot get hotter (melt never settles)
    pump_weak: bool = False  # the chamber stays above 500 mbar (evacuate waits)
    vent_blocked: bool = False  # the chamber stays evacuated (vent waits)
    arm_accel: float = 200.0  # rpm/s
    arm_decel: float = 100.0
    arm_stuck_rpm: float | None = None  # the arm turns at this speed whatever the drive does
    refuse_reset: bool = False  # the drive answers RESET with Modbus exception 4
    crash: set[str] = field(default_factory=set)  # roles whose next call raises InjectedBug

    def step(self) -> None:
        dt, self.last = self.clock.now() - self.last, self.clock.now()
        if self.sp_c is not None:
            self.crucible_c += max(-50 * dt, min(50 * dt, self.sp_c - self.crucible_c))
            if self.heat_cap_c is not None:
                self.crucible_c = min(self.crucible_c, self.heat_cap_c)
        pumping = self.outputs.pump and not self.pump_broken and self.outputs.chamber_valve
        if (self.outputs.vent_valve and not self.vent_blocked) or self.leak:
            self.mbar = min(1013.0, self.mbar + 200 * dt)
        elif pumping:
            self.mbar = max(500.0 if self.pump_weak else 5.0, self.mbar * 0.8**dt)
        target_rpm = self.drive_hz * 29
        self.rpm += max(-self.arm_decel * dt, min(self.arm_accel * dt, target_rpm - self.rpm))
        if self.arm_stuck_rpm is not None:
            self.rpm = self.arm_stuck_rpm

    def check(self, role: str) -> None:
        super().check(role)
        if role in self.crash:
            self.crash.discard(role)
            raise InjectedBug(f"injected bug in the {role} driver")

    @property
    def heating(self) -> bool:
        """The crucible is driven (a setpoint is streamed to it)."""
        return self.sp_c is not None

    @property
    def energised(self) -> bool:
        """Anything not in its safe state: heat, pump, chamber valve, pour, drive."""
        o = self.outputs
        return self.heating or o.pump or o.chamber_valve or o.pour or self.drive_hz > 0


class ResetRefusingDrive(Drive):
    """A drive that may answer RESET with a Modbus exception."""

    p: CasterPlant

    async def reset_fault(self) -> None:
        self.p.check("drive")
        if self.p.refuse_reset:
            raise DeviceRejected("vfd1: Modbus exception 4 on RESET", code=4)
        self.p.drive_fault = 0


def caster_devices(plant: CasterPlant, kind: CasterKind) -> CasterDevices:
    names = {"crucible": "crucible1", "io": "io1", "crucible_tc": "tc1"}
    vacuum = kind is CasterKind.VACUUM
    names["gauge" if vacuum else "drive"] = "gauge1" if vacuum else "vfd1"
    return CasterDevices(
        names=names,
        crucible=Crucible(plant),
        io=Io(plant),
        crucible_tc=Tc(plant),
        gauge=Gauge(plant) if vacuum else None,
        drive=None if vacuum else ResetRefusingDrive(plant),
    )


# ------------------------------------------------------------------------------ store


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


# ------------------------------------------------------------------------------ commands


def _confirm_step(lab: Lab) -> str:
    return "flask_placed" if lab.caster_kind is CasterKind.VACUUM else "balance_confirmed"


JOB: dict[str, object] = {
    "job_id": "J-2",
    "customer_order": "O-18",
    "piece_ids": ["J-2-a"],
    "cad_file": {"name": "ring.stl", "sha256": "1" * 64},
    "alloy": ALLOY,
    "piece_class": "medium",
}
PAYLOADS: dict[str, Callable[[Lab], Mapping[str, object]]] = {
    "start": lambda lab: {"kiln": KILN, "profile": PROFILE},
    "hold": lambda lab: {"kiln": KILN},
    "resume": lambda lab: {"kiln": KILN},
    "abort": lambda lab: {"kiln": KILN, "reason": "matrix"},
    "take_flask": lambda lab: {"kiln": KILN},
    "cast_start": lambda lab: {
        "caster": CASTER,
        "kiln": KILN,
        "alloy": ALLOY,
        "piece_class": "medium",
        "flask_id": lab.flask_id,
        "melt_id": lab.melt_id,
    },
    "cast_confirm": lambda lab: {"caster": CASTER, "step": _confirm_step(lab)},
    "cast_abort": lambda lab: {"caster": CASTER, "reason": "matrix"},
    "cast_reset_drive": lambda lab: {"caster": CASTER},
    "status": lambda lab: {},
    "alarms": lambda lab: {},
    "alarm_ack": lambda lab: {"id": 1},
    "start_options": lambda lab: {},
    "ledger_status": lambda lab: {},
    "ledger_consistency": lambda lab: {"size": 1},
    "ledger_record": lambda lab: {"kind": "job-ticket", "record": JOB},
    "ledger_export": lambda lab: {"cast_id": "cast-999"},
    "ledger_rotate": lambda lab: {},
    "commissioning": lambda lab: {},
    "commission": lambda lab: {"device": "k9"},  # no such device: refused in every state
}


def _no_device(name: str) -> Any:
    raise AssertionError(f"the matrix commissions no device ({name})")


_NO_LINKS = LabLinks(_no_device, _no_device)


def matrix_site(kiln_mode: str, caster_kind: CasterKind) -> SiteConfig:
    """The site config of the lab below (what commissioning reads of its devices)."""
    vacuum = caster_kind is CasterKind.VACUUM
    return SiteConfig.model_validate(
        {
            "lab": {
                "name": "matrix",
                "allow_uncommissioned": [KILN, CASTER] if kiln_mode == "stream" else [CASTER],
            },
            "buses": {"rs485": {"kind": "rtu", "port": "/dev/ttyUSB0"}},
            "lines": {"gauge_line": {"port": "/dev/ttyUSB1"}},
            "devices": {
                "kiln_tc": {"family": "eurotherm3200", "bus": "rs485", "unit": 1},
                "crucible": {"family": "eurotherm3200", "bus": "rs485", "unit": 2},
                "io": {"family": "iomodule", "bus": "rs485", "unit": 3},
                "drive": {"family": "delta_vfd", "bus": "rs485", "unit": 4},
                "gauge": {"family": "tpg36x", "line": "gauge_line"},
            },
            "kilns": {KILN: {"controller": "kiln_tc", "mode": kiln_mode, "max_temp_c": 760}},
            "casters": {
                CASTER: {
                    "kind": caster_kind.value,
                    "crucible": "crucible",
                    "io": "io",
                    **({"gauge": "gauge"} if vacuum else {"drive": "drive"}),
                    "crucible_max_c": 1450,
                }
            },
        }
    )


# ------------------------------------------------------------------------------ the lab


@dataclass(frozen=True, slots=True)
class Answer:
    """One command's one answer: done (with its result) or refused (with the reason)."""

    done: bool
    text: str  # the reason, or the result as text
    result: Mapping[str, object] | None = None
    wall_s: float = 0.0  # how long the sender waited (real seconds)

    def __str__(self) -> str:
        return f"{'done' if self.done else 'refused'}: {self.text}"


def profiles_dir(tmp: Path) -> Path:
    """The profile library (alloys as shipped) plus the short burnout profile."""
    out = tmp / "profiles"
    if not out.exists():
        shutil.copytree(REPO / "profiles" / "alloys", out / "alloys")
        (out / "burnout").mkdir(parents=True)
        (out / "burnout" / f"{PROFILE}.toml").write_text(PROFILE_TOML)
    return out


async def open_ledger(tmp: Path) -> LedgerService:
    """A ledger with the flask and the melt the casts use already recorded."""
    origin = "matrix.example/ledger/v1"
    key = tmp / "log.key"
    fresh = not key.exists()
    if fresh:
        keys.generate(key, origin)
    service = await LedgerService.open(tmp / "ledger.sqlite", origin=origin, key_files=[key])
    if fresh:
        lot = LotReceipt.model_validate(
            {
                "lot_id": "L-1",
                "received_at": datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
                "received_by": "tech-7",
                "supplier": Supplier(name="Refiner AG"),
                "coc_class": "recycled",
                "metal": "gold",
                "fineness_ppt": 750,
                "mass_mg": 100_000,
            }
        )
        await service.record(lot)
        await service.record(Melt.from_lots(MELT_ID, ALLOY, [(lot, 100_000)], 99_000))
        await service.record(job_ticket("J-1"))
        await service.record(TreeFlask(flask_id=FLASK_ID, tree_id="T-1", job_ids=["J-1"]))
    return service


def job_ticket(job_id: str) -> JobTicket:
    return JobTicket(
        job_id=job_id,
        customer_order="O-17",
        piece_ids=[f"{job_id}-a"],
        cad_file=Document(name="ring.stl", sha256="0" * 64),
        alloy=ALLOY,
        piece_class="medium",
    )


class LabHung(AssertionError):
    """Something the lab waited for did not happen within the wall-time guard."""


@dataclass
class Lab:
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
        registry = CommandRegistry()
        runners, casters = {KILN: self.kiln}, {CASTER: self.caster}
        profiles = profiles_dir(self.tmp)
        register_kiln_commands(registry, runners, profiles, self.store)
        register_ledger_commands(registry, self.recorder, self.tmp / "certificates")
        register_caster_commands(registry, casters, self._kiln_snapshot, profiles, self.recorder)
        register_status(registry, runners, casters, self.store, dict, self.board.texts)
        register_alarm_commands(registry, self.board)
        register_start_options(registry, profiles, self.recorder)
        site, machines = matrix_site(self.kiln_mode, self.caster_kind), {KILN: self.kiln}
        commissioning = DaemonCommissioning(
            site,
            machines | {CASTER: self.caster},
            self.board,
            self.recorder.service,
            _NO_LINKS,
            self.clock,
        )
        register_commissioning_commands(registry, commissioning)
        self.registry = registry

    def _publish_kiln(self, snap: KilnSnapshot) -> None:
        self.telemetry.append(snap)
        self.recorder.history.add(snap)
        self.recorder.trips.add(snap)
        self.board.kiln(snap)

    def _kiln_snapshot(self, name: str) -> KilnSnapshot | None:
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

    # ---------------------------------------------------------------- time
    def alive(self) -> bool:
        return bool(self.tasks) and not any(t.done() for t in self.tasks)

    def dead_loops(self) -> list[str]:
        out = []
        for task in self.tasks:
            if task.done():
                err = None if task.cancelled() else task.exception()
                out.append(f"{task.get_name()}: {err!r}")
        return out

    async def settle(self, guard_s: float = 10.0) -> None:
        """Until every live machine loop sleeps on the clock (its tick's I/O all done)."""
        deadline = time.monotonic() + guard_s
        spins = 0
        while self.clock.waiting < sum(not t.done() for t in self.tasks):
            spins += 1
            if spins < 50:
                await asyncio.sleep(0)
            else:
                await asyncio.sleep(0.0005)  # a store or ledger thread is at work
            if time.monotonic() > deadline:
                raise LabHung(f"a machine loop did not come back to its clock: {self.status()}")

    async def step(self) -> None:
        """Let the next deadline(s) on the clock happen, then settle."""
        await self.settle()
        self.clock.jump_to_next()
        await self.settle()

    async def ticks(self, n: int = 1) -> None:
        """``n`` ticks of time (both machines tick every TICK_S)."""
        target = self.clock.now() + n * TICK_S
        while self.clock.now() < target - 1e-9:
            await self.settle()
            if not self.clock.jump_to_next():
                raise LabHung(f"nothing sleeps on the clock: {self.dead_loops()}")
        await self.settle()

    async def until(self, what: Callable[[], bool], limit_ticks: int = 600, why: str = "") -> None:
        for _ in range(limit_ticks):
            if what():
                return
            await self.ticks(1)
        raise LabHung(f"not reached in {limit_ticks} ticks: {why} {self.status()}")

    def queued(self) -> int:
        """Commands waiting in the machines' queues for their loop to take them."""
        return sum(m._commands._queue.qsize() for m in self.machines)

    async def drive(self, *aws: Awaitable[Any]) -> list[Any]:
        """Await ``aws``; time moves on (one deadline at a time) only once every command still
        unanswered waits in a machine's queue for its loop. So senders "at once" reach the
        same tick, and a command that never reaches a machine (refused at once, a query, a
        ledger write on its own thread) sees no tick go by. Wall-bounded.
        """
        tasks = [asyncio.ensure_future(a) for a in aws]
        deadline = time.monotonic() + COMMAND_DEADLINE_S + 5.0
        try:
            spins, since = 0, time.monotonic()
            while not all(t.done() for t in tasks):
                now = time.monotonic()
                if now > deadline:
                    raise LabHung(f"no answer within {COMMAND_DEADLINE_S} s: {self.status()}")
                spins += 1
                await (asyncio.sleep(0) if spins < 50 else asyncio.sleep(0.0005))
                pending, queued = sum(not t.done() for t in tasks), self.queued()
                asleep = self.clock.waiting >= sum(not t.done() for t in self.tasks)
                # all of them queued (or the rest held up elsewhere a while): the next tick
                if asleep and queued and (queued >= pending or now - since > STRAGGLER_S):
                    self.clock.jump_to_next()
                    since = time.monotonic()
            await self.settle()
        finally:
            for t in tasks:
                if not t.done():
                    t.cancel()
        return [t.result() for t in tasks]

    # ---------------------------------------------------------------- commands
    async def answer(
        self, name: str, payload: Mapping[str, object], role: Role, who: str | None = None
    ) -> Answer:
        """Dispatch one command as ``who`` (default: named after its role); its one answer."""
        started = time.monotonic()
        caller = Caller(who or USERS[role], role)
        try:
            result = await self.registry.dispatch(name, payload, caller)
        except CommandRefused as refused:
            return Answer(False, refused.reason, None, time.monotonic() - started)
        return Answer(True, repr(dict(result)), result, time.monotonic() - started)

    async def command(
        self, name: str, payload: Mapping[str, object], role: Role, who: str | None = None
    ) -> Answer:
        (one,) = await self.drive(self.answer(name, payload, role, who))
        return one  # type: ignore[no-any-return]

    async def together(
        self, name: str, payload: Mapping[str, object], role: Role, n: int = 2
    ) -> list[Answer]:
        """``n`` senders give the same command at once (two transports, one registry)."""
        return await self.drive(*(self.answer(name, payload, role) for _ in range(n)))

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
