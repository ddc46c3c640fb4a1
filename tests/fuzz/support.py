"""Shared settings and checks of the fuzz tests (hypothesis profile "ci", error checks).

``LABCTL_FUZZ_SCALE`` multiplies every test's example count (default 1: the CI budget, the
whole hypothesis part under a minute on two cores); e.g. ``LABCTL_FUZZ_SCALE=50`` for a long
local run. The database is off, so nothing is written outside the test's tmp directories.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from labctl.cast.commands import register_caster_commands
from labctl.commands.registry import Caller, CommandRegistry, Handler, Payload
from labctl.commands.status import register_status
from labctl.commission.daemon_commands import register_commissioning_commands
from labctl.config.users import Role
from labctl.kiln.commands import register_kiln_commands
from labctl.ledger.commands import register_ledger_commands

REGISTER_FUNCTIONS: tuple[Callable[..., None], ...] = (  # each gets Unused for its I/O
    register_status,
    register_kiln_commands,
    register_caster_commands,
    register_ledger_commands,
    register_commissioning_commands,
)

SCALE = max(1, int(os.environ.get("LABCTL_FUZZ_SCALE", "1")))
DEADLINE = timedelta(milliseconds=500)  # every parser call returns fast, on a loaded CI box

settings.register_profile(
    "ci",
    deadline=DEADLINE,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CI = settings.get_profile("ci")


def fuzz(examples: int, *, deadline: timedelta | None = DEADLINE) -> settings:
    """The "ci" profile with ``examples`` examples (times LABCTL_FUZZ_SCALE)."""
    return settings(CI, max_examples=examples * SCALE, deadline=deadline)


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid reply with up to three bytes replaced, inserted or deleted (or left alone)."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.integers(0, 3))):
        op, at = draw(st.sampled_from("rid")), draw(st.integers(0, len(data)))
        byte = draw(st.integers(0, 255))
        if op == "r" and at < len(data):
            data[at] = byte
        elif op == "i":
            data.insert(at, byte)
        elif at < len(data):
            del data[at]
    return bytes(data)


TOML_VALUES = [
    "-1", "0", "1e309", "nan", "inf", "-inf", '""', '"x"', "[]", "{}", "true", "-0.0",
    "99999999999999999999", "1979-05-27", "[1, 2]", '"../../etc/passwd"', '"a\\u0000b"',
]  # fmt: skip


@st.composite
def edited_lines(draw: st.DrawFn, text: str) -> bytes:
    """``text`` with a few lines deleted, duplicated or given another value (``key = other``)."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        op = draw(st.sampled_from(["value", "value", "delete", "duplicate"]))
        if not lines:
            break
        if op == "delete":
            del lines[at]
        elif op == "duplicate":
            lines.insert(at, lines[at])
        elif "=" in lines[at]:
            key = lines[at].split("=", 1)[0]
            lines[at] = f"{key}= {draw(st.sampled_from(TOML_VALUES) | st.text(max_size=8))}"
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def says(err: BaseException, *words: str) -> None:
    """The error's message is a sentence that names every one of ``words``."""
    text = str(err)
    assert text.strip(), f"{type(err).__name__} with an empty message"
    missing = [w for w in words if w not in text]
    assert not missing, f"{type(err).__name__}({text!r}) does not name {missing}"


# ---- the daemon's command registry with spies for handlers ----

JSON_SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
PLAUSIBLE = st.sampled_from(
    ["kiln1", "caster1", "gold-18k-yellow", "gypsum-wax-small", "thin", "heavy", "flask_placed",
     "cast-1", "..", "a/b", "", "x" * 65, "lot-receipt", "melt", "job-ticket", "J1"]
) | st.integers(-2, 10)  # fmt: skip


class Unused:
    """Stands in for a runner, store or recorder that the spy handlers never reach."""

    def __getattr__(self, name: str) -> Unused:
        return Unused()


@dataclass(frozen=True, slots=True)
class Dispatched:
    """One handler call the registry made."""

    command: str
    payload: Payload
    caller: Caller


class SpyRegistry(CommandRegistry):
    """The real registry; each registered handler is replaced by a spy that records its call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Dispatched] = []
        self.models: dict[str, type[Payload]] = {}
        self.roles: dict[str, Role] = {}

    def register(
        self, name: str, payload: type[Payload], role: Role, handler: Handler, summary: str
    ) -> None:
        async def spy(validated: Payload, caller: Caller) -> Mapping[str, object]:
            self.calls.append(Dispatched(name, validated, caller))
            return {"spied": name}

        self.models[name], self.roles[name] = payload, role
        super().register(name, payload, role, spy, summary)


def populated_registry() -> SpyRegistry:
    """Every command the daemon registers (by the real register_* functions), spied on."""
    registry = SpyRegistry()
    for register in REGISTER_FUNCTIONS:
        params = list(inspect.signature(register).parameters.values())[1:]
        register(registry, *(Unused() for p in params if p.default is inspect.Parameter.empty))
    return registry


GOOD_VALUES: dict[str, object] = {
    "kiln": "kiln1", "caster": "caster1", "profile": "gypsum-wax-small", "alloy": "silver-925",
    "piece_class": "thin", "step": "flask_placed", "reason": "door open", "cast_id": "cast-1",
    "size": 1, "kind": "job-ticket", "record": {}, "flask_id": "F-1", "melt_id": "M-1",
}  # fmt: skip


def requests_for(registry: SpyRegistry) -> st.SearchStrategy[tuple[str, dict[str, object]]]:
    """(command, payload): mostly the command's own fields with good, plausible or any JSON
    values, one maybe missing or an unknown key added; or an unknown command name."""

    @st.composite
    def payload(draw: st.DrawFn, name: str) -> tuple[str, dict[str, object]]:
        fields = sorted(registry.models[name].model_fields)
        raw: dict[str, object] = {}
        for field in fields:
            good = st.just(GOOD_VALUES.get(field))
            raw[field] = draw(st.one_of(good, good, good, PLAUSIBLE, JSON), label=field)
        if fields and draw(st.integers(0, 3)) == 0:
            del raw[draw(st.sampled_from(fields))]
        if draw(st.integers(0, 3)) == 0:
            raw[draw(st.text(max_size=10))] = draw(JSON)
        return name, raw

    unknown = st.tuples(
        st.text(max_size=16), st.dictionaries(st.text(max_size=8), JSON, max_size=3)
    )
    return st.sampled_from(registry.names()).flatmap(payload) | unknown


def says_one_of(err: BaseException, *reasons: str) -> None:
    """The error's message gives one of ``reasons``."""
    assert any(r in str(err) for r in reasons), f"{err!r} gives none of {reasons}"
