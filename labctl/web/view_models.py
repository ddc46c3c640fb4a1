"""The touchscreen's payload as types: what :class:`~labctl.web.view.LabView` builds per tick.

Frozen dataclasses, turned into JSON once, by :meth:`LabState.to_json`, where the state leaves
for the browsers. The caster part and the history rows carry the JSON the daemon already
publishes for them (``CasterSnapshot.as_dict()``, ``history_row``) unchanged, and add the fields
only the touchscreen needs; every field the browser read before keeps its name and meaning.

Temperatures stay numbers in °C; each machine says, per field, whether the number is a
temperature (``absolute``: x * 9/5 + 32 in °F) or a difference (x * 9/5), so ``units.js``
converts without guessing from the name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Final, Literal

from labctl.runs.state import OutcomeKind

TemperatureKind = Literal["absolute", "difference"]

#: The kind of every temperature field a kiln's view carries.
KILN_TEMPERATURES: Final[Mapping[str, TemperatureKind]] = {
    "setpoint_c": "absolute",
    "pv_c": "absolute",
    "flask_core_c": "absolute",
    "casting_c": "absolute",
}
#: The kind of every temperature field of a caster's status.
CASTER_TEMPERATURES: Final[Mapping[str, TemperatureKind]] = {
    "crucible_c": "absolute",
    "crucible_tc_c": "absolute",
    "pour_c": "absolute",
}

Json = dict[str, object]  # a JSON object, only ever built by the to_json methods below


@dataclass(frozen=True, slots=True)
class KilnJob:
    """What a burnout was started for (the run's ``job`` event, written by the start command)."""

    flask_id: str | None = None
    alloy: str | None = None
    piece_class: str | None = None

    @classmethod
    def from_event(cls, text: str) -> KilnJob:
        """The job of a ``job`` event's JSON text; a field that is not a string is left out."""
        fields_ = json.loads(text)
        if not isinstance(fields_, dict):
            return NO_JOB
        got = {k: fields_.get(k) for k in ("flask_id", "alloy", "piece_class")}
        return cls(**{k: v for k, v in got.items() if isinstance(v, str)})


NO_JOB: Final = KilnJob()


@dataclass(frozen=True, slots=True, kw_only=True)
class KilnView:
    """One kiln: its snapshot's fields and the job it burns out for."""

    kiln: str
    wall: float
    state: str
    link: str
    run_id: int | None
    profile: str | None
    segment: str
    segment_index: int | None
    setpoint_c: float | None
    pv_c: float | None
    flask_core_c: float | None
    output_pct: float | None
    eta_s: float | None
    holdback_s: float
    outcome: str | None
    outcome_kind: OutcomeKind | None
    safe: bool
    commissioned: bool
    uncommissioned: tuple[str, ...]
    holding_back: bool
    flask_id: str | None
    alloy: str | None
    piece_class: str | None
    segments: tuple[str, ...]
    casting_c: float | None
    progress_pct: float | None
    temperatures: Mapping[str, TemperatureKind] = field(default_factory=lambda: KILN_TEMPERATURES)

    def to_json(self) -> Json:
        return {f.name: _json(getattr(self, f.name)) for f in fields(self)} | {
            "segments": list(self.segments)
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CasterView:
    """One caster: its status as published, its sequence, and what it takes now."""

    status: Mapping[str, object]  # CasterSnapshot.as_dict(), as MQTT and the CLI get it
    steps: tuple[str, ...]
    step_confirmations: Mapping[str, str]  # step: the confirmation a person gives in it
    waiting_text: str | None
    outcome_kind: OutcomeKind | None
    actions: tuple[str, ...]
    temperatures: Mapping[str, TemperatureKind] = field(default_factory=lambda: CASTER_TEMPERATURES)

    def to_json(self) -> Json:
        extra = {f.name: _json(getattr(self, f.name)) for f in fields(self) if f.name != "status"}
        return {**self.status, **extra, "steps": list(self.steps), "actions": list(self.actions)}


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One run or cast of the history list: the stored row and how it ended, as a field."""

    row: Mapping[str, object]  # commands.status.history_row, as JSON
    outcome_kind: OutcomeKind | Literal["running"]  # "running": not ended yet

    def to_json(self) -> Json:
        return {**self.row, "outcome_kind": str(self.outcome_kind)}


@dataclass(frozen=True, slots=True, kw_only=True)
class LabState:
    """The whole lab as the touchscreen shows it."""

    lab: str
    kilns: Mapping[str, KilnView]
    casters: Mapping[str, CasterView]
    alarms: Sequence[object]  # AlarmBoard.as_json()
    history: Sequence[HistoryRow]
    #: The commands a kiln takes in each state it reports (the same for every kiln, so sent
    #: once and never patched; the screens look up their kiln's ``state``).
    kiln_actions: Mapping[str, tuple[str, ...]]

    def to_json(self) -> Json:
        return {
            "lab": self.lab,
            "kilns": {name: k.to_json() for name, k in self.kilns.items()},
            "casters": {name: c.to_json() for name, c in self.casters.items()},
            "alarms": list(self.alarms),
            "history": [r.to_json() for r in self.history],
            "kiln_actions": {state: list(a) for state, a in self.kiln_actions.items()},
        }


def _json(value: object) -> object:
    """Enums as their value, mappings as dicts (lists are made by each to_json).

    Other tuples stay tuples (JSON arrays once sent), as the snapshots they come from have them.
    """
    if isinstance(value, OutcomeKind):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    return value
