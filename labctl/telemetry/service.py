"""The telemetry fan-out of the daemon: every tick's snapshot to the spool and to MQTT.

:meth:`Telemetry.kiln` and :meth:`Telemetry.caster` are called by the control loops once per
tick; they only convert and enqueue (the spool's in-memory buffer, the MQTT bridge's bounded
queues), so neither an InfluxDB nor a broker outage can slow a control loop. The spool's
``run`` task moves points to disk, the drainer sends them to InfluxDB, the bridge to MQTT, and
:meth:`Telemetry.health_loop` writes labctl's own health as telemetry too.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drivers.clock import Clock
from labctl.alarms import Alarm

if TYPE_CHECKING:  # the drain brings influxdb-client: imported only when a site writes to it
    from labctl.telemetry.drain import Drainer
from labctl.kiln.snapshot import KilnSnapshot
from labctl.telemetry.mqtt import MqttBridge
from labctl.telemetry.points import FieldValue, TelemetryPoint
from labctl.telemetry.snapshots import Event, PointMaker
from labctl.telemetry.spool import Spool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoopHealth:
    """What the health loop reads from one control loop or bus."""

    component: str
    counters: Callable[[], Mapping[str, FieldValue]]


@dataclass
class Telemetry:
    """Owns the point maker, the spool, the optional drainer and the optional MQTT bridge."""

    maker: PointMaker
    spool: Spool
    clock: Clock
    drainer: Drainer | None = None
    mqtt: MqttBridge | None = None
    sources: list[LoopHealth] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    offered: Counter[str] = field(default_factory=Counter)  # points by measurement
    _last_state: dict[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """For ``status``: the spool, what was offered and sent, the broker link."""
        stats = self.spool.stats()
        out: dict[str, object] = {
            "spool_depth": stats.depth,
            "spool_on_disk": stats.on_disk,
            "dropped": stats.dropped_total,
            "offered": dict(self.offered),
            "asyncio_tasks": len(asyncio.all_tasks()),  # flat over weeks, or something leaks
            "asyncio_task_kinds": dict(
                Counter(task.get_coro().__qualname__ for task in asyncio.all_tasks())  # type: ignore[union-attr]
            ),
        }
        if self.drainer is not None:
            drain = self.drainer.stats()
            out |= {"sent": drain.sent, "influx": drain.state.name.lower()}
        if self.mqtt is not None:
            out |= {
                "mqtt_connected": self.mqtt.connected,
                "mqtt_dropped": self.mqtt.dropped,
                "mqtt_refused": self.mqtt.refused,
                "mqtt_depth": self.mqtt.depth(),
            }
        return out

    def kiln(self, snap: KilnSnapshot) -> None:
        """One kiln tick (a ``Lab`` listener)."""
        point, events = self.maker.kiln(snap)
        state = snap.as_dict()
        self._fan_out(snap.kiln, point, events, snap.wall, state)

    def caster(self, status: dict[str, object], wall_s: float) -> None:
        """One caster tick (the caster runner's ``publish``)."""
        point, events = self.maker.caster(status, wall_s)
        self._fan_out(str(status["caster"]), point, events, wall_s, status)

    def alarm(self, alarm: Alarm) -> None:
        """One alarm raised (an :class:`AlarmBoard` listener): an event point and MQTT event."""
        point, event = self.maker.alarm(alarm)
        self._offer([point])
        if self.mqtt is not None:
            self.mqtt.publish_event(alarm.machine, event)

    def _fan_out(
        self,
        machine: str,
        point: TelemetryPoint,
        events: Sequence[Event],
        wall_s: float,
        state: Mapping[str, object],
    ) -> None:
        points = [point, *(self.maker.event_point(machine, e, wall_s) for e in events)]
        self._offer(points)
        if self.mqtt is None:
            return
        for event in events:
            self.mqtt.publish_event(machine, event)
        reading = dict(point.fields)
        self.mqtt.publish_telemetry(machine, {"wall": wall_s, **reading})
        lasting = {k: v for k, v in state.items() if k not in ("at", "wall")}
        if self._last_state.get(machine) != lasting:  # retained state: on change only
            self._last_state[machine] = lasting
            self.mqtt.publish_state(machine, state)

    async def health_loop(self, interval_s: float) -> None:
        """Every ``interval_s`` (clock seconds): labctl's own health as ``labctl`` points."""
        while True:
            await self.clock.sleep(interval_s)
            self._offer(self.health_points(self.clock.wall()))

    def _offer(self, points: Sequence[TelemetryPoint]) -> None:
        self.offered.update(p.measurement for p in points)
        self.spool.offer(points)

    def health_points(self, wall_s: float) -> list[TelemetryPoint]:
        stats = self.spool.stats()
        oldest = None
        if stats.oldest_time_ns is not None:
            oldest = max(0.0, wall_s - stats.oldest_time_ns / 1e9)
        spool_fields: dict[str, FieldValue | None] = {
            "spool_depth": stats.depth,
            "oldest_unsent_s": oldest,
            "dropped_points": stats.dropped_total,
            "spool_write_errors": stats.write_errors,
        }
        if self.drainer is not None:
            drain = self.drainer.stats()
            spool_fields |= {"sent_points": drain.sent, "failed_writes": drain.failed_attempts}
        if self.mqtt is not None:
            spool_fields |= {
                "mqtt_connected": int(self.mqtt.connected),
                "mqtt_dropped": sum(self.mqtt.dropped.values()),
            }
        lab = self.maker.lab
        points = [self._health("telemetry", spool_fields, wall_s, lab)]
        points += [self._health(s.component, dict(s.counters()), wall_s, lab) for s in self.sources]
        return points

    @staticmethod
    def _health(
        component: str, fields: Mapping[str, FieldValue | None], wall_s: float, lab: str
    ) -> TelemetryPoint:
        tags = {"lab": lab, "component": component}
        return TelemetryPoint.make("labctl", tags, fields, wall_s=wall_s)

    async def close(self) -> None:
        """Flush what is buffered to the spool and close the writers."""
        await self.spool.close()
        for close in self.closers:
            await close()

    async def run(self) -> None:
        """The spool, drainer and bridge tasks; cancelled with the daemon."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.spool.run(), name="telemetry.spool")
            if self.drainer is not None:
                tg.create_task(self.drainer.run(), name=f"telemetry.drain[{self.drainer.name}]")
            if self.mqtt is not None:
                tg.create_task(self.mqtt.run(), name="mqtt.bridge")


def lateness_ms(samples: Sequence[float], speed: float) -> dict[str, FieldValue | None]:
    """Tick lateness in wall milliseconds from clock-second samples (``tick_lateness_ms``: p99)."""
    if len(samples) < 2:
        return {}
    cuts = statistics.quantiles([s / speed * 1000 for s in samples], n=100)
    return {"tick_lateness_ms": cuts[98], "tick_lateness_p50_ms": cuts[49]}
