"""The run state machine: the transition table, honest outcomes, and a stateful model check."""

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from labctl.runs.state import (
    TRANSITIONS,
    Event,
    IllegalTransition,
    Outcome,
    OutcomeKind,
    Phase,
    RunState,
)

FAULT = "over-temperature: PV 812 °C above the limit 790 °C"


def test_a_full_run_completes_and_records_who():
    state = RunState().start().hold("ann")
    assert (state.phase, state.held_by) == (Phase.HELD, "ann")
    state = state.resume("bob").reach_final_hold()
    assert (state.phase, state.held_by, state.resumed_by) == (Phase.FINAL_HOLD, None, "bob")
    state = state.complete("cara")
    assert state.phase is Phase.ENDED
    assert state.outcome == Outcome(OutcomeKind.COMPLETED, by="cara")
    assert str(state.outcome) == "completed"


@pytest.mark.parametrize(
    ("outcome", "text"),
    [
        (Outcome(OutcomeKind.COMPLETED, by="ann"), "completed"),
        (Outcome(OutcomeKind.ABORTED, "wrong flask", "bob"), "aborted by bob"),
        (Outcome(OutcomeKind.FAULTED, FAULT), f"faulted: {FAULT}"),
        (
            Outcome(OutcomeKind.INTERRUPTED, "no temperature reading after restart"),
            "interrupted: no temperature reading after restart",
        ),
    ],
)
def test_outcomes_read_plainly(outcome, text):
    assert str(outcome) == text


@pytest.mark.parametrize(
    ("kind", "reason", "by"),
    [
        (OutcomeKind.ABORTED, "", None),
        (OutcomeKind.FAULTED, "", None),
        (OutcomeKind.INTERRUPTED, "", "x"),
    ],
)
def test_outcomes_need_their_who_or_why(kind, reason, by):
    with pytest.raises(ValueError, match="needs"):
        Outcome(kind, reason, by)


def test_complete_only_from_final_hold():
    with pytest.raises(
        IllegalTransition,
        match="cannot complete: the run is running, and complete is allowed only from final hold",
    ):
        RunState().start().complete("ann")


def test_ended_is_sticky_with_a_clear_message():
    ended = RunState().start().reach_final_hold().complete("ann")
    with pytest.raises(
        IllegalTransition, match=r"cannot abort: the run already ended \(completed\)"
    ):
        ended.abort("bob", "late")
    with pytest.raises(IllegalTransition, match="already ended"):
        ended.interrupt("restart")


def test_fault_after_the_end_is_ignored_and_returned():
    completed = RunState().start().reach_final_hold().complete("ann")
    assert completed.fault(FAULT) is completed
    faulted = RunState().start().fault(FAULT)
    assert faulted.fault("a second trip") is faulted
    assert str(faulted.outcome) == f"faulted: {FAULT}"


def test_the_table_covers_every_event_and_leaves_ended_alone():
    assert set(TRANSITIONS) == set(Event)
    assert all(Phase.ENDED not in allowed for allowed, _ in TRANSITIONS.values())


# --- stateful model check ---------------------------------------------------------------

names = st.sampled_from(["ann", "bob", "cara"])
reasons = st.sampled_from([FAULT, "stale reading: no valid temperature for 4 min (limit 3 min)"])

# The spec, written independently of the module's table: where each event is allowed.
LIVE = {Phase.STARTING, Phase.RUNNING, Phase.HELD, Phase.FINAL_HOLD}
ALLOWED = {
    "start": {Phase.STARTING},
    "hold": {Phase.RUNNING},
    "resume": {Phase.HELD},
    "reach_final_hold": {Phase.RUNNING},
    "complete": {Phase.FINAL_HOLD},
    "abort": LIVE,
    "fault": LIVE,
    "interrupt": LIVE,
}
# Progress events are drawn more often than endings, so that runs reach FINAL_HOLD and complete.
EVENTS = [
    *["start", "hold", "resume", "reach_final_hold", "complete"] * 4,
    "abort",
    "fault",
    "interrupt",
]


def args_for(event: str, by: str, reason: str) -> tuple[str, ...]:
    return {
        "start": (),
        "hold": (by,),
        "resume": (by,),
        "reach_final_hold": (),
        "complete": (by,),
        "abort": (by, reason),
        "fault": (reason,),
        "interrupt": (reason,),
    }[event]


class RunMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.state = RunState()
        self.seen_final_hold = False
        self.faulted_before_end = False
        self.first_outcome: Outcome | None = None

    @rule(event=st.sampled_from(EVENTS), by=names, reason=reasons)
    def act(self, event, by, reason):
        before = self.state
        call = getattr(before, event)
        if before.phase not in ALLOWED[event] and not (
            event == "fault" and before.phase is Phase.ENDED
        ):
            with pytest.raises(IllegalTransition):
                call(*args_for(event, by, reason))
            return
        self.state = call(*args_for(event, by, reason))
        if event == "fault" and before.phase is not Phase.ENDED:
            self.faulted_before_end = True
        self.seen_final_hold |= self.state.phase is Phase.FINAL_HOLD
        if self.first_outcome is None:
            self.first_outcome = self.state.outcome

    @precondition(lambda self: self.state.phase is Phase.ENDED)
    @rule()
    def ended_is_absorbing(self):
        for event in ALLOWED:
            args = args_for(event, "ann", FAULT)
            if event == "fault":
                assert self.state.fault(*args) is self.state
            else:
                with pytest.raises(IllegalTransition):
                    getattr(self.state, event)(*args)

    @invariant()
    def outcome_set_exactly_when_ended(self):
        assert (self.state.outcome is not None) == (self.state.phase is Phase.ENDED)

    @invariant()
    def the_first_outcome_never_changes(self):
        assert self.state.outcome == self.first_outcome

    @invariant()
    def once_faulted_always_faulted(self):
        if self.faulted_before_end:
            assert self.state.outcome is not None
            assert self.state.outcome.kind is OutcomeKind.FAULTED

    @invariant()
    def completed_only_after_final_hold_and_no_fault(self):
        if self.state.outcome is not None and self.state.outcome.kind is OutcomeKind.COMPLETED:
            assert self.seen_final_hold
            assert not self.faulted_before_end


TestRunMachine = RunMachine.TestCase
