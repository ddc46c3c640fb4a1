"""JSON from outside (MQTT payloads, HTTP bodies, control-socket lines), bounded before parsing.

``json.loads`` recurses once per nesting level, so 1,000 brackets raise ``RecursionError``
(not a ``ValueError``) and a few MB of text take the loop for a while. :func:`loads_bounded`
checks the size and the nesting depth with a linear scan first, and turns every problem into
:class:`InputRefused` with a reason a client can read.
"""

from __future__ import annotations

import json

MAX_DEPTH = 16  # commands and sign-in bodies are two or three levels deep


class InputRefused(ValueError):
    """Outside input that is not parsed: ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def nesting_depth(text: str) -> int:
    """The deepest bracket nesting of ``text``, brackets inside JSON strings not counted."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_bounded(data: bytes | str, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> object:
    """Parse ``data`` as JSON if it is at most ``max_bytes`` long and ``max_depth`` deep."""
    if len(data) > max_bytes:
        raise InputRefused(f"too large: {len(data)} bytes (limit {max_bytes})")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise InputRefused(f"not UTF-8 text (byte {err.start})") from None
    else:
        text = data
    if nesting_depth(text) > max_depth:
        raise InputRefused(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputRefused(f"not JSON: {err.msg} at column {err.colno}") from None
    except (RecursionError, ValueError) as err:  # defensive: never a traceback for input
        raise InputRefused(f"not usable JSON: {type(err).__name__}") from None
