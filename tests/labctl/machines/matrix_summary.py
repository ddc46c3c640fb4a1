"""The command x state matrix in one table, for the README ("What an operator cannot break").

``python -m tests.labctl.machines.matrix_summary`` prints it as markdown: one line per machine
state, one column per command; each cell says what a user whose role may give the command gets
(``done`` or ``refused``), the first time and when the same command is given again right after
(``done/refused``); then, per command, in how many states it is done or refused (the
first time). Built from :mod:`tests.labctl.machines.table`, the data the matrix test runs.
"""

from __future__ import annotations

import sys
from collections import Counter

from tests.labctl.machines import table

_SHORT = {True: "done", False: "refused"}


def _cell(row: table.Row) -> str:
    first, again = _SHORT[row.first.done], _SHORT[row.again.done]
    text = first if first == again else f"{first}/{again}"
    return f"{text} (xfail)" if row.bug else text


def render() -> str:
    """The matrix as a markdown table, with its totals."""
    rows = {(r.state, r.command): r for r in table.ROWS}
    commands = [*table.KILN_COMMANDS, *table.CASTER_COMMANDS, *table.LAB_COMMANDS]
    lines = [
        f"| state | {' | '.join(f'`{c}`' for c in commands)} |",
        f"|---|{'---|' * len(commands)}",
    ]
    for state in table.STATES.values():
        cells = [_cell(rows[state.name, c]) if (state.name, c) in rows else "" for c in commands]
        lines.append(f"| {state.machine}: {state.name} | {' | '.join(cells)} |")
    lines += ["", "| command | needs | states | done | refused |", "|---|---|---|---|---|"]
    for command in commands:
        own = [r for r in table.ROWS if r.command == command]
        n = Counter(r.first.done for r in own)
        role = table.ROLES[command].name.lower()
        lines.append(f"| `{command}` | {role} | {len(own)} | {n[True]} | {n[False]} |")
    counts = Counter(r.first.done for r in table.ROWS)
    again = Counter(r.again.done for r in table.ROWS)
    lines += [
        "",
        f"{len(table.ROWS)} command x state rows ({len(table.STATES)} states, "
        f"{len(commands)} commands): first answer done {counts[True]}, refused "
        f"{counts[False]}; the same command again: done {again[True]}, refused {again[False]}. "
        "Each row is run by every role (a role too low is refused and changes nothing), twice "
        "in a row and from two senders at once; every answer comes within the command "
        "deadline and every machine loop keeps ticking.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
