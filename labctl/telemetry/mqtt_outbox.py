"""The MQTT bridge's bounded outbox and per-user rate limit: pure logic, no I/O."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from labctl.telemetry.mqtt_topics import Topics, check_segment, encode
from labctl.units import Unit


@dataclass(frozen=True, slots=True, eq=False)
class Outgoing:
    """One message waiting in the outbox (compared by identity)."""

    queue: str
    topic: str
    payload: bytes
    qos: int
    retain: bool
    key: str = ""  # the machine, for state; the user, for replies


class Outbox:
    """Bounded queues of messages to publish, with a drop counter per queue.

    ``state`` is coalesced per machine (only the latest unsent state is kept, and every latest
    state is kept for republishing on reconnect); ``events`` and ``telemetry`` are FIFO queues
    of at most ``queue_max`` messages that drop their oldest message when full. ``replies`` is
    one FIFO per user of at most ``reply_max`` messages (dropping that user's oldest), served
    round-robin: a user flooding labctl with commands cannot push another user's replies out.
    :meth:`peek` gives the next message (state, then replies, events, telemetry) and
    :meth:`done` removes it once the broker took it, so nothing is lost to a failed publish.
    """

    QUEUES = ("state", "replies", "events", "telemetry")

    def __init__(
        self,
        topics: Topics,
        queue_max: int,
        telemetry_interval_s: float,
        *,
        reply_max: int = 20,
        unit: Unit = "C",
    ) -> None:
        if queue_max < 1 or reply_max < 1:
            raise ValueError("queue_max and reply_max must be at least 1")
        self._topics = topics
        self._unit = unit  # of the texts (outcomes, alarms)
        self._max = queue_max
        self._reply_max = reply_max
        self._interval = telemetry_interval_s
        self._states: dict[str, bytes] = {}
        self._unsent: dict[str, None] = {}  # machines whose latest state is not yet published
        self._fifo: dict[str, deque[Outgoing]] = {q: deque() for q in self.QUEUES[2:]}
        self._replies: dict[str, deque[Outgoing]] = {}  # per user, only while non-empty
        self._turn: deque[str] = deque()  # users with replies waiting, next to be served first
        self._last_telemetry: dict[str, float] = {}
        self.dropped: dict[str, int] = dict.fromkeys(self.QUEUES, 0)
        self.throttled = 0  # telemetry readings skipped to keep the configured rate

    def put_state(self, machine: str, state: Mapping[str, object]) -> bool:
        """Keep ``state`` as the machine's latest; True if it changed (so is to be sent)."""
        payload = encode(state, self._unit)
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
        self._append(
            Outgoing("events", self._topics.events(machine), encode(event, self._unit), 1, False)
        )

    def put_telemetry(self, machine: str, reading: Mapping[str, object], now: float) -> bool:
        """Queue ``reading`` unless the machine's last one was under the interval ago."""
        topic = self._topics.telemetry(machine)
        last = self._last_telemetry.get(machine)
        if last is not None and now - last < self._interval:
            self.throttled += 1
            return False
        self._last_telemetry[machine] = now
        self._append(Outgoing("telemetry", topic, encode(reading, self._unit), 0, False))
        return True

    def put_reply(self, user: str, payload: bytes) -> None:
        """Queue a reply to ``user``; past ``reply_max`` waiting, that user's oldest is dropped."""
        item = Outgoing("replies", self._topics.reply(user), payload, 1, False, user)
        fifo = self._replies.get(user)
        if fifo is None:
            if len(self._replies) >= self._max:  # as many users as queue_max already waiting
                self.dropped["replies"] += 1
                return
            fifo = self._replies[user] = deque()
            self._turn.append(user)
        elif len(fifo) >= self._reply_max:
            fifo.popleft()
            self.dropped["replies"] += 1
        fifo.append(item)

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
        if self._turn:
            return self._replies[self._turn[0]][0]
        for name in self.QUEUES[2:]:
            if self._fifo[name]:
                return self._fifo[name][0]
        return None

    def done(self, item: Outgoing) -> None:
        """``item`` was published: remove it (unless a newer state replaced it meanwhile)."""
        if item.queue == "state":
            if self._states.get(item.key) == item.payload:
                self._unsent.pop(item.key, None)
            return
        if item.queue == "replies":
            self._reply_done(item)
            return
        fifo = self._fifo[item.queue]
        if fifo and fifo[0] is item:  # it may have been dropped while it was in flight
            fifo.popleft()

    def _reply_done(self, item: Outgoing) -> None:
        """Remove a published reply and give the next user their turn."""
        fifo = self._replies.get(item.key)
        if fifo and fifo[0] is item:  # it may have been dropped while it was in flight
            fifo.popleft()
        if self._turn and self._turn[0] == item.key:
            self._turn.popleft()
            if fifo:
                self._turn.append(item.key)
        if not fifo:
            self._replies.pop(item.key, None)
            if item.key in self._turn:
                self._turn.remove(item.key)

    def depth(self) -> dict[str, int]:
        replies = sum(len(f) for f in self._replies.values())
        fifos = {q: len(f) for q, f in self._fifo.items()}
        return {"state": len(self._unsent), "replies": replies} | fifos


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
