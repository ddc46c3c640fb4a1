"""The Grafana dashboards' queries, filled in as Grafana fills them, and an InfluxDB to ask.

Every panel target, template variable and annotation query of ``grafana/dashboards/*.json``
(:func:`dashboard_queries`), with ``$timeFilter``, ``$__interval`` and the variables replaced
(:func:`grafana_macros`), sent to a real InfluxDB 1.x over its HTTP API (:class:`Influx`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

DASHBOARDS = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
DATASOURCE_UID = "labctl-influxdb"
DB = "labctl"
# Variable values Grafana would offer: one binding per cast (a vacuum and a centrifugal caster)
BINDINGS = [
    {"lab": "lab1", "kiln": "kiln1", "caster": "caster1", "cast": "42"},
    {"lab": "lab1", "kiln": "kiln1", "caster": "spin1", "cast": "43"},
]


def dashboard_queries() -> Iterator[Any]:
    """One pytest param per query (kind, the JSON object holding it), id ``dashboard/what``."""
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        for var in dash["templating"]["list"]:
            yield pytest.param(var["name"], var, id=f"{path.stem}/variable {var['name']}")
        for note in dash["annotations"]["list"]:
            if not note.get("builtIn"):
                yield pytest.param("annotation", note, id=f"{path.stem}/annotation {note['name']}")
        rows = [p for row in dash["panels"] for p in row.get("panels", [])]  # collapsed rows
        for panel in [*dash["panels"], *rows]:
            for target in panel.get("targets", []):
                what = f"{path.stem}/{panel['title']}/{target['refId']}"
                yield pytest.param("panel", target, id=what)


def grafana_macros(query: str, binding: dict[str, str], start_s: float, end_s: float) -> str:
    """The query as Grafana sends it: ``$timeFilter``, ``$__interval`` and ``$var`` replaced
    (single-value variables are inserted as they are, inside ``/^$var$/`` too)."""
    values = {
        **binding,
        "timeFilter": f"time >= {int(start_s * 1000)}ms and time <= {int(end_s * 1000)}ms",
        "__interval": "10s",
    }

    def value(m: re.Match[str]) -> str:
        assert m[1] in values, f"unknown macro or variable ${m[1]} in {query}"
        return values[m[1]]

    return re.sub(r"\$(\w+)", value, query)


@dataclass(frozen=True)
class Influx:
    """The loaded server and the time range the data covers."""

    url: str
    start_s: float
    end_s: float

    async def query(self, q: str) -> list[dict[str, Any]]:
        """GET /query (as Grafana does); fails with the server's error and the query."""
        params = {"db": DB, "q": q, "epoch": "ms"}
        async with aiohttp.ClientSession() as s, s.get(self.url + "/query", params=params) as r:
            body = await r.json()
        assert r.status == 200 and "error" not in body, (q, body)
        result = body["results"][0]
        assert "error" not in result, f"{result['error']}\n{q}"
        series: list[dict[str, Any]] = result.get("series", [])
        return series


def faults_panel_query() -> str:
    """The query of the faults-health dashboard's "Faults, alarms and outcomes" panel."""
    dash = json.loads((DASHBOARDS / "faults-health.json").read_text())
    panel = next(p for p in dash["panels"] if p["title"] == "Faults, alarms and outcomes")
    return str(panel["targets"][0]["query"])
