"""Live state: tuple-path diffs applied as the browser does, and LivePush over real websockets."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.web.live import HEARTBEAT_S, LivePush, diff, flatten, patch_message

WAIT_S = 10.0  # generous: the machine is shared


# ---------------------------------------------------------------- flatten / diff


def test_flatten_walks_dicts_and_keeps_lists_and_empty_dicts_as_leaves() -> None:
    state = {
        "lab": "t",
        "kilns": {"k.1": {"pv_c": 20.5, "segments": ["a", "b"], "run_id": None}},
        "casters": {},
        "alarms": [{"id": 1}],
    }
    assert flatten(state) == {
        ("lab",): "t",
        ("kilns", "k.1", "pv_c"): 20.5,
        ("kilns", "k.1", "segments"): ["a", "b"],
        ("kilns", "k.1", "run_id"): None,
        ("casters",): {},
        ("alarms",): [{"id": 1}],
    }


def test_diff_names_what_changed_and_the_shortest_path_that_went() -> None:
    before = flatten({"a": {"x": 1, "y": [1, 2]}, "b": {"z": {"w": 3}}, "c": None, "k": {"1": 0}})
    after = flatten({"a": {"x": 1, "y": [1, 2, 3]}, "c": 0, "d": {"e": {}}, "k": {}})
    changed, removed = diff(before, after)
    assert changed == {("a", "y"): [1, 2, 3], ("c",): 0, ("d", "e"): {}, ("k",): {}}
    assert sorted(removed) == [("b",), ("k", "1")]  # b went whole; k stays, empty
    assert diff(after, after) == ({}, [])


def test_names_with_dots_are_one_key() -> None:
    dotted = {"kilns": {"kiln.1": {"pv_c": 20.0}}}
    nested = {"kilns": {"kiln": {"1": {"pv_c": 20.0}}}}
    assert flatten(dotted) != flatten(nested)
    assert diff(flatten(nested), flatten(dotted)) == (
        {("kilns", "kiln.1", "pv_c"): 20.0},
        [("kilns", "kiln")],
    )


def browser_apply(state: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """labctl/web/static/live.js applyPatch in Python: every ``unset`` first, then every ``set``."""
    for keys in patch["unset"]:
        node: Any = state
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(keys[-1], None)
    for keys, value in patch["set"]:
        node = state
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[keys[-1]] = value


def in_the_browser(before: Mapping[str, object], after: Mapping[str, object]) -> Any:
    """A browser's state: the full ``before`` (JSON), then the patch to ``after`` applied."""
    state = json.loads(json.dumps(before))
    patch = json.loads(patch_message(*diff(flatten(before), flatten(after))))
    assert patch["type"] == "patch" and isinstance(patch["t"], float)
    browser_apply(state, patch)
    return state


def test_a_machine_that_goes_leaves_nothing_behind_in_the_browser() -> None:
    before = {"kilns": {"k1": {"pv_c": 20.0}, "k.2": {"pv_c": 19.0}}, "casters": {"c1": {"x": 1}}}
    after = {"kilns": {"k1": {"pv_c": 20.0}}, "casters": {}}
    assert in_the_browser(before, after) == after


