"""The command x state matrix as data: what every command answers in every machine state.

A :class:`Row` is one command given in one state of its machine (by a user whose role may give
it): the first answer, the answer to the same command given again right after, the answers
when two senders give it at once, and the state the machine may show afterwards. A lower role
is always refused with "needs a <role>" and changes nothing; the test derives those cells.

Pure data (no pytest, no asyncio, no lab): :mod:`tests.labctl.machines.matrix_summary`
prints it. Kiln commands have rows in every kiln state, caster commands in every caster
state of both caster kinds, and the lab-wide commands (status, alarms, ledger, ...) in every
state of both.
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.commands.registry import Role


@dataclass(frozen=True, slots=True)
class Expect:
    """One answer: done (``says`` is in the result's repr) or refused (``says`` in the reason)."""

    done: bool
    says: str
    or_says: tuple[str, ...] = ()  # other words that are as right (a race either side may win)

    def __str__(self) -> str:
        words = " or ".join(repr(s) for s in (self.says, *self.or_says))
        return f"{'done' if self.done else 'refused'} ({words})"

    def matches(self, done: bool, text: str) -> bool:
        return done is self.done and any(s in text for s in (self.says, *self.or_says))


def done(says: str) -> Expect:
    return Expect(True, says)


def refused(says: str, *or_says: str) -> Expect:
    return Expect(False, says, or_says)


@dataclass(frozen=True, slots=True)
class State:
    """A state a machine can be put in with the fakes; ``shows`` is what the machine reports."""

    machine: str  # "kiln" | "caster"
    name: str  # e.g. "held", "vacuum.melt"
    shows: str  # the kiln snapshot's state, or the caster status' state
    what: str  # how the fakes get it there
    moves_on: tuple[str, ...] = ()  # states it may reach by itself while a cell runs


@dataclass(frozen=True, slots=True)
class Row:
    """One command in one state."""

    state: str
    command: str
    first: Expect
    again: Expect  # the same command from the same user, right after the first answer
    after: tuple[str, ...]  # what the machine may show after both (None of these: a failure)
    together: tuple[Expect, Expect] | None = None  # two senders at once (default: first, again)
    bug: str | None = None  # a known product bug: the cell is a strict xfail with this reason

    @property
    def at_once(self) -> tuple[Expect, Expect]:
        return self.together or (self.first, self.again)

    @property
    def changes_nothing(self) -> bool:
        """Refused, or a query: the same answer every time, the machine left as it was."""
        return (
            self.first == self.again
            and self.together is None
            and not (self.first.done and self.command in (*KILN_COMMANDS, *CASTER_COMMANDS))
        )


KILN_STATES = [
    State("kiln", "idle", "idle", "no run; controller answering"),
    State("kiln", "running", "running", "a programmer-mode burnout, 2 ticks in"),
    State("kiln", "held", "held", "running, then held by ana"),
    State("kiln", "holdback", "running", "running with the PV stuck 580 °C below the program"),
    State("kiln", "final_hold", "final_hold", "the burnout ran to its final hold"),
    State("kiln", "hold_refused", "running", "running; the controller answers HOLD with exc. 4"),
    State(
        "kiln",
        "faulted_heat_on",
        "idle",
        "a sensor break faulted the run; the controller refuses the heat-off",
    ),
    State("kiln", "disconnected", "running", "running; the controller's link is down (2 ticks)"),
    State("kiln", "idle_disconnected", "idle", "no run; the controller's link is down"),
    State(
        "kiln",
        "recovering",
        "recovering",
        "restarted with the run active and the controller unreachable",
    ),
    State(
        "kiln",
        "outcome_unstored",
        "idle",
        "the run store refused writes: the run faulted, its outcome not stored yet",
    ),
]

_V, _C = "vacuum", "centrifugal"
CASTER_STATES = [
    State("caster", f"{_V}.idle", "idle", "vacuum caster, no cast"),
    State(
        "caster",
        f"{_V}.preflight",
        "preflight",
        "cast started, pump feedback missing (<5 s)",
        ("melt", "idle"),
    ),
    State("caster", f"{_V}.melt", "melt", "crucible heating capped below pour temperature"),
    State(
        "caster",
        f"{_V}.flask_transfer",
        "flask_transfer",
        "melt settled; waiting for a person to confirm flask_placed",
    ),
    State("caster", f"{_V}.evacuate", "evacuate", "flask confirmed; the pump is weak"),
    State("caster", f"{_V}.pour", "pour", "vacuum reached: the 3 s pour", ("vacuum_hold",)),
    State("caster", f"{_V}.vacuum_hold", "vacuum_hold", "poured; the 90 s vacuum hold"),
    State("caster", f"{_V}.vent", "vent", "venting, the vent blocked"),
    State("caster", f"{_V}.faulted", "idle", "the e-stop tripped the melt; still pressed"),
    State("caster", f"{_V}.disconnected", "idle", "no cast; the crucible controller is silent"),
    State(
        "caster",
        f"{_V}.outcome_unstored",
        "idle",
        "the run store refused writes: the cast faulted, its outcome not stored yet",
    ),
    State("caster", f"{_C}.idle", "idle", "centrifugal caster, no cast"),
    State(
        "caster",
        f"{_C}.preflight",
        "preflight",
        "cast started; the arm still turns",
    ),
    State("caster", f"{_C}.melt", "melt", "crucible heating capped below pour temperature"),
    State(
        "caster",
        f"{_C}.balance",
        "balance",
        "melt settled; waiting for a person to confirm balance_confirmed",
    ),
    State("caster", f"{_C}.spin_up", "spin_up", "balance confirmed; the arm accelerates slowly"),
    State("caster", f"{_C}.spin_hold", "spin_hold", "at speed: the 60 s spin hold"),
    State("caster", f"{_C}.brake", "brake", "braking slowly"),
    State(
        "caster",
        f"{_C}.lid_release",
        "lid_release",
        "arm stopped: the one-tick lid release",
        ("idle",),
    ),
    State("caster", f"{_C}.faulted", "idle", "the e-stop tripped the melt; still pressed"),
    State("caster", f"{_C}.drive_fault", "idle", "no cast; the drive latched fault 58"),
    State(
        "caster",
        f"{_C}.drive_fault_reset_refused",
        "idle",
        "no cast; fault 58 latched and the drive answers RESET with exc. 4",
    ),
    State("caster", f"{_C}.disconnected", "idle", "no cast; the crucible controller is silent"),
]
STATES = {s.name: s for s in [*KILN_STATES, *CASTER_STATES]}

KILN_COMMANDS = ("start", "hold", "resume", "abort", "take_flask")
CASTER_COMMANDS = ("cast_start", "cast_confirm", "cast_abort", "cast_reset_drive")
LAB_COMMANDS = (
    "status",
    "alarms",
    "alarm_ack",
    "start_options",
    "ledger_status",
    "ledger_consistency",
    "ledger_record",
    "ledger_export",
    "ledger_rotate",
    "commissioning",
    "commission",
)
_OBSERVED = ("status", "alarms", "start_options", "ledger_status", "ledger_consistency")
#: The role each command needs (checked against the registry): lower roles are refused.
ROLES: dict[str, Role] = {
    name: Role.OBSERVER
    if name in _OBSERVED
    else Role.SUPERVISOR
    if name in ("ledger_rotate", "commissioning", "commission")
    else Role.TECHNICIAN
    for name in (*KILN_COMMANDS, *CASTER_COMMANDS, *LAB_COMMANDS)
}

# ----------------------------------------------------------------------- kiln rows

_NO_RUN = "no burnout is running on k1"
_RUN_ENDED = {
    "hold": f"cannot hold: {_NO_RUN}",
    "resume": f"cannot resume: {_NO_RUN}",
    "take_flask": f"cannot take the flask: {_NO_RUN}",
    "abort": f"cannot abort: {_NO_RUN}",
}


def _same(state: str, command: str, answer: Expect, after: tuple[str, ...]) -> Row:
    return Row(state, command, answer, answer, after)


def _kiln_no_run(
    state: str, start: Expect, last: str = "", start_again: Expect | None = None
) -> list[Row]:
    """A kiln without a run: every command but start says so (and names the last run)."""
    shows = (STATES[state].shows,)
    rows = [Row(state, "start", start, start_again or start, ("running",) if start.done else shows)]
    for command, text in _RUN_ENDED.items():
        rows.append(_same(state, command, refused(f"{text}{last}"), shows))
    return rows


def _kiln_running(state: str, hold: Expect | None = None) -> list[Row]:
    """A running program (also in holdback): hold it, abort it; nothing else."""
    aborted = done("'outcome': 'aborted by ")
    return [
        _same(state, "start", refused("k1 already runs matrix-short (run "), ("running",)),
        Row(state, "hold", done("'state': 'held'"), refused("k1 is already held by "), ("held",))
        if hold is None
        else _same(state, "hold", hold, ("running",)),
        _same(state, "resume", refused("k1 is already running; nothing to resume"), ("running",)),
        Row(
            state,
            "abort",
            aborted,
            refused(f"{_RUN_ENDED['abort']} (last run: aborted by "),
            ("idle",),
        ),
        _same(
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
    _same("held", "start", refused("k1 already runs matrix-short (run 1)"), ("held",)),
    _same("held", "hold", refused("k1 is already held by ana since "), ("held",)),
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
    _same("held", "take_flask", refused("k1 has not reached its final hold (held, "), ("held",)),
    *_kiln_running("holdback"),
    _same("final_hold", "start", refused("k1 already runs matrix-short (run 1)"), ("final_hold",)),
    _same(
        "final_hold",
        "hold",
        refused("k1 is at its final hold (590 °C), waiting for the flask: nothing to hold"),
        ("final_hold",),
    ),
    _same(
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
    _same("recovering", "start", refused(_RECOVERING), ("recovering",)),
    _same("recovering", "hold", refused(_RECOVERING), ("recovering",)),
    _same("recovering", "resume", refused(_RECOVERING), ("recovering",)),
    _same("recovering", "take_flask", refused(_RECOVERING), ("recovering",)),
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
# --------------------------------------------------------------------- caster rows

_NOT_CASTING = ("c1 is not casting; nothing to confirm", "c1 is not casting; nothing to abort")


def _caster_idle(
    state: str, start: Expect, reset: Expect, start_again: Expect | None = None
) -> list[Row]:
    shows = (STATES[state].shows,)
    first_start = [
        Row(
            state,
            "cast_start",
            start,
            start_again or start,
            ("preflight", "melt") if start.done else shows,
        )
    ]
    return [
        *first_start,
        _same(state, "cast_confirm", refused(_NOT_CASTING[0]), shows),
        _same(state, "cast_abort", refused(_NOT_CASTING[1]), shows),
        _same(state, "cast_reset_drive", reset, shows),
    ]


def _caster_casting(state: str, reset: Expect) -> list[Row]:
    spec = STATES[state]
    here = (spec.shows, *spec.moves_on)
    return [
        _same(state, "cast_start", refused("c1 is already casting (cast "), here),
        _same(state, "cast_confirm", refused("waits for no confirmation, not "), here),
        Row(
            state,
            "cast_abort",
            done("'outcome': 'aborted by "),
            refused(_NOT_CASTING[1]),
            ("idle",),
        ),
        _same(state, "cast_reset_drive", reset, here),
    ]


_NO_DRIVE = refused("c1 has no drive")
_BETWEEN = refused("c1 is casting; a drive fault is cleared between casts")
_NO_FAULT = refused("c1: the drive reports no fault")
_STARTED = done("'state': 'preflight'")
_ALREADY = refused("c1 is already casting (cast ")

CASTER_ROWS: list[Row] = [
    *_caster_idle(f"{_V}.idle", _STARTED, _NO_DRIVE, _ALREADY),
    *(
        row
        for step in ("preflight", "melt", "evacuate", "pour", "vacuum_hold", "vent")
        for row in _caster_casting(f"{_V}.{step}", _NO_DRIVE)
    ),
    *(r for r in _caster_casting(f"{_V}.flask_transfer", _NO_DRIVE) if r.command != "cast_confirm"),
    Row(
        f"{_V}.flask_transfer",
        "cast_confirm",
        done("'confirmed': 'flask_placed'"),
        refused("c1 is in evacuate and waits for no confirmation, not flask_placed"),
        ("evacuate",),
        together=(
            done("'confirmed': 'flask_placed'"),
            refused("c1 is in flask_transfer and waits for no confirmation"),
        ),
    ),
    *_caster_idle(f"{_V}.faulted", refused("c1 cannot start: the e-stop is pressed"), _NO_DRIVE),
    *_caster_idle(
        f"{_V}.disconnected", refused("c1 cannot start: no reading from crucible1"), _NO_DRIVE
    ),
    *_caster_idle(
        f"{_V}.outcome_unstored",
        refused("c1: the outcome of cast 1 is not stored yet (the run store refuses writes"),
        _NO_DRIVE,
    ),
    *_caster_idle(f"{_C}.idle", _STARTED, _NO_FAULT, _ALREADY),
    *(
        row
        for step in ("preflight", "melt", "spin_up", "spin_hold", "brake")
        for row in _caster_casting(f"{_C}.{step}", _BETWEEN)
    ),
    *(r for r in _caster_casting(f"{_C}.balance", _BETWEEN) if r.command != "cast_confirm"),
    Row(
        f"{_C}.balance",
        "cast_confirm",
        done("'confirmed': 'balance_confirmed'"),
        refused("c1 is in spin_up and waits for no confirmation, not balance_confirmed"),
        ("spin_up", "spin_hold"),
        together=(
            done("'confirmed': 'balance_confirmed'"),
            refused("c1 is in balance and waits for no confirmation"),
        ),
    ),
    # the lid release lasts one tick: the second command finds the cast complete
    Row(
        f"{_C}.lid_release",
        "cast_start",
        _ALREADY,
        refused("flask F-1 was already cast: cast-1 (complete"),
        ("idle",),
        together=(_ALREADY, refused(_ALREADY.says, "flask F-1 was already cast")),
    ),
    Row(
        f"{_C}.lid_release",
        "cast_confirm",
        refused("c1 is in lid_release and waits for no confirmation"),
        refused(_NOT_CASTING[0]),
        ("idle",),
        together=(refused("waits for no confirmation"), refused("waits for no confirmation")),
    ),
    Row(
        f"{_C}.lid_release",
        "cast_abort",
        done("'outcome': 'aborted by "),
        refused(_NOT_CASTING[1]),
        ("idle",),
    ),
    Row(
        f"{_C}.lid_release",
        "cast_reset_drive",
        _BETWEEN,
        _NO_FAULT,
        ("idle",),
        together=(_BETWEEN, _BETWEEN),
    ),
    *_caster_idle(f"{_C}.faulted", refused("c1 cannot start: the e-stop is pressed"), _NO_FAULT),
    *(
        r
        for r in _caster_idle(
            f"{_C}.drive_fault",
            refused("c1 cannot start: the drive reports fault code 58"),
            _NO_FAULT,
        )
        if r.command != "cast_reset_drive"
    ),
    Row(f"{_C}.drive_fault", "cast_reset_drive", done("'cleared_fault': 58"), _NO_FAULT, ("idle",)),
    *_caster_idle(
        f"{_C}.drive_fault_reset_refused",
        refused("c1 cannot start: the drive reports fault code 58"),
        refused("c1: not done: vfd1: vfd1: Modbus exception 4 on RESET"),
    ),
    *_caster_idle(
        f"{_C}.disconnected", refused("c1 cannot start: no reading from crucible1"), _NO_FAULT
    ),
]

# ------------------------------------------------------------------------ lab rows


def _lab_rows(state: str) -> list[Row]:
    shows = STATES[state].shows
    here = (shows, *STATES[state].moves_on)
    return [
        _same(state, "status", done(f"'state': '{shows}'"), here),
        _same(state, "alarms", done("'alarms': [{"), here),
        Row(
            state, "alarm_ack", done("'acked_by': "), refused("alarm 1 was acknowledged by "), here
        ),
        _same(state, "start_options", done("'profiles': [{'name': 'matrix-short'"), here),
        _same(state, "ledger_status", done("'origin': 'matrix.example/ledger/v1'"), here),
        _same(state, "ledger_consistency", done("'proof': ["), here),
        Row(
            state,
            "ledger_record",
            done("'id': 'J-2'"),
            refused("job-ticket J-2 is already in the ledger"),
            here,
        ),
        _same(state, "ledger_export", refused("cast-999 is not in the ledger"), here),
        _same(
            state,
            "ledger_rotate",
            refused("no rotation: a rotation needs the old and the new key"),
            here,
        ),
        _same(state, "commissioning", done("'device': 'k1', 'machine': 'k1'"), here),
        _same(state, "commission", refused("no device 'k9' in this site"), here),
    ]


LAB_ROWS = [row for state in STATES for row in _lab_rows(state)]
ROWS: list[Row] = [*KILN_ROWS, *CASTER_ROWS, *LAB_ROWS]


def machine_of(command: str) -> str | None:
    """The machine a command addresses (None: the lab as a whole)."""
    if command in KILN_COMMANDS:
        return "kiln"
    if command in CASTER_COMMANDS:
        return "caster"
    return None
