"""The ``status`` query: every kiln and caster now, and the latest runs and casts.

It asks a machine only for its snapshot (:class:`Machine`), so it stands below the kiln and
caster rooms that it reports on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Protocol

from labctl.commands.registry import Caller, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.runs.store import RunStore, StoredRun


class Snapshot(Protocol):
    """A machine's state now, as the status JSON shows it."""

    def as_dict(self) -> dict[str, object]: ...


class Machine(Protocol):
    """A kiln or caster runner, as far as ``status`` reads it."""

    @property
    def snapshot(self) -> Snapshot: ...


class EmptyPayload(Payload):
    """No arguments."""


def register_status(
    registry: CommandRegistry,
    kilns: Mapping[str, Machine],
    casters: Mapping[str, Machine],
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
