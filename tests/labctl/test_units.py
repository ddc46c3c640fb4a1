"""labctl.units: every °C text labctl writes, and what a °F lab reads instead.

:func:`templates` reads labctl's source and finds every text with degrees Celsius in it (an
f-string or string with ``°C``, or an f-string formatting with ``format_c``). Each must be in
``WITH_DIFFERENCES`` (its °F example shows each difference converted without the 32) or in
``ABSOLUTE_ONLY`` (no phrase of it is read as a difference), both in
:mod:`tests.labctl.celsius_texts`. A new text fails
``test_every_celsius_text_in_labctl_is_classified`` until it is added there, with an example:
if it has a difference in a phrase :data:`labctl.units.DIFFERENCES` does not know, add one.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl import units
from labctl.telemetry.mqtt_topics import encode, reply_error, reply_ok
from labctl.units import DIFFERENCES, localize, localize_tree
from tests.labctl.celsius_texts import ABSOLUTE_ONLY, WITH_DIFFERENCES

LABCTL = Path(units.__file__).resolve().parent


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _formats_celsius(node: ast.JoinedStr) -> bool:
    return any(
        isinstance(v, ast.FormattedValue)
        and isinstance(v.value, ast.Call)
        and isinstance(v.value.func, ast.Name)
        and v.value.func.id == "format_c"
        for v in node.values
    )


def templates() -> dict[str, list[str]]:
    """Every °C text in labctl's source: template ("{}" for each value) -> where it is."""
    found: dict[str, list[str]] = {}
    for path in sorted(LABCTL.rglob("*.py")):
        if path.name == "units.py" and path.parent == LABCTL:
            continue  # the converter's own patterns
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                skip.update(id(part) for value in node.values for part in ast.walk(value))
        for node in ast.walk(tree):
            where = (
                f"{path.relative_to(LABCTL.parent)}:{node.lineno}"
                if hasattr(node, "lineno")
                else ""
            )
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values
                )
                if "°C" in text or _formats_celsius(node):
                    found.setdefault(text, []).append(where)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "°C" in node.value
                and id(node) not in skip
            ):
                found.setdefault(node.value, []).append(where)
    return found


def test_every_celsius_text_in_labctl_is_classified() -> None:
    found = templates()
    assert set(WITH_DIFFERENCES).isdisjoint(ABSOLUTE_ONLY)
    known = set(WITH_DIFFERENCES) | set(ABSOLUTE_ONLY)
    new = {t: where for t, where in found.items() if t not in known}
    assert not new, f"°C texts to classify in tests/labctl/test_units.py: {new}"
    gone = sorted(known - set(found))
    assert not gone, f"texts no longer in labctl (remove them from this table): {gone}"


@pytest.mark.parametrize(
    ("celsius", "fahrenheit"), WITH_DIFFERENCES.values(), ids=list(WITH_DIFFERENCES)
)
def test_a_text_with_differences_converts_them_without_the_offset(
    celsius: str, fahrenheit: str
) -> None:
    assert localize(celsius, "F") == fahrenheit
    assert localize(celsius, "C") == celsius
    rate = "°C/" in celsius  # a rate is a difference by its unit
    assert rate or units._spans(celsius)[0], "no phrase of this text is read as a difference"


@pytest.mark.parametrize(("celsius", "fahrenheit"), ABSOLUTE_ONLY.values(), ids=list(ABSOLUTE_ONLY))
def test_an_absolute_only_text_converts_every_number(celsius: str, fahrenheit: str) -> None:
    assert localize(celsius, "F") == fahrenheit
    assert units._spans(celsius) == (set(), set())


def test_every_difference_phrase_is_used_by_a_text_of_labctl() -> None:
    examples = [c for c, _ in WITH_DIFFERENCES.values()]
    extra = ["the kiln fell 20 °C", "a drop of 20 °C"]  # phrases kept for texts to come
    for difference in DIFFERENCES:
        pattern = difference.compiled()
        assert any(pattern.search(e) for e in [*examples, *extra]), difference.name


def test_the_issue_12_example() -> None:
    text = "faulted: runaway: PV rose 16 °C in 5 min with output off (limit 15 °C)"
    assert localize(text, "F") == (
        "faulted: runaway: PV rose 29 °F in 5 min with output off (limit 27 °F)"
    )


def test_an_over_temperature_is_a_temperature_though_it_says_above() -> None:
    text = "faulted: over-temperature: PV 812 °C above the limit 790 °C"
    assert localize(text, "F") == "faulted: over-temperature: PV 1494 °F above the limit 1454 °F"


def test_texts_without_celsius_and_celsius_labs_are_untouched() -> None:
    for text in ("completed", "aborted by ana", "17 min", "link lost", "1013 mbar", "°F"):
        assert localize(text, "F") == text
    assert localize("ramp to 149 °C", "C") == "ramp to 149 °C"


def test_negative_numbers_and_numbers_inside_words() -> None:
    assert localize("at -40 °C", "F") == "at -40 °F"
    assert localize("a drop of -5 °C", "F") == "a drop of -9 °F"
    assert localize("kiln2 at 0 °C", "F") == "kiln2 at 32 °F"
    assert localize("profile v2.5 at 100 °C", "F") == "profile v2.5 at 212 °F"


def test_localize_tree_converts_strings_only() -> None:
    state = {
        "kilns": {"k1": {"pv_c": 100.0, "outcome": "faulted: PV rose 10 °C (limit 5 °C)"}},
        "alarms": [{"text": "kiln1 at 100 °C", "id": 1}],
        "segments": ("step to 100 °C",),
    }
    assert localize_tree(state, "F") == {
        "kilns": {"k1": {"pv_c": 100.0, "outcome": "faulted: PV rose 18 °F (limit 9 °F)"}},
        "alarms": [{"text": "kiln1 at 212 °F", "id": 1}],
        "segments": ["step to 212 °F"],
    }
    assert localize_tree(state, "C") is state


@given(st.integers(-200, 2000), st.integers(0, 500))
def test_temperatures_and_differences_round_trip(t: int, d: int) -> None:
    text = f"PV {t} °C stayed more than {d} °C from the program setpoint {t} °C"
    converted = localize(text, "F")
    numbers = [float(w) for w in converted.replace("°F", "").split() if w.lstrip("-").isdigit()]
    assert numbers == [round(t * 1.8 + 32), round(d * 1.8), round(t * 1.8 + 32)]


def test_mqtt_texts_are_in_the_labs_unit_and_numbers_stay_celsius() -> None:
    outcome = "faulted: runaway: PV rose 16 °C over the last 5 min with output at 0 % (limit 15 °C)"
    state = {"pv_c": 612.5, "outcome": outcome, "alarms": [{"text": "crucible 1080 °C"}]}
    sent = json.loads(encode(state, "F"))
    assert sent["pv_c"] == 612.5  # a field named *_c is °C whatever the lab reads
    assert sent["outcome"] == (
        "faulted: runaway: PV rose 29 °F over the last 5 min with output at 0 % (limit 27 °F)"
    )
    assert sent["alarms"] == [{"text": "crucible 1976 °F"}]
    assert json.loads(encode(state)) == state  # a °C lab: as it was
    refused = json.loads(reply_error("r1", "kiln1 is at its final hold (566 °C)", "F"))
    assert refused["error"] == "kiln1 is at its final hold (1051 °F)"
    answered = json.loads(reply_ok("r2", {"segments": ["ramp to 149 °C at 150 °C/h"]}, "F"))
    assert answered["result"] == {"segments": ["ramp to 300 °F at 270 °F/h"]}
