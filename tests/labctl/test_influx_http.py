"""The InfluxDB writers send library line protocol and classify every failure for retry.

They run against a tiny aiohttp server on loopback that records requests and answers scripted
statuses; HTTP statuses are classified without one.
"""

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from labctl.telemetry.influx import (
    InfluxV1Writer,
    InfluxV2Writer,
    InfluxWriteError,
    http_error,
    line_protocol,
)
from tests.labctl.test_influx_writers import pt


def test_http_statuses_are_classified_for_retry():
    retry = {s: http_error("t", s, "x").retryable for s in (400, 401, 403, 404, 408, 413, 429)}
    assert retry == {
        400: False,
        401: False,
        403: False,
        404: False,
        408: True,
        413: False,
        429: True,
    }
    assert all(http_error("t", s, "").retryable for s in (500, 502, 503, 504))
    assert http_error("t", 503, "busy", "12").retry_after_s == 12.0
    assert http_error("t", 503, "busy", "Wed, 21 Oct 2015 07:28:00 GMT").retry_after_s is None
    assert str(http_error("db x", 404, '{"error":"database not found"}')) == (
        'db x: HTTP 404: {"error":"database not found"}'
    )


async def test_line_protocol_comes_from_the_library_with_nanosecond_times():
    points = [pt(0, pv_c=1.5, state='a "b"', n=3, on=True), pt(1, x=float("nan"), y=2.0)]
    body = await line_protocol(points)
    assert body.decode().splitlines() == [
        'kiln,lab=l,machine=k1 n=3i,on=true,pv_c=1.5,state="a \\"b\\"" 1000000000000000000',
        "kiln,lab=l,machine=k1 y=2 1000000001000000000",
    ]


class FakeServer:
    """Answers /query, /write and /api/v2/write with scripted statuses; records requests."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes, str | None]] = []
        self.statuses: list[int] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        auth = request.headers.get("Authorization")
        self.requests.append((request.path, dict(request.query), body, auth))
        if request.path == "/query":
            return web.json_response({"results": [{"statement_id": 0}]})
        status = self.statuses.pop(0) if self.statuses else 204
        headers = {"Retry-After": "3"} if status == 429 else {}
        text = None if status == 204 else '{"error":"nope"}'
        return web.Response(status=status, text=text, headers=headers)


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeServer, str]]:
    fake = FakeServer()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_v1_writer_creates_the_database_then_posts_ns_line_protocol(server):
    fake, url = server
    writer = InfluxV1Writer(url, "lab", "u", "p", timeout_s=2)
    try:
        await writer.write([pt(1)])
        await writer.write([pt(2)])
        fake.statuses = [404, 429, 401, 500]
        errors = []
        for _ in range(4):
            with pytest.raises(InfluxWriteError) as caught:
                await writer.write([pt(3)])
            errors.append(caught.value)
    finally:
        await writer.close()
    paths = [(path, query.get("db"), query.get("q")) for path, query, _, _ in fake.requests]
    assert paths[:3] == [
        ("/query", None, 'CREATE DATABASE "lab"'),
        ("/write", "lab", None),
        ("/write", "lab", None),
    ]
    assert paths[4] == ("/query", None, 'CREATE DATABASE "lab"')  # again after a 404
    assert fake.requests[1][1]["precision"] == "ns"
    assert fake.requests[1][2] == b"kiln,lab=l,machine=k1 pv_c=1 1000000001000000000"
    assert fake.requests[1][3] == "Basic dTpw"
    assert [(e.status, e.retryable, e.retry_after_s) for e in errors] == [
        (404, False, None),
        (429, True, 3.0),
        (401, False, None),
        (500, True, None),
    ]


async def test_writers_report_an_unreachable_server_as_retryable(server):
    _, url = server
    dead = "http://127.0.0.1:9"  # discard port: nobody listens
    for writer in (InfluxV1Writer(dead, "lab", timeout_s=2), InfluxV2Writer(dead, "o", "b", "t")):
        try:
            with pytest.raises(InfluxWriteError) as caught:
                await writer.write([pt(1)])
        finally:
            await writer.close()
        assert caught.value.retryable and caught.value.status is None
        assert "no answer" in str(caught.value)


async def test_v2_writer_posts_through_the_library_and_classifies_refusals(server):
    fake, url = server
    writer = InfluxV2Writer(url, "org1", "bucket1", "secret", timeout_s=2)
    try:
        await writer.write([pt(1), pt(2)])
        fake.statuses = [401, 503]
        errors = []
        for _ in range(2):
            with pytest.raises(InfluxWriteError) as caught:
                await writer.write([pt(3)])
            errors.append(caught.value)
    finally:
        await writer.close()
    path, query, body, auth = fake.requests[0]
    assert path == "/api/v2/write"
    assert query == {"org": "org1", "bucket": "bucket1", "precision": "ns"}
    assert body.splitlines() == [
        b"kiln,lab=l,machine=k1 pv_c=1 1000000001000000000",
        b"kiln,lab=l,machine=k1 pv_c=2 1000000002000000000",
    ]
    assert auth == "Token secret"
    assert [(e.status, e.retryable) for e in errors] == [(401, False), (503, True)]
    assert "nope" in str(errors[0])
