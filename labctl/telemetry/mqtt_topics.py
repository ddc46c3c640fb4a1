"""MQTT settings, topic names and payloads: pure logic, no I/O.

See :mod:`labctl.telemetry.mqtt` for the topic layout and the design; this module holds what
can be tested with plain values: the bridge's settings, topic names, command parsing and
refusal reasons, reply encoding and the reconnect backoff.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from labctl.commands.bounded_json import InputRefused, loads_bounded
from labctl.units import Unit, localize

_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")  # \Z: "$" would allow a trailing newline


@dataclass(frozen=True, slots=True)
class MqttTls:
    """TLS to the broker; no ``ca_file`` means the system's CAs."""

    ca_file: Path | None = None
    cert_file: Path | None = None  # client certificate, when the broker asks for one
    key_file: Path | None = None


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where the broker is, who labctl is there, and the bridge's bounds and timings."""

    lab: str
    host: str
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: MqttTls | None = None
    client_id: str = "labctl"
    keepalive_s: int = 30
    telemetry_interval_s: float = 5.0
    queue_max: int = 1000
    heartbeat_s: float = 15.0
    heartbeat_timeout_s: float = 10.0
    timeout_s: float = 10.0  # each broker operation (connect, publish, subscribe)
    backoff_min_s: float = 1.0
    backoff_max_s: float = 60.0
    max_payload_bytes: int = 4096
    command_burst: int = 5
    command_rate_per_s: float = 1.0
    user_queue_max: int = 20  # per known user: commands waiting, and replies waiting
    temperature_unit: Unit = "C"  # of the texts (outcomes, alarms, refusals); *_c fields stay °C


def check_segment(kind: str, value: str) -> str:
    """``value`` if it is usable as one topic level (no ``/``, ``+``, ``#``), else ValueError."""
    if not _SEGMENT.match(value):
        raise ValueError(f"{kind} {value!r}: use 1-64 letters, digits, '_', '.' or '-'")
    return value


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic of one lab, under ``labctl/<lab>/``."""

    lab: str

    def __post_init__(self) -> None:
        check_segment("lab", self.lab)

    @property
    def root(self) -> str:
        return f"labctl/{self.lab}"

    @property
    def status(self) -> str:
        return f"{self.root}/status"

    @property
    def heartbeat(self) -> str:
        return f"{self.root}/heartbeat"

    @property
    def commands(self) -> str:
        """The subscription filter for every user's command topic."""
        return f"{self.root}/cmd/+"

    def state(self, machine: str) -> str:
        return f"{self.root}/state/{check_segment('machine', machine)}"

    def events(self, machine: str) -> str:
        return f"{self.root}/events/{check_segment('machine', machine)}"

    def telemetry(self, machine: str) -> str:
        return f"{self.root}/telemetry/{check_segment('machine', machine)}"

    def command(self, user: str) -> str:
        return f"{self.root}/cmd/{check_segment('user', user)}"

    def reply(self, user: str) -> str:
        return f"{self.root}/reply/{check_segment('user', user)}"

    def user_of_command(self, topic: str) -> str | None:
        """The ``<user>`` of ``labctl/<lab>/cmd/<user>``; None for any other topic."""
        prefix = f"{self.root}/cmd/"
        if not topic.startswith(prefix):
            return None
        user = topic[len(prefix) :]
        return user if _SEGMENT.match(user) else None


def _plain(value: object, unit: Unit) -> object:
    """``value`` with non-finite floats as None (JSON has no NaN) and texts in ``unit``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return localize(value, unit)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, unit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, unit) for v in value]
    return value


def encode(document: Mapping[str, object], unit: Unit = "C") -> bytes:
    """Compact JSON; values JSON lacks (enums, datetimes, paths) are written as text.

    Texts are written in ``unit`` (the lab's, :func:`labctl.units.localize`); numbers as given.
    """
    return json.dumps(
        _plain(document, unit), separators=(",", ":"), sort_keys=True, default=str, allow_nan=False
    ).encode()


class CommandRequest(BaseModel):
    """The payload on ``cmd/<user>``: ``{"id": "...", "command": "...", "args": {...}}``.

    ``sent_at`` (optional) is when the sender published it, in unix wall seconds: a command
    older than its deadline when labctl comes to it is refused as stale, with its age.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: StrictStr = Field(min_length=1, max_length=64)
    command: StrictStr = Field(min_length=1, max_length=64)
    args: dict[str, object] = Field(default_factory=dict)
    sent_at: float | None = Field(default=None, strict=True, allow_inf_nan=False)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A command payload that was not accepted, with the request id if it could be read."""

    id: str | None
    reason: str


def parse_command(payload: bytes, max_bytes: int) -> CommandRequest | Refusal:
    """The request in ``payload``, or a :class:`Refusal` saying what is wrong with it.

    Never raises: size and nesting depth are bounded before parsing
    (:func:`~labctl.commands.bounded_json.loads_bounded`), and every error becomes a refusal.
    """
    if len(payload) > max_bytes:
        return Refusal(None, f"payload is {len(payload)} bytes; the limit is {max_bytes}")
    try:
        document = loads_bounded(payload, max_bytes=max_bytes)
    except InputRefused as refused:
        return Refusal(None, f"payload refused: {refused.reason}")
    if not isinstance(document, dict):
        return Refusal(None, "payload must be a JSON object with id, command and args")
    raw_id = document.get("id")
    request_id = raw_id if isinstance(raw_id, str) and 0 < len(raw_id) <= 64 else None
    try:
        return CommandRequest.model_validate(document)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in err.errors()
        )
        return Refusal(request_id, f"invalid command payload: {problems}")
    except Exception as err:  # defensive: input never becomes a traceback
        return Refusal(request_id, f"invalid command payload: {type(err).__name__}")


def reply_ok(request_id: str, result: Mapping[str, object], unit: Unit = "C") -> bytes:
    return encode({"id": request_id, "ok": True, "result": result}, unit)


def reply_error(request_id: str | None, error: str, unit: Unit = "C") -> bytes:
    return encode({"id": request_id, "ok": False, "error": error}, unit)


def backoff_s(failures: int, base_s: float, cap_s: float, unit_random: float) -> float:
    """Delay before reconnect attempt ``failures`` (1, 2, ...): exponential, equal jitter.

    The ceiling doubles from ``base_s`` up to ``cap_s``; the delay is half the ceiling plus
    ``unit_random`` (0..1) times the other half, so clients restarted together spread out.
    """
    ceiling = min(cap_s, base_s * 2.0 ** min(max(failures - 1, 0), 30))
    return ceiling / 2.0 + ceiling / 2.0 * unit_random
