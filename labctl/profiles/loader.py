"""Load and check burnout profiles; every error names the file, the field and the problem."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from labctl.config.base import field_name, read_toml, validate
from labctl.errors import ProfileError
from labctl.profiles.alloys import check_alloy_references, load_alloy
from labctl.profiles.models import (
    BurnoutProfile,
    CoolModel,
    FinalHoldModel,
    HoldModel,
    RampModel,
    SegmentModel,
    StepModel,
)
from labctl.profiles.segments import Cool, FinalHold, Hold, Ramp, Schedule, Segment, Step


def _segment(model: SegmentModel, casting_temp_c: float) -> Segment:
    match model:
        case RampModel():
            return Ramp(model.target_c, model.rate_c_per_h)
        case StepModel():
            return Step(model.target_c)
        case HoldModel():
            return Hold(model.hold_min)
        case CoolModel():
            return Cool(model.target_c, model.rate_c_per_h)
        case FinalHoldModel():
            return FinalHold(casting_temp_c)
    raise AssertionError(model)


#: The segment kinds: union tags in an error's location, not fields of the file.
_KIND_TAGS = ("ramp", "step", "hold", "cool", "final_hold")


def _field(loc: tuple[int | str, ...]) -> str:
    return field_name(loc, skip=_KIND_TAGS, indexes="[{}]")


def profile_from_data(path: Path, data: dict[str, Any]) -> Schedule:
    """Validate parsed TOML into a schedule."""
    profile = validate(BurnoutProfile, data, path, ProfileError, _field)
    try:
        return Schedule(
            name=profile.name,
            segments=tuple(_segment(s, profile.casting_temp_c) for s in profile.segments),
            max_temp_c=profile.max_temp_c,
            holdback_band_c=profile.holdback_band_c,
            holdback_limit_min=profile.holdback_limit_min,
            soak_band_c=profile.soak_band_c,
        )
    except ValueError as err:
        raise ProfileError(path, "segments", str(err)) from err


def _read(path: Path) -> dict[str, Any]:
    return read_toml(path, ProfileError, "a profile")


def load_burnout(path: Path) -> Schedule:
    """Read one burnout profile file."""
    schedule = profile_from_data(path, _read(path))
    if path.stem != schedule.name:
        raise ProfileError(path, "name", f"{schedule.name!r} must match the file name")
    return schedule


def schedule_to_json(schedule: Schedule) -> str:
    """The schedule as stored with a run (so a resumed run follows what it started with)."""
    segs = [
        {"kind": type(s).__name__, **{k: getattr(s, k) for k in s.__slots__}}
        for s in schedule.segments
    ]
    return json.dumps(
        {
            "name": schedule.name,
            "max_temp_c": schedule.max_temp_c,
            "holdback_band_c": schedule.holdback_band_c,
            "holdback_limit_min": schedule.holdback_limit_min,
            "soak_band_c": schedule.soak_band_c,
            "segments": segs,
        }
    )


_KINDS: dict[str, type[Segment]] = {c.__name__: c for c in (Ramp, Step, Hold, Cool, FinalHold)}


def schedule_from_json(text: str) -> Schedule:
    data = json.loads(text)
    segs = tuple(_KINDS[s.pop("kind")](**s) for s in data.pop("segments"))
    return Schedule(segments=segs, **data)


ProfileKind = Literal["burnout", "alloy"]


def profile_kind(path: Path) -> ProfileKind:
    """What a profile file is, from its content: a burnout has segments, an alloy a metal."""
    data = _read(path)
    if "segments" in data and "metal" not in data:
        return "burnout"
    if "metal" in data and "segments" not in data:
        return "alloy"
    raise ProfileError(
        path,
        "",
        "cannot tell its kind: a burnout profile has segments, an alloy has a metal; "
        "give --kind burnout or --kind alloy",
    )


def _check_one(path: Path, kind: ProfileKind | None) -> ProfileKind:
    kind = kind or profile_kind(path)
    if kind == "alloy":  # its burnout profiles: the library's, or a burnout/ folder beside it
        library = path.parent.parent if path.parent.name == "alloys" else path.parent
        check_alloy_references(path, load_alloy(path), library / "burnout")
    else:
        load_burnout(path)
    return kind


def check_profiles(
    paths: Iterable[Path], kind: ProfileKind | None = None
) -> tuple[list[tuple[Path, ProfileKind]], list[ProfileError]]:
    """Validate every profile under ``paths`` (each checked as ``kind``, or as its content says).

    Returns the good files with the kind each was checked as, and the errors.
    """
    good: list[tuple[Path, ProfileKind]] = []
    errors: list[ProfileError] = []
    for root in paths:
        files = sorted(root.rglob("*.toml")) if root.is_dir() else [root]
        for path in files:
            try:
                good.append((path, _check_one(path, kind)))
            except ProfileError as err:
                errors.append(err)
    return good, errors
