"""A model-based test of a whole lab: one kiln and one caster, fakes at the device seam.

Hypothesis drives a :class:`RuleBasedStateMachine` through every registered command from any
role (one sender, or two at once), ticks of virtual time, every fault the fakes can inject
(link loss and return, a sensor break, a refused hold or heat-off, an unexpected exception in
a machine's tick, the run store refusing writes, an e-stop, a latched drive fault) and daemon
restarts (SIGTERM-like: machines driven safe; SIGKILL-like: left as they are), then checks the
invariants after every step:

- no machine loop is dead, and each keeps ticking;
- every command got its one answer (a result or a refusal) within its deadline;
- heat is off in every ended or faulted state, or labctl says it is not (``safe`` false);
- an outcome once stored never changes, and a run that faulted never reads completed;
- what the kiln's snapshot and the caster's status say (run id, state) is what the run store
  says is active, allowing for an outcome not yet stored (the store refusing writes).

Bounded for CI (about a minute); ``LABCTL_LONG_TESTS=1`` runs many more and longer examples.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from labctl.commands.queue import COMMAND_DEADLINE_S
from labctl.config.limits import CasterKind
from labctl.config.users import Role
from tests._support.lab import Lab
from tests._support.lab_commands import PAYLOADS, Answer
from tests._support.lab_faults import FAULTS
from tests._support.lab_site import CASTER, FLASK_C, KILN
from tests.labctl.machines.table import CASTER_COMMANDS, KILN_COMMANDS, LAB_COMMANDS

LONG = os.environ.get("LABCTL_LONG_TESTS") == "1"
ROLE = st.sampled_from([Role.TECHNICIAN, Role.TECHNICIAN, Role.SUPERVISOR, Role.OBSERVER])


SHM = Path("/dev/shm")
ENDED_OR_IDLE = ("idle",)


class LabModel(RuleBasedStateMachine):
    """The lab, and what the model remembers of it (outcomes seen, faults injected)."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp(prefix="labctl-model-", dir=SHM if SHM.is_dir() else None))
        self.lab: Lab | None = None
        self.answers: list[Answer] = []
        self.outcomes: dict[int, str] = {}  # run id -> outcome as first stored
        self.faulted: set[int] = set()  # kiln runs labctl reported faulted
        self.active_kiln_run: int | None = None

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    @property
    def it(self) -> Lab:
        assert self.lab is not None
        return self.lab

    # ----------------------------------------------------------------- the lab
    @initialize(
        kind=st.sampled_from(CasterKind),
        mode=st.sampled_from(["programmer", "stream"]),
        flask_ready=st.booleans(),
    )
    def open_lab(self, kind: CasterKind, mode: str, flask_ready: bool) -> None:
        async def go() -> Lab:
            lab = await Lab.open(self.dir, kiln_mode=mode, caster_kind=kind)
            if flask_ready:
                lab.controller.pv_c = FLASK_C
            await lab.start()
            return lab

        self.lab = self.run(go())

    def teardown(self) -> None:
        try:
            if self.lab is not None:
                self.run(self.lab.close())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    # ----------------------------------------------------------------- commands
    def _give(self, name: str, role: Role, at_once: bool) -> None:
        lab = self.it
        payload = PAYLOADS[name](lab)
        if at_once:
            answers = self.run(lab.together(name, payload, role))
        else:
            answers = [self.run(lab.command(name, payload, role))]
        self.answers += answers
        for answer in answers:
            event(f"{name} {'done' if answer.done else 'refused: ' + answer.text[:40]}")
        event(f"kiln {lab.kiln_state()}, caster {lab.caster_state()}")

    @rule(name=st.sampled_from(KILN_COMMANDS), role=ROLE, at_once=st.booleans())
    def kiln_command(self, name: str, role: Role, at_once: bool) -> None:
        self._give(name, role, at_once)

    @rule(name=st.sampled_from(CASTER_COMMANDS), role=ROLE, at_once=st.booleans())
    def caster_command(self, name: str, role: Role, at_once: bool) -> None:
        self._give(name, role, at_once)

    @rule(name=st.sampled_from(LAB_COMMANDS), role=ROLE, at_once=st.booleans())
    def lab_command(self, name: str, role: Role, at_once: bool) -> None:
        self._give(name, role, at_once)

    @rule(what=st.sampled_from(["flask hot in the kiln", "flask placed", "flask removed"]))
    def a_person(self, what: str) -> None:
        lab = self.it
        if what == "flask hot in the kiln":
            if not lab.controller.heating:  # the flask a cast start checks
                lab.controller.pv_c = FLASK_C
        else:
            lab.plant.flask_present = what == "flask placed"

    # ----------------------------------------------------------------- time
    @rule(n=st.integers(1, 30))
    def ticks(self, n: int) -> None:
        self.run(self.it.ticks(n))

    @rule()
    def a_long_while(self) -> None:
        """Long enough for a burnout to reach its final hold, or a cast to end."""
        self.run(self.it.ticks(150))

    # ----------------------------------------------------------------- faults
    @rule(fault=st.sampled_from(sorted(FAULTS)), on=st.booleans())
    def fault(self, fault: str, on: bool) -> None:
        """Inject (or clear) one fault the fakes can simulate."""
        FAULTS[fault](self.it, on)
        event(f"fault {fault} {'on' if on else 'off'}")

    @rule(graceful=st.booleans())
    def daemon_restart(self, graceful: bool) -> None:
        async def go() -> None:
            await self.it.restart(graceful=graceful)
            await self.it.ticks(1)

        self.run(go())

    # ----------------------------------------------------------------- invariants
    @invariant()
    def loops_alive_and_ticking(self) -> None:
        if self.lab is None:
            return
        lab = self.lab
        assert lab.alive(), lab.dead_loops()

    @invariant()
    def every_command_answered_in_time(self) -> None:
        for answer in self.answers:
            assert answer.wall_s < COMMAND_DEADLINE_S, answer
        self.answers.clear()

    @invariant()
    def heat_off_when_ended_or_faulted(self) -> None:
        if self.lab is None:
            return
        lab = self.lab
        snap = lab.kiln.snapshot
        if snap.state in ENDED_OR_IDLE and lab.controller.heating:
            assert not snap.safe, f"kiln idle, heat on, shown safe: {lab.status()}"
        status = lab.caster.snapshot.as_dict()
        if status["state"] in ENDED_OR_IDLE and lab.plant.energised:
            assert status["safe"] is False, f"caster idle, not safe, shown safe: {lab.status()}"

    @invariant()
    def outcomes_are_final_and_honest(self) -> None:
        if self.lab is None:
            return
        lab = self.lab
        snap = lab.kiln.snapshot
        if snap.run_id is not None:
            self.active_kiln_run = snap.run_id
        elif self.active_kiln_run is not None:
            if str(snap.outcome).startswith("faulted"):
                self.faulted.add(self.active_kiln_run)
            self.active_kiln_run = None
        for run in self.run(lab.store.history(limit=1000)):
            if run.outcome is None:
                continue
            text = str(run.outcome)
            assert self.outcomes.setdefault(run.id, text) == text, (run.id, text, self.outcomes)
            if run.id in self.faulted:
                assert not text.startswith("completed"), f"run {run.id} faulted, stored {text}"

    @invariant()
    def status_says_what_the_store_says(self) -> None:
        if self.lab is None:
            return
        lab = self.lab
        snap = lab.kiln.snapshot
        stored = self.run(lab.store.active_run(KILN))
        unrecorded = lab.kiln._unstored  # an outcome the store refused, to be stored later
        if stored is None:
            assert snap.run_id is None and snap.state == "idle", (snap, lab.status())
        elif snap.run_id is None:
            assert unrecorded is not None and unrecorded.run_id == stored.id, (stored, lab.status())
        else:
            assert snap.run_id == stored.id, (stored.id, lab.status())
            assert snap.state in ("running", "held", "final_hold", "recovering"), lab.status()
        status = lab.caster.snapshot.as_dict()
        cast = self.run(lab.store.active_run(CASTER))
        if cast is None:  # recovering: after a restart, until its devices are driven safe
            assert status["cast_id"] is None, lab.status()
            assert status["state"] in ("idle", "recovering"), lab.status()
            assert status["state"] == "idle" or not status["safe"], lab.status()
        elif status["cast_id"] is None:
            unstored = lab.caster._unstored
            assert unstored is not None and unstored.run_id == cast.id, (cast, lab.status())
        else:
            assert status["cast_id"] == cast.id, (cast.id, lab.status())


LabModel.TestCase.settings = settings(
    max_examples=300 if LONG else 80,
    stateful_step_count=80 if LONG else 50,
    deadline=None,
    database=None,
    derandomize=not LONG,  # CI runs the same examples every time; a long run explores
    # CI reports a failing example as found (bounded time); a long run also shrinks it
    phases=list(Phase) if LONG else [Phase.explicit, Phase.reuse, Phase.generate],
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLab = LabModel.TestCase
