"""What the touchscreen is told each machine takes now, and how its last run ended."""

from __future__ import annotations

import json

import pytest

from labctl.runs.state import Outcome, OutcomeKind
from labctl.web.actions import caster_actions, kiln_actions, outcome_kind
from labctl.web.view_models import NO_JOB, CasterView, HistoryRow, KilnJob


@pytest.mark.parametrize(
    ("state", "actions"),
    [
        ("idle", ("start",)),
        ("ended", ("start",)),
        ("running", ("hold", "abort")),
        ("held", ("resume", "abort")),
        ("final_hold", ("take_flask", "abort")),
        ("starting", ("abort",)),
        ("recovering", ("abort",)),  # KilnRunner.abort ends a run a previous daemon left
    ],
)
def test_kiln_actions_follow_the_run_transitions(state: str, actions: tuple[str, ...]) -> None:
    assert kiln_actions(state) == actions


def test_an_unknown_kiln_state_is_an_error_not_no_buttons() -> None:
    with pytest.raises(ValueError, match="cooling"):
        kiln_actions("cooling")


@pytest.mark.parametrize(
    ("state", "waiting", "fault", "actions"),
    [
        ("idle", None, None, ("cast_start",)),
        ("idle", None, 3, ("cast_start", "cast_reset_drive")),
        ("recovering", None, None, ()),
        ("recovering", None, 3, ("cast_reset_drive",)),
        ("melt", None, 3, ("cast_abort",)),
        ("flask_transfer", "flask_placed", None, ("cast_abort", "cast_confirm")),
        ("complete", None, None, ("cast_abort",)),
    ],
)
def test_caster_actions_follow_the_runners_checks(
    state: str, waiting: str | None, fault: int | None, actions: tuple[str, ...]
) -> None:
    assert caster_actions(state, waiting, fault) == actions


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(OutcomeKind.COMPLETED),
        Outcome(OutcomeKind.ABORTED, by="ana"),
        Outcome(OutcomeKind.ABORTED, reason="door: open", by="ana"),
        Outcome(OutcomeKind.FAULTED, reason="sensor break: PV 1372 °C"),
        Outcome(OutcomeKind.INTERRUPTED, reason="daemon restarted"),
    ],
)
def test_outcome_kind_reads_back_what_outcome_wrote(outcome: Outcome) -> None:
    assert outcome_kind(str(outcome)) is outcome.kind


@pytest.mark.parametrize("text", [None, "", "running", "completely wrong"])
def test_no_outcome_kind_without_an_outcome(text: str | None) -> None:
    assert outcome_kind(text) is None


def test_caster_view_keeps_the_status_and_adds_its_fields() -> None:
    status: dict[str, object] = {"caster": "c1", "state": "melt", "outcome": "faulted: x"}
    view = CasterView(
        status=status,
        steps=("preflight", "melt"),
        step_confirmations={"flask_transfer": "flask_placed"},
        waiting_text=None,
        outcome_kind=OutcomeKind.FAULTED,
        actions=("cast_abort",),
    )
    out = json.loads(json.dumps(view.to_json()))
    assert {k: out[k] for k in status} == status
    assert out["outcome_kind"] == "faulted"
    assert out["actions"] == ["cast_abort"]
    assert out["steps"] == ["preflight", "melt"]
    assert out["step_confirmations"] == {"flask_transfer": "flask_placed"}
    assert out["temperatures"]["crucible_c"] == "absolute"


def test_a_running_history_row_says_so() -> None:
    row = HistoryRow({"id": 4, "outcome": "running"}, "running").to_json()
    assert row == {"id": 4, "outcome": "running", "outcome_kind": "running"}


def test_a_job_event_gives_the_flask_alloy_and_class() -> None:
    text = json.dumps({"flask_id": "F-1", "alloy": "gold-18k", "piece_class": "thin"})
    assert KilnJob.from_event(text) == KilnJob("F-1", "gold-18k", "thin")
    assert KilnJob.from_event(json.dumps({"alloy": "gold-18k"})) == KilnJob(alloy="gold-18k")
    assert KilnJob.from_event(json.dumps({"flask_id": 7})) == NO_JOB  # not what start writes
    assert KilnJob.from_event("[]") == NO_JOB
