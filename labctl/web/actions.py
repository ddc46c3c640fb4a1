"""What each machine takes now, and how its last run ended, for the touchscreen's buttons.

The screens show a command's button only when the daemon would carry it out in the state the
machine is in; these answers come from the rules the daemon itself checks (the run's
transition table in :mod:`labctl.runs.state`, the runners' "is there a run/cast" checks), so
the browser holds no copy of them. Refusals that depend on more than the state (a lost link,
an open lid) are still the daemon's answer to the command, shown as a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from labctl.runs.state import TRANSITIONS, Event, OutcomeKind, Phase

#: Kiln commands that move a run, and the run event each one is (KilnRunner.hold, ...).
KILN_RUN_COMMANDS: Final[Mapping[str, Event]] = {
    "hold": Event.HOLD,
    "resume": Event.RESUME,
    "take_flask": Event.COMPLETE,
    "abort": Event.ABORT,
}
KILN_NO_RUN = frozenset({"idle", "ended"})  # KilnSnapshot.state of a kiln without a run
KILN_RECOVERING = "recovering"  # a run a previous daemon left: KilnRunner.abort ends it
CASTER_NO_CAST = frozenset({"idle", "recovering"})  # CasterSnapshot.state between casts


def kiln_actions(state: str) -> tuple[str, ...]:
    """The kiln commands a kiln in ``state`` (``KilnSnapshot.state``) takes now."""
    if state in KILN_NO_RUN:
        return ("start",)
    if state == KILN_RECOVERING:
        return ("abort",)  # everything else is refused until the controller answers
    phase = Phase(state)
    return tuple(name for name, event in KILN_RUN_COMMANDS.items() if phase in allowed_from(event))


def kiln_action_table() -> dict[str, tuple[str, ...]]:
    """:func:`kiln_actions` for every state a kiln reports: sent once, as it never changes."""
    states = [*KILN_NO_RUN, KILN_RECOVERING, *(p.value for p in Phase if p is not Phase.ENDED)]
    return {state: kiln_actions(state) for state in sorted(states)}


def allowed_from(event: Event) -> frozenset[Phase]:
    """The phases a run may take ``event`` in."""
    return TRANSITIONS[event][0]


def caster_actions(state: str, waiting_for: str | None, drive_fault: int | None) -> tuple[str, ...]:
    """The caster commands a caster takes now, from its status (CasterRunner's checks).

    A start needs a caster that is idle (not casting, not still recovering); abort needs a
    cast; a confirmation needs a step that waits for one; clearing a drive fault needs a
    latched fault and no cast.
    """
    casting = state not in CASTER_NO_CAST
    actions = []
    if state == "idle":
        actions.append("cast_start")
    if casting:
        actions.append("cast_abort")
    if casting and waiting_for:
        actions.append("cast_confirm")
    if not casting and drive_fault:
        actions.append("cast_reset_drive")
    return tuple(actions)


def outcome_kind(outcome: str | None) -> OutcomeKind | None:
    """The kind of a run outcome as the runners report it (``str(Outcome)``), or None.

    ``Outcome.__str__`` writes the kind first ("completed", "aborted by ana", "faulted: ...",
    "interrupted: ..."); this reads it back, so the browser colours by the field, not the text.
    """
    if not outcome:
        return None
    first = outcome.split(":", 1)[0].split(" ", 1)[0]
    return OutcomeKind(first) if first in _KINDS else None


_KINDS: Final = frozenset(k.value for k in OutcomeKind)
