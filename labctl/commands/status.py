"""The ``status`` query: every kiln and caster now, and the latest runs and casts."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from labctl.cast.runner import CasterRunner
from labctl.commands.registry import Caller, CommandRegistry, Payload, Role
from labctl.kiln.runner import KilnRunner
from labctl.runs.store import RunStore, StoredRun


class EmptyPayload(Payload):
    """No arguments."""


def register_status(
    registry: CommandRegistry,
    kilns: Mapping[str, KilnRunner],
    casters: Mapping[str, CasterRunner],
    store: RunStore,
    telemetry: Callable[[], Mapping[str, object]] | None = None,
    alarms: Callable[[], list[str]] = list,
) -> None:
    """Register ``status`` (observer role: it changes nothing)."""

    async def status(_: EmptyPayload, __: Caller) -> Mapping[str, object]:
        runs = await store.history(limit=10)
        return {
            "kilns": [r.snapshot.as_dict() for r in kilns.values()],
            "casters": [c.snapshot.as_dict() for c in casters.values()],
            "history": [json.loads(json.dumps(history_row(run), default=str)) for run in runs],
            "telemetry": None if telemetry is None else json.loads(json.dumps(telemetry())),
            "alarms": alarms(),
        }

    registry.register("status", EmptyPayload, Role.OBSERVER, status, "every machine's state")


def history_row(run: StoredRun) -> dict[str, object]:
    """One run or cast (``kiln`` is the machine's name; ``mode`` says which kind)."""
    fields = ("id", "kiln", "profile_name", "mode", "started_wall", "started_by", "ended_wall")
    row: dict[str, object] = {name: getattr(run, name) for name in fields}
    row["outcome"] = str(run.outcome or "running")
    return row
