"""The matrix's caster rows: every caster command in every state of both caster kinds (data)."""

from __future__ import annotations

from tests.labctl.machines.matrix_terms import STATES, Expect, Row, done, refused, same

_V, _C = "vacuum", "centrifugal"  # the caster kinds, as the states name them
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
        same(state, "cast_confirm", refused(_NOT_CASTING[0]), shows),
        same(state, "cast_abort", refused(_NOT_CASTING[1]), shows),
        same(state, "cast_reset_drive", reset, shows),
    ]


def _caster_casting(state: str, reset: Expect) -> list[Row]:
    spec = STATES[state]
    here = (spec.shows, *spec.moves_on)
    return [
        same(state, "cast_start", refused("c1 is already casting (cast "), here),
        same(state, "cast_confirm", refused("waits for no confirmation, not "), here),
        Row(
            state,
            "cast_abort",
            done("'outcome': 'aborted by "),
            refused(_NOT_CASTING[1]),
            ("idle",),
        ),
        same(state, "cast_reset_drive", reset, here),
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
