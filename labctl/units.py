"""Temperatures for people, in the lab's unit: the one place a °C text becomes a °F text.

labctl computes and stores in °C (fields named ``*_c``, signed records, profiles). What a
person reads (a kiln's segment, an outcome, an alarm, a refusal) is written by many modules
as a sentence in °C; :func:`localize` turns such a sentence into the lab's unit (``[ui]
temperature_unit``) for the touchscreen, MQTT and the CLI.

A number of degrees is either a temperature (``ramp to 371 °C``: x * 9/5 + 32) or a
difference between two (``PV rose 16 °C``, ``band 15 °C``, ``± 15 °C``, a rate in ``°C/h``:
x * 9/5 only). A sentence does not say which, so :data:`DIFFERENCES` names the phrases in
which a number is a difference, and every other ``N °C`` is a temperature. The test of this
module lists every °C text in labctl and what it becomes, so a new text must be classified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Unit = Literal["C", "F"]

_N = r"-?\d+(?:\.\d+)?"
#: A number of degrees Celsius, or a rate (``°C/h``); ``space`` kept as it was (``612.3°C``).
_TOKEN = re.compile(rf"(?<![\d.])(?P<n>{_N})(?P<space>\s?)°C(?P<per>/(?:h|min|s)\b)?")


def to_unit(value_c: float, unit: Unit) -> float:
    """A temperature in ``unit``."""
    return value_c * 9.0 / 5.0 + 32.0 if unit == "F" else value_c


def difference_to_unit(delta_c: float, unit: Unit) -> float:
    """A temperature difference (a rise, a band, a rate) in ``unit``: no offset."""
    return delta_c * 9.0 / 5.0 if unit == "F" else delta_c


def label(unit: Unit) -> str:
    return "°F" if unit == "F" else "°C"


@dataclass(frozen=True, slots=True)
class Difference:
    """A phrase in which each ``{d}`` is a difference in °C and each ``{a}`` a bare temperature.

    ``{a}`` is a temperature written without its unit, which follows the difference after it
    (``600 ± 15 °C``). The rest of ``pattern`` is a regular expression.
    """

    name: str
    pattern: str

    def compiled(self) -> re.Pattern[str]:
        parts = re.split(r"(\{[da]\})", self.pattern)
        out, count = [], 0
        for part in parts:
            if part in ("{d}", "{a}"):
                count += 1
                out.append(f"(?P<{part[1]}{count}>{_N})")
            else:
                out.append(part)
        return re.compile("".join(out))


#: Every phrase in a daemon text whose degrees are a difference; see tests/labctl/test_units.py.
DIFFERENCES: tuple[Difference, ...] = (
    Difference("a rise (runaway)", r"\brose {d} ?°C"),
    Difference("the limit of a rise or drop", r"(?:\brose|°C below)\b[^()]*\(limit {d} ?°C\)"),
    Difference("a drop below a setpoint (resume)", r"{d} ?°C below\b"),
    Difference("above the loading temperature", r"{d} ?°C above the loading temperature"),
    Difference("a step above the segment before", r"{d} ?°C above the [-\d.]+ ?°C before it"),
    Difference("a band", r"\bband {d} ?°C|\bthe {d} ?°C band\b"),
    Difference("away from the setpoint (holdback)", r"\bmore than {d} ?°C from\b"),
    Difference("a tolerance", r"{a} ?± ?{d} ?°C"),
    Difference("a drop", r"\bdrop of {d} ?°C|\bfell {d} ?°C"),
)
_COMPILED = tuple(d.compiled() for d in DIFFERENCES)


def _spans(text: str) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(spans of numbers that are differences, spans of bare temperatures) in ``text``."""
    differences: set[tuple[int, int]] = set()
    bare: set[tuple[int, int]] = set()
    for pattern in _COMPILED:
        for match in pattern.finditer(text):
            for name, value in match.groupdict().items():
                if value is not None:
                    (differences if name[0] == "d" else bare).add(match.span(name))
    return differences, bare


def _number(value: float, like: str) -> str:
    """``value`` with as many decimals as the number it replaces (one at most)."""
    decimals = min(1, len(like.partition(".")[2]))
    text = f"{value:.{decimals}f}"
    return "0" if text in ("-0", "-0.0") and decimals == 0 else text.replace("-0.0", "0.0")


def localize(text: str, unit: Unit) -> str:
    """``text`` (a daemon sentence in °C) with every temperature and difference in ``unit``."""
    if unit == "C" or "°C" not in text:
        return text
    differences, bare = _spans(text)
    edits: list[tuple[int, int, str]] = []
    for match in _TOKEN.finditer(text):
        raw, per = match["n"], match["per"] or ""
        is_difference = bool(per) or match.span("n") in differences
        value = float(raw)
        converted = difference_to_unit(value, unit) if is_difference else to_unit(value, unit)
        new = f"{_number(converted, raw)}{match['space']}{label(unit)}{per}"
        edits.append((match.start(), match.end(), new))
    tokens = [(start, end) for start, end, _ in edits]
    for start, end in bare:
        if any(s <= start < e for s, e in tokens):
            continue  # a temperature with its unit: converted above
        raw = text[start:end]
        edits.append((start, end, _number(to_unit(float(raw), unit), raw)))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def localize_tree(value: object, unit: Unit) -> object:
    """Every string in a JSON-like ``value`` (dicts, lists, tuples) localized; keys kept."""
    if unit == "C":
        return value
    if isinstance(value, str):
        return localize(value, unit)
    if isinstance(value, Mapping):
        return {k: localize_tree(v, unit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localize_tree(v, unit) for v in value]
    return value


def localize_fields(fields: Mapping[str, object], unit: Unit) -> dict[str, object]:
    """:func:`localize_tree` of a JSON object, typed as one."""
    return {k: localize_tree(v, unit) for k, v in fields.items()}
