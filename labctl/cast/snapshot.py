"""Immutable snapshots of each caster: what the status command, MQTT, telemetry and UI show.

The twin of :class:`labctl.kiln.snapshot.KilnSnapshot`. :meth:`CasterSnapshot.as_dict` is the
one place it turns into the status JSON; its field names, order and types are a wire format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class CasterSnapshot:
    """One caster at one moment. Replaced, never mutated."""

    caster: str
    kind: str  # vacuum / centrifugal
    state: str  # idle / recovering / a cast step (preflight, melt, ...)
    cast_id: int | None = None  # the cast in progress, or the one being recovered
    alloy: str | None = None
    waiting_for: str | None = None  # the step a person must confirm
    confirmations: tuple[tuple[str, str], ...] = ()  # (step, by) so far
    pour_c: float | None = None
    target_mbar: float | None = None
    spin_rpm: float | None = None
    crucible_c: float | None = None
    crucible_tc_c: float | None = None  # the independent thermocouple
    chamber_mbar: float | None = None
    rpm: float | None = None
    lid_closed: bool = False
    flask_present: bool = False
    stale: tuple[str, ...] = ()  # devices with no fresh reading
    drive_fault: int | None = None  # the drive's latched fault code
    outcome: str | None = None  # how the caster's last cast ended
    last_cast_id: int | None = None  # the cast that ``outcome`` belongs to
    safe: bool = False  # every device confirmed safe since the daemon started
    uncommissioned: tuple[str, ...] = ()  # devices with no passing commissioning record

    @property
    def commissioned(self) -> bool:
        """Every device of the caster holds a passing commissioning record for this config."""
        return not self.uncommissioned

    def as_dict(self) -> dict[str, object]:
        """The status JSON of this caster (the `status` command, MQTT, the websocket)."""
        return {
            "caster": self.caster,
            "kind": self.kind,
            "state": self.state,
            "cast_id": self.cast_id,
            "alloy": self.alloy,
            "waiting_for": self.waiting_for,
            "confirmations": [list(done) for done in self.confirmations],
            "pour_c": self.pour_c,
            "target_mbar": self.target_mbar,
            "spin_rpm": self.spin_rpm,
            "crucible_c": self.crucible_c,
            "crucible_tc_c": self.crucible_tc_c,
            "chamber_mbar": self.chamber_mbar,
            "rpm": self.rpm,
            "lid_closed": self.lid_closed,
            "flask_present": self.flask_present,
            "stale": list(self.stale),
            "drive_fault": self.drive_fault,
            "outcome": self.outcome,
            "last_cast_id": self.last_cast_id,
            "safe": self.safe,
            "commissioned": self.commissioned,
            "uncommissioned": list(self.uncommissioned),
        }
