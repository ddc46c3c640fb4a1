"""The MQTT bridge's bounded outbox and per-user rate limit: pure logic, no I/O."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from labctl.telemetry.mqtt_topics import Topics, check_segment, encode


@dataclass(frozen=True, slots=True, eq=False)
class Outgoing:
    """One message waiting in the outbox (compared by identity)."""

    queue: str
    topic: str
    payload: bytes
    qos: int
    retain: bool
    key: str = ""  # the machine, for state


class Outbox:
    """Bounded queues of messages to publish, with a drop counter per queue.

    ``state`` is coalesced per machine (only the latest unsent state is kept, and every latest
    state is kept for republishing on reconnect); ``replies``, ``events`` and ``telemetry`` are
    FIFO queues of at most ``queue_max`` messages that drop their oldest message when full.
    :meth:`peek` gives the next message (state, then replies, events, telemetry) and
    :meth:`done` removes it once the broker took it, so nothing is lost to a failed publish.
    """

    QUEUES = ("state", "replies", "events", "telemetry")

    def __init__(self, topics: Topics, queue_max: int, telemetry_interval_s: float) -> None:
        if queue_max < 1:
            raise ValueError("queue_max must be at least 1")
        self._topics = topics
        self._max = queue_max
        self._interval = telemetry_interval_s
        self._states: dict[str, bytes] = {}
        self._unsent: dict[str, None] = {}  # machines whose latest state is not yet published
        self._fifo: dict[str, deque[Outgoing]] = {q: deque() for q in self.QUEUES[1:]}
        self._last_telemetry: dict[str, float] = {}
        self.dropped: dict[str, int] = dict.fromkeys(self.QUEUES, 0)
        self.throttled = 0  # telemetry readings skipped to keep the configured rate

    def put_state(self, machine: str, state: Mapping[str, object]) -> bool:
        """Keep ``state`` as the machine's latest; True if it changed (so is to be sent)."""
        payload = encode(state)
        check_segment("machine", machine)
        if self._states.get(machine) == payload:
            return False
        if machine not in self._states and len(self._states) >= self._max:
            self.dropped["state"] += 1
            return False
        self._states[machine] = payload
        self._unsent[machine] = None
        return True

    def republish_states(self) -> None:
        """Mark every latest state unsent (a broker may have lost its retained copies)."""
        self._unsent = dict.fromkeys(self._states)

    def put_event(self, machine: str, event: Mapping[str, object]) -> None:
        self._append(Outgoing("events", self._topics.events(machine), encode(event), 1, False))

    def put_telemetry(self, machine: str, reading: Mapping[str, object], now: float) -> bool:
        """Queue ``reading`` unless the machine's last one was under the interval ago."""
        topic = self._topics.telemetry(machine)
        last = self._last_telemetry.get(machine)
        if last is not None and now - last < self._interval:
            self.throttled += 1
            return False
        self._last_telemetry[machine] = now
        self._append(Outgoing("telemetry", topic, encode(reading), 0, False))
        return True

    def put_reply(self, user: str, payload: bytes) -> None:
        self._append(Outgoing("replies", self._topics.reply(user), payload, 1, False))

    def _append(self, item: Outgoing) -> None:
        fifo = self._fifo[item.queue]
        if len(fifo) >= self._max:
            fifo.popleft()
            self.dropped[item.queue] += 1
        fifo.append(item)

    def peek(self) -> Outgoing | None:
        """The next message to publish, left in place until :meth:`done`."""
        for machine in self._unsent:
            return Outgoing(
                "state", self._topics.state(machine), self._states[machine], 1, True, machine
            )
        for name in self.QUEUES[1:]:
            if self._fifo[name]:
                return self._fifo[name][0]
        return None

    def done(self, item: Outgoing) -> None:
        """``item`` was published: remove it (unless a newer state replaced it meanwhile)."""
        if item.queue == "state":
            if self._states.get(item.key) == item.payload:
                self._unsent.pop(item.key, None)
            return
        fifo = self._fifo[item.queue]
        if fifo and fifo[0] is item:  # it may have been dropped while it was in flight
            fifo.popleft()

    def depth(self) -> dict[str, int]:
        return {"state": len(self._unsent)} | {q: len(f) for q, f in self._fifo.items()}


class RateLimit:
    """A token bucket per key: ``burst`` commands at once, then ``per_s`` a second."""

    def __init__(self, burst: int, per_s: float) -> None:
        self._burst = float(burst)
        self._per_s = per_s
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def allow(self, key: str, now: float) -> bool:
        tokens, at = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._per_s)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1.0, now)
        return True
