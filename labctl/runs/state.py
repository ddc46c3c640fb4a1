"""The run-level state machine: a transition table as data, and honest outcomes.

A run goes STARTING -> RUNNING, may be held and resumed by an operator, reaches FINAL_HOLD at
the casting temperature, and ENDS with exactly one :class:`Outcome`:

- *completed*: only from FINAL_HOLD, when the flask is taken;
- *aborted by <who>*, *faulted: <reason>*, *interrupted: <reason>*: from any state but ENDED.

ENDED is terminal and its outcome is final. Every transition out of ENDED raises
:class:`IllegalTransition`, with one exception: :meth:`RunState.fault` on an ended run returns
the run unchanged, whatever its outcome. The safety shutdown calls ``fault`` and may race a
normal end; it must neither fail nor flip the recorded outcome (the trip itself is recorded
as an event). So a completed run is never relabelled, and a fault is never relabelled either:
nothing leaves ENDED.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final


class Phase(enum.StrEnum):
    """Where a run is."""

    STARTING = "starting"
    RUNNING = "running"
    HELD = "held"  # operator hold: the program clock stops
    FINAL_HOLD = "final_hold"  # at casting temperature, ready to cast
    ENDED = "ended"


class Event(enum.StrEnum):
    """What can happen to a run."""

    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    REACH_FINAL_HOLD = "reach final hold"
    COMPLETE = "complete"
    ABORT = "abort"
    FAULT = "fault"
    INTERRUPT = "interrupt"


class OutcomeKind(enum.StrEnum):
    """How a run ended."""

    COMPLETED = "completed"
    ABORTED = "aborted"
    FAULTED = "faulted"
    INTERRUPTED = "interrupted"


class IllegalTransition(Exception):
    """An event that the run's current phase does not allow."""


_LIVE: Final = frozenset(Phase) - {Phase.ENDED}

#: For each event: the phases it is allowed from, and the phase it leads to.
TRANSITIONS: Final[Mapping[Event, tuple[frozenset[Phase], Phase]]] = MappingProxyType(
    {
        Event.START: (frozenset({Phase.STARTING}), Phase.RUNNING),
        Event.HOLD: (frozenset({Phase.RUNNING}), Phase.HELD),
        Event.RESUME: (frozenset({Phase.HELD}), Phase.RUNNING),
        Event.REACH_FINAL_HOLD: (frozenset({Phase.RUNNING}), Phase.FINAL_HOLD),
        Event.COMPLETE: (frozenset({Phase.FINAL_HOLD}), Phase.ENDED),
        Event.ABORT: (_LIVE, Phase.ENDED),
        Event.FAULT: (_LIVE, Phase.ENDED),
        Event.INTERRUPT: (_LIVE, Phase.ENDED),
    }
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended; ``str()`` is the wording shown to people and stored in history.

    Aborts need ``by``; faults and interruptions need a ``reason``.
    """

    kind: OutcomeKind
    reason: str = ""
    by: str | None = None

    def __post_init__(self) -> None:
        if self.kind is OutcomeKind.ABORTED and not self.by:
            raise ValueError("an aborted outcome needs who aborted")
        if self.kind in (OutcomeKind.FAULTED, OutcomeKind.INTERRUPTED) and not self.reason:
            raise ValueError(f"a {self.kind} outcome needs a reason")

    def __str__(self) -> str:
        if self.kind is OutcomeKind.ABORTED:
            return f"aborted by {self.by}"
        if self.kind is OutcomeKind.COMPLETED:
            return "completed"
        return f"{self.kind}: {self.reason}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RunState:
    """One run's phase and outcome. Immutable: every transition returns a new state.

    Attributes:
        phase: The current phase.
        outcome: Set exactly when ``phase`` is ENDED.
        held_by: Who put the run on hold, while it is HELD.
        resumed_by: Who last resumed it from a hold.
        reached_final_hold: Whether the run ever reached FINAL_HOLD.

    """

    phase: Phase = Phase.STARTING
    outcome: Outcome | None = None
    held_by: str | None = None
    resumed_by: str | None = None
    reached_final_hold: bool = False

    def start(self) -> RunState:
        """Begin the program."""
        return self._go(Event.START)

    def hold(self, by: str) -> RunState:
        """Operator hold: the program clock stops until :meth:`resume`."""
        return replace(self._go(Event.HOLD), held_by=by)

    def resume(self, by: str) -> RunState:
        """Continue the program after an operator hold."""
        return replace(self._go(Event.RESUME), held_by=None, resumed_by=by)

    def reach_final_hold(self) -> RunState:
        """The kiln is at casting temperature and waits for the flask to be taken."""
        return replace(self._go(Event.REACH_FINAL_HOLD), reached_final_hold=True)

    def complete(self, by: str) -> RunState:
        """The flask was taken by ``by``: the only way to a *completed* run."""
        return self._end(Event.COMPLETE, Outcome(OutcomeKind.COMPLETED, by=by))

    def abort(self, by: str, reason: str = "") -> RunState:
        """An operator ended the run."""
        return self._end(Event.ABORT, Outcome(OutcomeKind.ABORTED, reason, by))

    def fault(self, reason: str) -> RunState:
        """An interlock or a device failure ended the run; on an ended run, a no-op."""
        if self.phase is Phase.ENDED:
            return self
        return self._end(Event.FAULT, Outcome(OutcomeKind.FAULTED, reason))

    def interrupt(self, reason: str) -> RunState:
        """The run cannot go on after a restart (see :mod:`labctl.kiln.resume`)."""
        return self._end(Event.INTERRUPT, Outcome(OutcomeKind.INTERRUPTED, reason))

    def _end(self, event: Event, outcome: Outcome) -> RunState:
        return replace(self._go(event), outcome=outcome, held_by=None)

    def _go(self, event: Event) -> RunState:
        allowed, target = TRANSITIONS[event]
        if self.phase not in allowed:
            if self.outcome is not None:
                raise IllegalTransition(f"cannot {event}: the run already ended ({self.outcome})")
            raise IllegalTransition(
                f"cannot {event}: the run is {self.phase.replace('_', ' ')}, and {event} is"
                f" allowed only from {', '.join(sorted(p.replace('_', ' ') for p in allowed))}"
            )
        return replace(self, phase=target)
