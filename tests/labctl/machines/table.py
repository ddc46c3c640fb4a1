"""The command x state matrix as data: what every command answers in every machine state.

A :class:`Row` is one command given in one state of its machine (by a user whose role may give
it): the first answer, the answer to the same command given again right after, the answers
when two senders give it at once, and the state the machine may show afterwards. A lower role
is always refused with "needs a <role>" and changes nothing; the test derives those cells.

Pure data (no pytest, no asyncio, no lab): :mod:`tests.labctl.machines.matrix_summary`
prints it. Its terms are in :mod:`.matrix_terms`, its kiln and caster rows in :mod:`.kiln_rows`
and :mod:`.caster_rows`; the lab-wide rows are here. Kiln commands have rows in every kiln
state, caster commands in every caster state of both caster kinds, and the lab-wide commands
(status, alarms, ledger, ...) in every state of both.
"""

from tests.labctl.machines.caster_rows import CASTER_ROWS
from tests.labctl.machines.kiln_rows import KILN_ROWS
from tests.labctl.machines.matrix_terms import (
    CASTER_COMMANDS,
    KILN_COMMANDS,
    LAB_COMMANDS,
    ROLES,
    STATES,
    Expect,
    Row,
    done,
    refused,
    same,
)

__all__ = [
    "CASTER_COMMANDS",
    "KILN_COMMANDS",
    "LAB_COMMANDS",
    "ROLES",
    "ROWS",
    "STATES",
    "Expect",
    "Row",
    "machine_of",
    "refused",
]


def _lab_rows(state: str) -> list[Row]:
    shows = STATES[state].shows
    here = (shows, *STATES[state].moves_on)
    return [
        same(state, "status", done(f"'state': '{shows}'"), here),
        same(state, "alarms", done("'alarms': [{"), here),
        Row(
            state, "alarm_ack", done("'acked_by': "), refused("alarm 1 was acknowledged by "), here
        ),
        same(state, "start_options", done("'profiles': [{'name': 'matrix-short'"), here),
        same(state, "ledger_status", done("'origin': 'matrix.example/ledger/v1'"), here),
        same(state, "ledger_consistency", done("'proof': ["), here),
        Row(
            state,
            "ledger_record",
            done("'id': 'J-2'"),
            refused("job-ticket J-2 is already in the ledger"),
            here,
        ),
        same(state, "ledger_export", refused("cast-999 is not in the ledger"), here),
        same(
            state,
            "ledger_rotate",
            refused("no rotation: a rotation needs the old and the new key"),
            here,
        ),
        same(state, "commissioning", done("'device': 'k1', 'machine': 'k1'"), here),
        same(state, "commission", refused("no device 'k9' in this site"), here),
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
