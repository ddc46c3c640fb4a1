"""Every signed record agrees with the run store and the telemetry (issue 12, Build point 9).

The lab of :mod:`tests._support.lab`, wired as ``labctl.daemon.app`` wires it
(``stored_history``: the recorder's burnout samples go to the run store, and a restart builds a
new recorder, as a new process would), is driven by the hypothesis model of
:mod:`tests.labctl.machines.test_lab_model` (every command from any role, ticks, every fault,
graceful and SIGKILL-like restarts) plus rules that make signed records likely: a burnout
started for the flask, a technician who casts, a new flask and melt once one is spent.

After every step and at teardown, the oracle (:mod:`tests._support.record_oracle`) reads every
record in the ledger through its public API (``LedgerService.latest``/``find``) and checks it
against ``RunStore``'s public methods and the kiln snapshots the lab published (its telemetry):

cast records (completed, aborted, faulted, interrupted)
    - the cast is a run of that caster in the store; its outcome kind is the stored one (never
      ``complete`` unless the store says completed) and ``outcome_detail`` is the stored
      outcome as text (an interrupted cast may add its documented note after ``"; "``); a
      record signed while the store still refuses the outcome agrees with the outcome the
      caster holds to store later;
    - who confirmed which step (and when) is what the store's ``confirmation`` events and the
      cast's stored state say, in order;
    - the burnout: the run is the newest run of that kiln whose ``job`` event names the flask
      and that started no later than the cast (or none, and then ``peak_kiln_c`` and
      ``burnout`` are null); ``peak_kiln_c`` is the rounded maximum of that run's stored
      samples up to the cast; the sample count and the archived curve (whose SHA-256 the record
      signs) are those stored samples; the peak is a temperature the telemetry showed for it;
- every ended cast in the store has its cast record;
safety-trip records
    - name a kiln run the store holds as ``faulted`` with the same reason (or the faulted
      outcome the kiln holds to store later); ``peak_c`` is the highest PV the telemetry
      showed for that run;
- every kiln run the store holds as faulted has its safety-trip record.

Records carry no burnout segments (a cast record names the profile and the run; a trip names
the run), so "segments actually run" is not a signed claim to check: the segments are only in
the run's events. Bounded for CI (about 30 s); ``LABCTL_LONG_TESTS=1`` explores far longer.
The cases the model found are pinned in :mod:`tests.labctl.machines.test_records_by_hand`.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from labctl.config.limits import CasterKind
from labctl.config.users import Role
from labctl.ledger.metal import Melt
from labctl.ledger.records import TreeFlask
from tests._support.lab import Lab
from tests._support.lab_commands import PAYLOADS
from tests._support.lab_site import ALLOY, FLASK_C, KILN, PROFILE, lot_receipt
from tests._support.record_oracle import record_problems
from tests.labctl.machines.test_lab_model import ROLE, LabModel

LONG = os.environ.get("LABCTL_LONG_TESTS") == "1"
pytestmark = pytest.mark.timeout(0 if LONG else 60)  # a long run takes minutes


# ------------------------------------------------------------------------------ the model


class RecordsModel(LabModel):
    """The lab model, wired like the daemon, whose records must agree with what it stored."""

    flasks = 1
    signed = 0

    @initialize(
        kind=st.sampled_from(CasterKind),
        mode=st.sampled_from(["programmer", "stream"]),
        flask_ready=st.booleans(),
    )
    def open_lab(self, kind: CasterKind, mode: str, flask_ready: bool) -> None:
        async def go() -> Lab:
            lab = await Lab.open(self.dir, kiln_mode=mode, caster_kind=kind, stored_history=True)
            if flask_ready:
                lab.controller.pv_c = FLASK_C
            await lab.start()
            return lab

        self.lab = self.run(go())

    def teardown(self) -> None:
        try:
            if self.lab is not None and self.lab.alive():
                self.records_agree_with_the_store()
                casts = self.run(self.lab.service.latest("cast-record", 1000))
                trips = self.run(self.lab.service.latest("safety-trip", 1000))
                event(f"signed: {min(len(casts), 3)}+ cast records, {min(len(trips), 3)}+ trips")
        finally:
            super().teardown()

    # ----------------------------------------------------------------- rules that sign
    @rule(role=ROLE, for_alloy=st.booleans())
    def burnout_for_the_flask(self, role: Role, for_alloy: bool) -> None:
        """A burnout started for the flask (its run's ``job`` event names it)."""
        lab = self.it
        payload: dict[str, object] = {"kiln": KILN, "profile": PROFILE, "flask_id": lab.flask_id}
        if for_alloy:
            payload |= {"alloy": ALLOY, "piece_class": "medium"}
        answer = self.run(lab.command("start", payload, role))
        self.answers.append(answer)
        event(f"burnout for the flask {'done' if answer.done else 'refused'}")

    @rule(confirm_after=st.integers(0, 40))
    def a_technician_casts(self, confirm_after: int) -> None:
        """Start a cast of the flask and confirm the step a person does, when it comes."""
        lab = self.it
        lab.plant.flask_present = True
        if not lab.controller.heating and lab.kiln_state() == "idle":
            lab.controller.pv_c = FLASK_C
        start = self.run(lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN))
        self.answers.append(start)
        event(f"a cast {'started' if start.done else 'refused: ' + start.text[:40]}")
        if not start.done:
            return
        waits = ("flask_transfer", "balance")

        async def wait() -> None:
            for _ in range(60):
                if lab.caster_state() in (*waits, "idle"):
                    return
                await lab.ticks(1)

        self.run(wait())
        if lab.caster_state() in waits:
            self.run(lab.ticks(confirm_after))
            confirm = PAYLOADS["cast_confirm"](lab)
            answer = self.run(lab.command("cast_confirm", confirm, Role.TECHNICIAN, "tech-7"))
            self.answers.append(answer)
            event(f"confirmed {'done' if answer.done else 'refused'}")

    @precondition(lambda self: self.lab is not None and self.flasks < 4)
    @rule()
    def a_new_flask_and_melt(self) -> None:
        """Another invested flask and another melt, recorded in the ledger."""
        lab = self.it
        self.flasks += 1
        n = self.flasks
        lot = lot_receipt(n)

        async def record() -> None:
            await lab.service.record(lot)
            await lab.service.record(Melt.from_lots(f"M-{n}", ALLOY, [(lot, 100_000)], 99_000))
            flask = TreeFlask(flask_id=f"F-{n}", tree_id=f"T-{n}", job_ids=["J-1"])
            await lab.service.record(flask)

        self.run(record())
        lab.flask_id, lab.melt_id = f"F-{n}", f"M-{n}"

    # ----------------------------------------------------------------- the property
    @invariant()
    def records_agree_with_the_store(self) -> None:
        if self.lab is None:
            return
        lab = self.lab
        problems = self.run(record_problems(lab))
        self.signed = max(self.signed, lab.service.ledger.size)
        assert not problems, "\n".join(["signed records disagree with the store:", *problems])


RecordsModel.TestCase.settings = settings(
    max_examples=200 if LONG else 80,
    stateful_step_count=80 if LONG else 40,
    deadline=None,
    database=None,
    derandomize=not LONG,
    phases=list(Phase) if LONG else [Phase.explicit, Phase.reuse, Phase.generate],
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestRecordsAgree = RecordsModel.TestCase
