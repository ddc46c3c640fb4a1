"""The matrix's kiln rows: every kiln command in every kiln state (data, as :mod:`.table`)."""

from __future__ import annotations

from tests.labctl.machines.matrix_terms import STATES, Expect, Row, done, refused, same

_NO_RUN = "no burnout is running on k1"
_RUN_ENDED = {
    "hold": f"cannot hold: {_NO_RUN}",
    "resume": f"cannot resume: {_NO_RUN}",
    "take_flask": f"cannot take the flask: {_NO_RUN}",
    "abort": f"cannot abort: {_NO_RUN}",
}


def _kiln_no_run(
    state: str, start: Expect, last: str = "", start_again: Expect | None = None
) -> list[Row]:
    """A kiln without a run: every command but start says so (and names the last run)."""
    shows = (STATES[state].shows,)
    rows = [Row(state, "start", start, start_again or start, ("running",) if start.done else shows)]
    for command, text in _RUN_ENDED.items():
        rows.append(same(state, command, refused(f"{text}{last}"), shows))
    return rows


def _kiln_running(state: str, hold: Expect | None = None) -> list[Row]:
    """A running program (also in holdback): hold it, abort it; nothing else."""
    aborted = done("'outcome': 'aborted by ")
    return [
        same(state, "start", refused("k1 already runs matrix-short (run "), ("running",)),
        Row(state, "hold", done("'state': 'held'"), refused("k1 is already held by "), ("held",))
        if hold is None
        else same(state, "hold", hold, ("running",)),
        same(state, "resume", refused("k1 is already running; nothing to resume"), ("running",)),
        Row(
            state,
            "abort",
            aborted,
            refused(f"{_RUN_ENDED['abort']} (last run: aborted by "),
            ("idle",),
        ),
        same(
            state,
            "take_flask",
            refused("k1 has not reached its final hold (running, "),
            ("running",),
        ),
    ]


_RECOVERING = "k1 is recovering run 1: waiting for its controller; only abort is possible"

KILN_ROWS: list[Row] = [
    *_kiln_no_run(
        "idle", done("'run_id': 1"), start_again=refused("k1 already runs matrix-short (run 1)")
    ),
    *_kiln_running("running"),
    same("held", "start", refused("k1 already runs matrix-short (run 1)"), ("held",)),
    same("held", "hold", refused("k1 is already held by ana since "), ("held",)),
    Row(
        "held",
        "resume",
        done("'state': 'running'"),
        refused("k1 is already running; nothing to resume"),
        ("running",),
    ),
    Row(
        "held",
        "abort",
        done("'outcome': 'aborted by "),
        refused(f"{_RUN_ENDED['abort']} (last run: aborted by "),
        ("idle",),
    ),
    same("held", "take_flask", refused("k1 has not reached its final hold (held, "), ("held",)),
    *_kiln_running("holdback"),
    same("final_hold", "start", refused("k1 already runs matrix-short (run 1)"), ("final_hold",)),
    same(
        "final_hold",
        "hold",
        refused("k1 is at its final hold (590 °C), waiting for the flask: nothing to hold"),
        ("final_hold",),
    ),
    same(
        "final_hold",
        "resume",
        refused("k1 is already at its final hold; nothing to resume"),
        ("final_hold",),
    ),
    Row(
        "final_hold",
        "abort",
        done("'outcome': 'aborted by "),
        refused(f"{_RUN_ENDED['abort']} (last run: aborted by "),
        ("idle",),
    ),
    Row(
        "final_hold",
        "take_flask",
        done("'outcome': 'completed'"),
        refused(f"{_RUN_ENDED['take_flask']} (last run: completed)"),
        ("idle",),
    ),
    *_kiln_running("hold_refused", hold=refused("k1: not done: k1 controller: Modbus exception 4")),
    *_kiln_no_run(
        "faulted_heat_on",
        refused("k1: heat-off not yet confirmed after the last fault"),
        " (last run: faulted: ",
    ),
    *_kiln_running("disconnected", hold=refused("k1: not done: k1 controller: no reply")),
    *_kiln_no_run("idle_disconnected", refused("k1: controller not reachable; check its link")),
    same("recovering", "start", refused(_RECOVERING), ("recovering",)),
    same("recovering", "hold", refused(_RECOVERING), ("recovering",)),
    same("recovering", "resume", refused(_RECOVERING), ("recovering",)),
    same("recovering", "take_flask", refused(_RECOVERING), ("recovering",)),
    Row(
        "recovering",
        "abort",
        done("'outcome': 'aborted by "),
        refused(f"{_RUN_ENDED['abort']} (last run: aborted by "),
        ("idle",),
    ),
    *_kiln_no_run(
        "outcome_unstored",
        refused("k1: the outcome of run 1 is not stored yet (the run store refuses writes"),
        " (last run: faulted: the run store cannot be written",
    ),
]
