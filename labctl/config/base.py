"""How labctl reads every file a person writes: one strict model, one name rule, one reader.

The site config, burnout and alloy profiles and simulator rig files are all TOML checked by a
pydantic model. They are read here, the same way, so each error names the file, the field and the
problem in the same words (:class:`labctl.errors.ProfileError` and its :class:`ConfigError`), and
a file that is unreadable, not UTF-8, not TOML or nested deeper than the parser can follow is a
clear error rather than a traceback.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labctl.errors import ProfileError

#: A lab, machine, user, profile or alloy name: also an MQTT topic segment and a file name.
NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NAME_PATTERN = rf"^{NAME_RE.pattern}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """A section of a file: unknown keys are errors (a typo is not silently ignored), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_toml(path: Path, error: type[ProfileError], what: str) -> dict[str, Any]:
    """The parsed file; ``error`` (naming ``path``) when it cannot be read or is not TOML.

    ``what`` completes "nested too deeply to be ...", e.g. "a site file".
    """
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise error(path, "", f"cannot read: {err.strerror}") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise error(path, "toml", f"not valid TOML: {err}") from err
    except RecursionError:
        raise error(path, "toml", f"nested too deeply to be {what}") from None


def field_name(
    loc: tuple[int | str, ...],
    *,
    skip: Collection[str] = (),
    indexes: str = ".{}",
    top: str = "(top level)",
) -> str:
    """A pydantic error location as the file's field: ``kilns.k1.max_temp_c``.

    ``skip`` drops the union tags pydantic adds (``tcp``, ``ramp``...); ``indexes`` formats a list
    position (``".{}"``: ``burnout_profiles.0``; ``"[{}]"``: ``segments[0]``); ``top`` is what
    an error of the whole file is called.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += indexes.format(part) if out else str(part)
        elif part not in skip:
            out += f".{part}" if out else part
    return out or top


def validate(
    model: type[M],
    data: dict[str, Any],
    path: Path,
    error: type[ProfileError],
    field: Callable[[tuple[int | str, ...]], str] = field_name,
) -> M:
    """``data`` as ``model``; ``error`` naming the first invalid field (``field`` maps its loc)."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise error(path, field(tuple(first["loc"])), first["msg"]) from err
