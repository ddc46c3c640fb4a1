"""Kiln commands in the shared registry: start, hold, resume, abort, take the flask, status."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from labctl.commands import Caller, CommandRefused, CommandRegistry, Payload, Role
from labctl.errors import ProfileError
from labctl.kiln_runner import KilnRunner
from labctl.profiles.loader import load_burnout, schedule_to_json
from labctl.runstore import RunStore

NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class KilnPayload(Payload):
    """A command addressed to one kiln."""

    kiln: str = Field(pattern=NAME)


class StartPayload(KilnPayload):
    """Start a burnout profile (a file name in the profiles' burnout folder, without .toml)."""

    profile: str = Field(pattern=NAME)


class AbortPayload(KilnPayload):
    """Abort with an optional reason."""

    reason: str = Field(default="", max_length=200)


class EmptyPayload(Payload):
    """No arguments."""


def register_kiln_commands(
    registry: CommandRegistry,
    runners: Mapping[str, KilnRunner],
    profiles_dir: Path,
    store: RunStore,
) -> None:
    """Register every kiln command against ``runners``."""

    def runner(kiln: str) -> KilnRunner:
        try:
            return runners[kiln]
        except KeyError:
            raise CommandRefused(
                f"no kiln named {kiln!r}; kilns here: {', '.join(sorted(runners))}"
            ) from None

    async def start(p: StartPayload, who: Caller) -> Mapping[str, object]:
        path = profiles_dir / "burnout" / f"{p.profile}.toml"
        if not path.is_file():
            raise CommandRefused(f"no burnout profile {p.profile!r} in {path.parent}")
        try:
            schedule = load_burnout(path)
        except ProfileError as err:
            raise CommandRefused(f"profile not usable: {err}") from err
        r = runner(p.kiln)
        return await r.submit(lambda: r.start(schedule, schedule_to_json(schedule), who.name))

    async def hold(p: KilnPayload, who: Caller) -> Mapping[str, object]:
        r = runner(p.kiln)
        return await r.submit(lambda: r.hold(who.name))

    async def resume(p: KilnPayload, who: Caller) -> Mapping[str, object]:
        r = runner(p.kiln)
        return await r.submit(lambda: r.resume(who.name))

    async def abort(p: AbortPayload, who: Caller) -> Mapping[str, object]:
        r = runner(p.kiln)
        return await r.submit(lambda: r.abort(who.name, p.reason))

    async def take_flask(p: KilnPayload, who: Caller) -> Mapping[str, object]:
        r = runner(p.kiln)
        return await r.submit(lambda: r.take_flask(who.name))

    async def status(_: EmptyPayload, __: Caller) -> Mapping[str, object]:
        runs = await store.history(limit=10)
        return {
            "kilns": [r.snapshot.as_dict() for r in runners.values()],
            "history": [json.loads(json.dumps(run, default=str)) for run in map(_run_row, runs)],
        }

    tech = Role.TECHNICIAN
    registry.register("start", StartPayload, tech, start, "start a burnout profile on a kiln")
    registry.register("hold", KilnPayload, tech, hold, "hold a kiln's program")
    registry.register("resume", KilnPayload, tech, resume, "resume a held program")
    registry.register("abort", AbortPayload, tech, abort, "abort a run; heat off")
    registry.register("take_flask", KilnPayload, tech, take_flask, "flask taken: complete the run")
    registry.register("status", EmptyPayload, Role.OBSERVER, status, "every kiln's state")


def _run_row(run: object) -> dict[str, object]:
    fields = ("id", "kiln", "profile_name", "mode", "started_wall", "started_by", "ended_wall")
    row = {name: getattr(run, name) for name in fields}
    row["outcome"] = str(getattr(run, "outcome", None) or "running")
    return row
