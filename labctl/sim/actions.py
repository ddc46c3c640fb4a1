"""What the rig's control API can do to a simulated device, found by reading its backdoor.

Every public method of a backdoor that returns ``None`` is an action: its name is the method's,
its arguments are the method's parameters (each a ``bool``, ``int`` or ``float``, with the
method's default), its description is the docstring's first line. A query such as the gauge's
``forced_status`` (it returns a value) is not an action. So a backdoor method added to a device
family is in the HTTP API, the ``labctl sim control`` client and ``GET /v1/actions`` without
being listed anywhere else. :func:`method_action` wraps one method (a caster's ``leak``), and
:class:`Action` can wrap a plain callable for a person's act on a caster.

Arguments come from JSON: a ``boolean`` must be ``true``/``false``, an ``integer`` a whole
number, a ``number`` any finite number; every number lies in ``0 .. MAX_NUMBER`` (no backdoor
quantity is negative: delays, leak rates, fault codes, channels).
"""

from __future__ import annotations

import inspect
import json
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Value = bool | int | float

MAX_NUMBER = 65535  # one Modbus word: the largest fault code; ample for delays and leaks
_JSON_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number"}
_SPOKEN: dict[type, str] = {bool: "true or false", int: "an integer", float: "a number"}


class ActionError(ValueError):
    """An action or its arguments refused; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Param:
    """One argument of an action."""

    name: str
    kind: type[bool] | type[int] | type[float]
    default: Value | None = None  # None: required

    @property
    def json_type(self) -> str:
        return _JSON_TYPES[self.kind]

    def check(self, value: object) -> Value:
        """``value`` as this parameter's type, or ActionError naming the parameter."""
        shown = json.dumps(value)[:40]
        if self.kind is bool:
            if isinstance(value, bool):
                return value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if self.kind is int and not isinstance(value, int):
                raise ActionError(f"{self.name} must be an integer, got {shown}")
            if not (math.isfinite(value) and 0 <= value <= MAX_NUMBER):
                raise ActionError(f"{self.name} must be within 0..{MAX_NUMBER}, got {shown}")
            return value if self.kind is int else float(value)
        raise ActionError(f"{self.name} must be {_SPOKEN[self.kind]}, got {shown}")

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.json_type, "required": self.default is None}
        if self.default is not None:
            out["default"] = self.default
        return out


@dataclass(frozen=True, slots=True)
class Action:
    """A named act on a device: ``call`` with checked keyword arguments."""

    name: str
    doc: str
    call: Callable[..., None]
    params: tuple[Param, ...] = ()

    def bind(self, args: Mapping[str, object]) -> dict[str, Value]:
        """The keyword arguments for ``call`` from a JSON object, or ActionError."""
        names = [p.name for p in self.params]
        unknown = sorted(set(args) - set(names))
        if unknown:
            takes = ", ".join(names) or "no arguments"
            raise ActionError(f"{self.name} has no argument {', '.join(unknown)} (takes: {takes})")
        bound: dict[str, Value] = {}
        for param in self.params:
            if param.name in args:
                bound[param.name] = param.check(args[param.name])
            elif param.default is None:
                raise ActionError(f"{self.name} needs {param.name} ({_SPOKEN[param.kind]})")
        return bound

    def describe(self) -> dict[str, object]:
        return {"doc": self.doc, "args": {p.name: p.describe() for p in self.params}}


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def method_action(method: Callable[..., object], *, name: str | None = None) -> Action:
    """The action of one bound method, its parameters read from its signature and hints.

    TypeError when a parameter is not a bool, int or float, or has no annotation: a backdoor
    method the API cannot express is a mistake to see at start, not at the first request.
    """
    hints = typing.get_type_hints(method)
    params = []
    for p in inspect.signature(method).parameters.values():
        kind = hints.get(p.name)
        if kind not in _JSON_TYPES or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{method.__qualname__}: parameter {p.name} is not a bool/int/float")
        default = None if p.default is p.empty else p.default
        params.append(Param(p.name, kind, default))
    call = typing.cast(Callable[..., None], method)
    return Action(name or method.__name__, _first_line(method.__doc__), call, tuple(params))


def backdoor_actions(backdoor: object) -> dict[str, Action]:
    """Every action of a backdoor: its public methods that return None, by name."""
    actions = {}
    for name, function in inspect.getmembers(type(backdoor), inspect.isfunction):
        if name.startswith("_") or typing.get_type_hints(function).get("return") is not type(None):
            continue
        actions[name] = method_action(getattr(backdoor, name))
    return actions


def backdoor_flags(backdoor: object) -> dict[str, object]:
    """The fault state a backdoor holds: its link faults and its public flags, JSON-ready."""
    flags: dict[str, object] = {}
    for name in dir(backdoor):
        value = None if name.startswith("_") else getattr(backdoor, name)
        if value is None or callable(value):
            continue
        if name == "faults":  # the link's Faults dataclass
            flags.update({k: getattr(value, k) for k in value.__dataclass_fields__})
        elif isinstance(value, set | frozenset):
            flags[name] = sorted(value)
        elif isinstance(value, bool | int | float):
            flags[name] = value
    return flags
