"""Telemetry points for the spool's tests: the i-th one is distinct, and in time order."""

from __future__ import annotations

from labctl.telemetry.points import FieldValue, Priority, TelemetryPoint


def point(i: int, priority: Priority = Priority.LOW, measurement: str = "kiln") -> TelemetryPoint:
    """Point ``i``: kiln PV 700 + i °C at wall second 1 700 000 000 + i, on one of three kilns."""
    fields: dict[str, FieldValue] = {"pv_c": 700.0 + i, "state": "ramp", "holdback": i % 2}
    tags = {"lab": "a", "machine": f"kiln{i % 3}", "device": "tc"}
    return TelemetryPoint.make(
        measurement, tags, fields, wall_s=1_700_000_000 + i, priority=priority
    )