_KEY = st.text("ab.k1_-", min_size=1, max_size=3)  # dots included: they are part of a name
_LEAF = st.none() | st.integers(-3, 3) | st.lists(st.integers(0, 2), max_size=2)
_STATE = st.recursive(
    st.dictionaries(_KEY, _LEAF, max_size=3),
    lambda inner: st.dictionaries(_KEY, inner | _LEAF, max_size=3),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(_STATE, _STATE)
def test_the_patch_turns_the_browsers_state_into_the_new_one(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    assert in_the_browser(before, after) == after


def test_a_leaf_that_becomes_a_dict_is_patched() -> None:
    before = {"kilns": {"k1": {"job": None}}, "casters": {}}
    after = {"kilns": {"k1": {"job": {"flask_id": 7}}}, "casters": {"c1": {"state": "idle"}}}
    assert in_the_browser(before, after) == after


# ---------------------------------------------------------------- LivePush over websockets


@dataclass
class Lab:
    """The state LivePush builds from, changed by the test."""

    state: dict[str, Any] = field(
        default_factory=lambda: {
            "lab": "t",
            "kilns": {"k1": {"pv_c": 20.0, "state": "idle"}, "k2": {"pv_c": 19.0, "state": "idle"}},
            "alarms": [],
        }
    )
    refreshes: int = 0
    allowed: dict[int, bool] = field(default_factory=dict)  # per client number

    def build(self) -> dict[str, object]:
        return copy.deepcopy(self.state)

    async def refresh(self) -> None:
        self.refreshes += 1


@dataclass
class Rig:
    lab: Lab
    push: LivePush
    client: TestClient[web.Request, web.Application]

    async def connect(self, number: int) -> ClientWebSocketResponse:
        """A browser; ``lab.allowed[number]`` says whether it may still see the lab."""
        return await self.client.ws_connect(f"/ws?n={number}")


async def make_rig(max_hz: float) -> tuple[Lab, LivePush, web.Application]:
    lab = Lab()
    push = LivePush(lab.build, lab.refresh, max_hz)

    async def websocket(request: web.Request) -> web.StreamResponse:
        number = int(request.query["n"])
        lab.allowed[number] = True
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await push.add(ws, lambda: lab.allowed[number])
        try:
            async for _ in ws:
                pass
        finally:
            push.remove(ws)
        return ws

    app = web.Application()
    app.router.add_get("/ws", websocket)
    return lab, push, app


@pytest.fixture(params=[50.0])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    lab, push, app = await make_rig(request.param)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        runner = asyncio.create_task(push.run(), name="test.livepush")
        try:
            yield Rig(lab, push, client)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await push.close()


async def receive_any(ws: ClientWebSocketResponse) -> dict[str, Any]:
    """The next message, heartbeats included."""
    message = await asyncio.wait_for(ws.receive(), WAIT_S)
    assert message.type is WSMsgType.TEXT, message
    data = json.loads(message.data)
    assert isinstance(data, dict)
    return data


async def receive(ws: ClientWebSocketResponse) -> dict[str, Any]:
    """The next full state or patch (heartbeats skipped)."""
    while (data := await receive_any(ws))["type"] == "heartbeat":
        pass
    return data


async def test_full_state_first_then_only_the_changed_path(rig: Rig) -> None:
    async with await rig.connect(1) as ws:
        full = await receive(ws)
        assert full["type"] == "full"
        assert full["state"] == rig.lab.state
        assert isinstance(full["t"], float)

        rig.lab.state["kilns"]["k1"]["pv_c"] = 21.5
        rig.push.poke()
        patch = await receive(ws)
        assert patch["type"] == "patch"
        assert patch["set"] == [[["kilns", "k1", "pv_c"], 21.5]]
        assert patch["unset"] == []
        assert patch["t"] >= full["t"]

        del rig.lab.state["kilns"]["k2"]
        rig.lab.state["alarms"] = [{"id": 1, "text": "link lost"}]
        rig.push.poke()
        patch = await receive(ws)
        assert patch["set"] == [[["alarms"], [{"id": 1, "text": "link lost"}]]]
        assert patch["unset"] == [["kilns", "k2"]]  # the kiln as a whole


async def test_a_poke_without_a_change_sends_nothing(rig: Rig) -> None:
    async with await rig.connect(1) as ws:
        await receive(ws)
        rig.push.poke()  # nothing changed
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(receive(ws), 0.5)
        assert rig.lab.refreshes == 2  # the first client's full state, then the poke
        assert rig.push.patches == 0
        rig.lab.state["lab"] = "renamed"
        rig.push.poke()
        assert (await receive(ws))["set"] == [[["lab"], "renamed"]]
        assert rig.push.patches == 1


async def test_every_client_gets_the_patch(rig: Rig) -> None:
    async with await rig.connect(1) as one, await rig.connect(2) as two:
        assert (await receive(one))["state"] == (await receive(two))["state"]
        rig.lab.state["kilns"]["k2"]["state"] = "running"
        rig.push.poke()
        for ws in (one, two):
            assert (await receive(ws))["set"] == [[["kilns", "k2", "state"], "running"]]


async def test_a_client_no_longer_allowed_is_dropped(rig: Rig) -> None:
    async with await rig.connect(1) as kept, await rig.connect(2) as dropped:
        await receive(kept)
        await receive(dropped)
        rig.lab.allowed[2] = False  # e.g. its session was signed out
        rig.lab.state["kilns"]["k1"]["pv_c"] = 30.0
        rig.push.poke()
        assert (await receive(kept))["set"] == [[["kilns", "k1", "pv_c"], 30.0]]
        closing = await asyncio.wait_for(dropped.receive(), WAIT_S)
        assert closing.type in {WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING}

        rig.lab.state["kilns"]["k1"]["pv_c"] = 31.0
        rig.push.poke()
        assert (await receive(kept))["set"] == [[["kilns", "k1", "pv_c"], 31.0]]


@pytest.mark.parametrize("rig", [2.0], indirect=True)
async def test_many_pokes_coalesce_into_few_patches(rig: Rig) -> None:
    pokes = 40
    async with await rig.connect(1) as ws:
        await receive(ws)
        for value in range(1, pokes + 1):
            rig.lab.state["kilns"]["k1"]["pv_c"] = float(value)
            rig.push.poke()
            await asyncio.sleep(0.01)  # the push task runs between pokes
        received: list[dict[str, Any]] = []
        while not received or received[-1]["set"] != [[["kilns", "k1", "pv_c"], float(pokes)]]:
            received.append(await receive(ws))
        assert all([keys for keys, _ in p["set"]] == [["kilns", "k1", "pv_c"]] for p in received)
        # at 2 Hz, 40 pokes over >= 0.4 s make about 2 patches; 1 per poke without coalescing
        assert len(received) <= pokes // 4
        assert rig.push.patches == len(received)


async def test_a_browser_applying_each_patch_holds_the_labs_state(rig: Rig) -> None:
    changes = [
        lambda state: state["kilns"].update({"kiln.3": {"pv_c": 18.0, "state": "idle"}}),
        lambda state: state["kilns"]["kiln.3"].update(pv_c=18.5, state="running"),
        lambda state: state["kilns"].pop("k2"),
        lambda state: state.update(alarms=[{"id": 1, "source": "kiln.3.link"}]),
        lambda state: state["kilns"].pop("kiln.3"),
    ]
    async with await rig.connect(1) as ws:
        state = (await receive(ws))["state"]
        for change in changes:
            change(rig.lab.state)
            rig.push.poke()
            browser_apply(state, await receive(ws))
            assert state == rig.lab.state


# ---------------------------------------------------------------- heartbeats


async def test_a_heartbeat_comes_every_second_while_nothing_changes(rig: Rig) -> None:
    async with await rig.connect(1) as ws:
        full = await receive_any(ws)
        assert full["type"] == "full"
        started = asyncio.get_running_loop().time()
        beats = [await receive_any(ws) for _ in range(3)]
        took = asyncio.get_running_loop().time() - started
        assert [b["type"] for b in beats] == ["heartbeat"] * 3  # nothing else changed
        times = [full["t"], *(b["t"] for b in beats)]
        assert times == sorted(times)  # the daemon's wall time, for "no contact since"
        assert 1.5 < took < 3 * HEARTBEAT_S + WAIT_S / 2


async def test_heartbeats_and_patches_arrive_whole_and_in_order(rig: Rig) -> None:
    async with await rig.connect(1) as ws:
        state = (await receive(ws))["state"]
        for value in range(30):
            rig.lab.state["kilns"]["k1"]["pv_c"] = float(value)
            rig.push.poke()
            await asyncio.sleep(0.1)  # three seconds: heartbeats among the patches
        while state["kilns"]["k1"]["pv_c"] != 29.0:
            browser_apply(state, await receive(ws))
        assert state == rig.lab.state


async def test_a_signed_out_client_is_dropped_at_the_next_heartbeat(rig: Rig) -> None:
    async with await rig.connect(1) as ws:
        await receive(ws)
        rig.lab.allowed[1] = False  # nothing changes in the lab: no patch would drop it
        closing = await asyncio.wait_for(ws.receive(), WAIT_S)
        assert closing.type in {WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING}
