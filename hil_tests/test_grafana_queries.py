"""Every query of every Grafana dashboard runs on a real InfluxDB 1.x and returns data.

A simulated run (a short burnout with a holdback episode, a vacuum cast and a centrifugal cast,
and labctl's health points: :mod:`hil_tests.support.grafana_run`) goes through
:class:`PointMaker` and ``influxdb_client.Point`` into Debian's InfluxDB 1.6; then each panel
target, template variable and annotation query from the JSON files runs with Grafana's macros
filled in the way Grafana fills them (:mod:`hil_tests.support.grafana`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from hil_tests.support.grafana import (
    BINDINGS,
    DATASOURCE_UID,
    DB,
    Influx,
    dashboard_queries,
    grafana_macros,
)
from hil_tests.support.grafana_run import line_protocol, simulated_run
from hil_tests.support.services import influxdb1

pytestmark = [pytest.mark.hil, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def influx(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Influx]:
    points = simulated_run()
    async with influxdb1(tmp_path_factory.mktemp("influxdb")) as server:
        create = {"q": f"CREATE DATABASE {DB}"}
        async with aiohttp.ClientSession() as s, s.post(server.url + "/query", params=create) as r:
            assert r.status == 200, await r.text()
            body = "\n".join(line_protocol(p) for p in points)
            params = {"db": DB, "precision": "ns"}
            async with s.post(server.url + "/write", params=params, data=body.encode()) as r:
                assert r.status == 204, await r.text()
        times = [p.time_ns / 1e9 for p in points]
        yield Influx(server.url, min(times) - 60, max(times) + 60)


async def test_the_simulated_run_is_all_there(influx: Influx) -> None:
    """The data the queries run on: every event kind, a holdback episode, both casts."""
    rows = await influx.query('SELECT count("text") FROM "event" GROUP BY "kind"')
    kinds = {s["tags"]["kind"] for s in rows}
    expected = {"run_started", "run_ended", "kiln_state", "alarm", "cast_state", "cast_ended"}
    assert kinds == expected | {"fault"}, kinds
    held = await influx.query('SELECT sum("holdback") FROM "kiln" WHERE "machine" = \'kiln1\'')
    assert held[0]["values"][0][1] >= 3, "the run must have a holdback episode"
    casts = await influx.query('SELECT DISTINCT("cast_id") FROM "caster"')
    assert [row[1] for row in casts[0]["values"]] == [42, 43]


@pytest.mark.parametrize(("kind", "item"), list(dashboard_queries()))
async def test_query_returns_series(influx: Influx, kind: str, item: dict[str, Any]) -> None:
    """Every binding runs without error; at least one (the right caster) returns values."""
    assert item["datasource"] == {"type": "influxdb", "uid": DATASOURCE_UID}, item
    assert kind not in ("panel", "annotation") or item["rawQuery"] is True, "InfluxQL, raw"
    assert kind != "annotation" or item["target"]["query"] == item["query"], "one query"
    with_values = 0
    for binding in BINDINGS:
        q = grafana_macros(item["query"], binding, influx.start_s, influx.end_s)
        series = await influx.query(q)
        rows = [row for s in series for row in s["values"]]
        if any(v is not None for row in rows for v in row[1:]):
            with_values += 1
        if kind in binding:  # a template variable offers the value the other queries use
            offered = {str(row[-1]) for row in rows}
            assert binding[kind] in offered, (q, offered)
    assert with_values, f"no series with values for any of {BINDINGS}:\n{item['query']}"
