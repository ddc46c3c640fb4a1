"""Snapshots become idempotent points, and changes become events."""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from labctl.alarms import Alarm
from labctl.kiln.snapshot import KilnSnapshot
from labctl.telemetry.points import Priority, TelemetryPoint
from labctl.telemetry.snapshots import PointMaker


def snap(wall: float, **kw: Any) -> KilnSnapshot:
    base: dict[str, Any] = {"kiln": "kiln1", "at": wall, "wall": wall, "link": "ok"}
    base.update({"state": "idle", **kw})
    return KilnSnapshot(**base)


def test_a_kiln_snapshot_becomes_one_point_with_low_cardinality_tags():
    maker = PointMaker(lab="lab1", devices={"kiln1": "kiln1_tc"})
    point, events = maker.kiln(snap(1_700_000_000.5, pv_c=512.0, run_id=7, state="running"))
    assert point.measurement == "kiln"
    assert dict(point.tags) == {"lab": "lab1", "machine": "kiln1", "device": "kiln1_tc"}
    fields = dict(point.fields)
    assert fields["pv_c"] == 512.0 and fields["run_id"] == 7 and fields["state"] == "running"
    assert "setpoint_c" not in fields  # no value read: left out, not written as 0
    assert point.time_ns == 1_700_000_000_500_000_000
    assert events == []


def test_run_start_and_end_become_events():
    maker = PointMaker(lab="lab1")
    maker.kiln(snap(1.0))
    _, started = maker.kiln(snap(2.0, run_id=3, profile="p", state="running", segment="1/3"))
    assert [e["kind"] for e in started] == ["run_started"]
    _, same = maker.kiln(snap(3.0, run_id=3, state="running", segment="1/3"))
    assert same == []
    _, ended = maker.kiln(snap(4.0, outcome="faulted: sensor break"))
    assert ended == [
        {
            "kind": "run_ended",
            "text": "run 3: faulted: sensor break",
            "outcome": "faulted: sensor break",
            "run_id": 3,
        }
    ]
    point = maker.event_point("kiln1", ended[0], 4.0)
    assert point.priority is Priority.HIGH and dict(point.tags)["kind"] == "run_ended"


@given(
    wall=st.floats(1e9, 2e9),
    value=st.floats(-1e6, 1e6, allow_nan=False),
    text=st.text(max_size=40),
)
def test_points_survive_the_spool_round_trip_and_replay_is_identical(wall, value, text):
    point = TelemetryPoint.make("kiln", {"lab": "x"}, {"pv_c": value, "state": text}, wall_s=wall)
    assert TelemetryPoint.from_json(point.to_json()) == point
    again = TelemetryPoint.make("kiln", {"lab": "x"}, {"pv_c": value, "state": text}, wall_s=wall)
    assert again.time_ns == point.time_ns  # a replay overwrites instead of duplicating


def test_an_alarm_becomes_an_event_point_with_its_machine_and_run():
    maker = PointMaker(lab="lab1")
    alarm = Alarm(7, "kiln1.link", "controller link lost", 1_700_000_000.25, run_id=12)
    point, event = maker.alarm(alarm)
    assert point.measurement == "event" and point.priority is Priority.HIGH
    assert dict(point.tags) == {"lab": "lab1", "machine": "kiln1", "kind": "alarm"}
    assert dict(point.fields) == {
        "text": "controller link lost", "source": "kiln1.link", "alarm_id": 7, "run_id": 12,
    }  # fmt: skip
    assert point.time_ns == 1_700_000_000_250_000_007  # raise time + alarm id: never collides
    assert maker.alarm(alarm)[0] == point  # a replay overwrites
    assert event == {**dict(point.fields), "kind": "alarm", "wall": 1_700_000_000.25}
    cast, _ = maker.alarm(Alarm(8, "caster1", "cast 4: faulted: e-stop", 1.0, cast_id=4))
    assert dict(cast.fields)["cast_id"] == 4 and "run_id" not in dict(cast.fields)
    lab, _ = maker.alarm(Alarm(9, "lab", "ledger stopped", 1.0))
    assert dict(lab.tags)["machine"] == "lab"


def test_caster_events_carry_their_cast_id():
    maker = PointMaker(lab="lab1")
    status = {"caster": "caster1", "state": "melt", "cast_id": 4, "outcome": None}
    maker.caster(status, 1.0)
    _, step = maker.caster(status | {"state": "pour"}, 2.0)
    assert [(e["kind"], e["cast_id"]) for e in step] == [("cast_state", 4)]
    ended = status | {"state": "idle", "cast_id": None, "outcome": "faulted: e-stop pressed"}
    _, end = maker.caster(ended, 3.0)
    assert [(e["kind"], e["cast_id"]) for e in end] == [("cast_ended", 4)]
