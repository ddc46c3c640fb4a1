"""The terms of the command x state matrix: answers, rows, machine states, commands, roles.

:class:`Expect` is one answer, :class:`Row` one command in one state, :class:`State` a state
the fakes can put a machine in. The rows themselves are in :mod:`.kiln_rows`,
:mod:`.caster_rows` and :mod:`.table` (the lab-wide commands, and the whole matrix).
"""

from __future__ import annotations

from dataclasses import dataclass

from labctl.config.users import Role


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


def same(state: str, command: str, answer: Expect, after: tuple[str, ...]) -> Row:
    """A row whose second answer is its first."""
    return Row(state, command, answer, answer, after)
