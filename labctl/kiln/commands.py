"""Kiln commands in the shared registry: start, hold, resume, abort, take the flask."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from json import dumps
from pathlib import Path
from typing import Literal

from pydantic import Field

from labctl.commands.registry import NAME, Caller, CommandRefused, CommandRegistry, Id, Payload
from labctl.config.users import Role
from labctl.errors import ProfileError
from labctl.kiln.runner import KilnRunner
from labctl.profiles.alloys import Alloy, AlloyUnusable, PieceClass, load_alloy_named
from labctl.profiles.loader import load_burnout, schedule_to_json
from labctl.profiles.segments import Cool, FinalHold, Schedule
from labctl.runs.store import RunStore

JOB_EVENT = "job"  # run event: the flask, alloy and piece class a burnout was started for


class KilnPayload(Payload):
    """A command addressed to one kiln."""

    kiln: str = Field(pattern=NAME)


class StartPayload(KilnPayload):
    """Start a burnout profile (a file name in the profiles' burnout folder, without .toml).

    With ``alloy`` and ``piece_class``, the final hold is the alloy's flask casting
    temperature for that piece class, and the alloy must allow the profile.
    """

    profile: str = Field(pattern=NAME)
    alloy: str | None = Field(default=None, pattern=NAME)
    piece_class: Literal["thin", "medium", "heavy"] | None = None
    flask_id: Id | None = None  # the flask being burnt out (kept with the run)
    cool_first: bool = False  # a kiln above the loading temperature cools to it first


class AbortPayload(KilnPayload):
    """Abort with an optional reason."""

    reason: str = Field(default="", max_length=200)


def register_kiln_commands(
    registry: CommandRegistry,
    runners: Mapping[str, KilnRunner],
    profiles_dir: Path,
    store: RunStore,
) -> None:
    """Register every kiln command; a start's flask and alloy are a run event in ``store``."""

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
        if p.alloy is not None or p.piece_class is not None:
            if p.alloy is None or p.piece_class is None:
                raise CommandRefused("give both alloy and piece_class, or neither")
            try:
                alloy = load_alloy_named(profiles_dir, p.alloy)
            except AlloyUnusable as err:
                raise CommandRefused(str(err)) from err
            schedule = for_alloy(schedule, alloy, p.piece_class)
        r = runner(p.kiln)
        result = await r.submit(
            lambda: r.start(schedule, schedule_to_json(schedule), who.name, cool_first=p.cool_first)
        )
        job = p.model_dump(include={"flask_id", "alloy", "piece_class"}, exclude_none=True)
        if job:
            run_id = result["run_id"]
            assert isinstance(run_id, int)
            await store.add_event(run_id, at_wall=r.snapshot.wall, kind=JOB_EVENT, text=dumps(job))
        return result

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

    tech = Role.TECHNICIAN
    registry.register("start", StartPayload, tech, start, "start a burnout profile on a kiln")
    registry.register("hold", KilnPayload, tech, hold, "hold a kiln's program")
    registry.register("resume", KilnPayload, tech, resume, "resume a held program")
    registry.register("abort", AbortPayload, tech, abort, "abort a run; heat off")
    registry.register("take_flask", KilnPayload, tech, take_flask, "flask taken: complete the run")


def for_alloy(schedule: Schedule, alloy: Alloy, piece_class: PieceClass) -> Schedule:
    """The schedule with its final hold (and the cool into it) at the alloy's flask temperature."""
    if schedule.name not in alloy.burnout_profiles:
        allowed = ", ".join(alloy.burnout_profiles) or "none in the library yet"
        raise CommandRefused(
            f"{alloy.name} does not allow burnout profile {schedule.name}; allowed: {allowed}"
        )
    old, new = schedule.casting_temp_c, alloy.flask.for_class(piece_class)
    segments = tuple(
        FinalHold(new)
        if isinstance(seg, FinalHold)
        else Cool(new, seg.rate_c_per_h)
        if isinstance(seg, Cool) and seg.target_c == old
        else seg
        for seg in schedule.segments
    )
    try:
        return dataclasses.replace(schedule, segments=segments)
    except ValueError as err:
        raise CommandRefused(
            f"{schedule.name} cannot end at {new:.0f} °C for {alloy.name} {piece_class}: {err}"
        ) from err
