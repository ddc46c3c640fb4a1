"""InfluxDB writers: one batch of telemetry points to a server, accepted or a named error.

Two server generations behind one small protocol, :class:`PointWriter`:

- :class:`InfluxV2Writer`: the v2 write API (InfluxDB 2.x and 3.x, and anything else that
  implements ``/api/v2/write``) through ``influxdb-client``'s async client.
- :class:`InfluxV1Writer`: the v1 ``/write`` endpoint of InfluxDB 1.x (what Debian and
  Raspberry Pi OS ship), posted with aiohttp.

Both send line protocol made by the library (``influxdb_client.Point.to_line_protocol()``),
nanosecond precision, so a point written twice (a replay) overwrites itself. The body is built in
slices with a yield between them, so a 5000-point batch never holds the event loop for long.
Every library and transport error is wrapped here into :class:`InfluxWriteError`, which says
whether sending the same batch again can help; what the drain loop then does is in
``labctl/telemetry/drain.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol

import aiohttp
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.client.write.point import Point
from influxdb_client.client.write_api_async import WriteApiAsync
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException

from labctl.errors import LabctlError
from labctl.telemetry.points import TelemetryPoint

log = logging.getLogger(__name__)

SLICE_S = 0.002  # wall seconds of serialising between two yields to the event loop
_TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


class InfluxWriteError(LabctlError):
    """The server did not accept a batch; ``retryable`` says whether resending can help.

    Retryable: no connection, a timeout, 5xx, 408 or 429 (``retry_after_s`` carries the
    server's Retry-After). Not retryable: any other 4xx (bad credentials, unknown database or
    bucket, a point the server refuses). Neither drops points: the drain loop keeps the batch
    in the spool and retries, at the longest backoff when the error is not retryable.
    """

    def __init__(
        self,
        target: str,
        problem: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.target, self.problem, self.retryable = target, problem, retryable
        self.status, self.retry_after_s = status, retry_after_s
        super().__init__(f"{target}: {problem}")


class PointWriter(Protocol):
    """Writes one batch; returns only when the server accepted all of it."""

    async def write(self, points: Sequence[TelemetryPoint]) -> None:
        """Raise :class:`InfluxWriteError` unless every point was accepted."""


def to_point(point: TelemetryPoint) -> Point:
    """The library's point for ours (nanosecond time)."""
    out = Point(point.measurement)  # type: ignore[no-untyped-call]
    for key, tag in point.tags:
        out.tag(key, tag)  # type: ignore[no-untyped-call]
    for name, value in point.fields:
        out.field(name, value)  # type: ignore[no-untyped-call]
    return out.time(point.time_ns, WritePrecision.NS)  # type: ignore[no-untyped-call,no-any-return]


async def line_protocol(points: Sequence[TelemetryPoint]) -> bytes:
    """The batch as library-made line protocol, yielding to the loop every :data:`SLICE_S`.

    Serialising costs ~20 µs a point: a control tick must never wait for a whole batch.
    """
    lines: list[str] = []
    since = time.perf_counter()
    for point in points:
        line: str = to_point(point).to_line_protocol()  # type: ignore[no-untyped-call]
        if line:  # a point whose every field is NaN has no line
            lines.append(line)
        if time.perf_counter() - since > SLICE_S:
            await asyncio.sleep(0)
            since = time.perf_counter()
    return "\n".join(lines).encode()


def http_error(
    target: str, status: int, detail: str, retry_after: str | None = None
) -> InfluxWriteError:
    """The error for a refused write (HTTP ``status``), classified for retry."""
    retryable = status >= 500 or status in (408, 429)
    try:
        wait = float(retry_after) if retry_after else None
    except ValueError:  # an HTTP date: rare enough to fall back on our own backoff
        wait = None
    problem = f"HTTP {status}: {detail.strip()[:300] or 'no detail'}"
    return InfluxWriteError(target, problem, retryable=retryable, status=status, retry_after_s=wait)


def transport_error(target: str, exc: BaseException) -> InfluxWriteError:
    """The error for a write that got no answer (refused, reset, timed out): retryable."""
    problem = f"no answer ({type(exc).__name__}: {exc})" if str(exc) else type(exc).__name__
    return InfluxWriteError(target, problem, retryable=True)


class InfluxV1Writer:
    """POST ``/write?db=...&precision=ns`` on InfluxDB 1.x.

    With ``create_database`` (default), the first write that reaches the server first sends
    ``CREATE DATABASE`` (idempotent); if the user may not create databases, that is logged
    once and the database must exist (a write then fails with a non-retryable 404). Basic
    auth when ``username`` is given. Call :meth:`close` when done.
    """

    def __init__(
        self,
        url: str,
        database: str,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        *,
        create_database: bool = True,
    ) -> None:
        self.url, self.database, self.timeout_s = url.rstrip("/"), database, timeout_s
        self.target = f"influxdb {self.url} db {database}"
        self._headers = (
            {"Authorization": aiohttp.encode_basic_auth(username, password or "")}
            if username
            else {}
        )
        self._needs_create = create_database
        self._session: aiohttp.ClientSession | None = None

    async def write(self, points: Sequence[TelemetryPoint]) -> None:
        if not points:
            return
        body = await line_protocol(points)
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        params = {"db": self.database, "precision": "ns"}
        try:
            async with asyncio.timeout(self.timeout_s):
                if self._needs_create:
                    await self._create_database(self._session)
                async with self._session.post(self.url + "/write", params=params, data=body) as r:
                    if r.status == 204:
                        return
                    status, detail, retry_after = (
                        r.status,
                        await r.text(),
                        r.headers.get("Retry-After"),
                    )
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(self.target, exc) from exc
        if status == 404:  # database not found: try creating it again before the next write
            self._needs_create = True
        raise http_error(self.target, status, detail, retry_after)

    async def _create_database(self, session: aiohttp.ClientSession) -> None:
        name = self.database.replace("\\", "\\\\").replace('"', '\\"')
        query = {"q": f'CREATE DATABASE "{name}"'}
        async with session.post(self.url + "/query", params=query) as resp:
            detail = await resp.text()
            if resp.status >= 500:
                raise http_error(self.target, resp.status, detail)
        self._needs_create = False
        if resp.status != 200 or '"error"' in detail:
            log.warning("%s: cannot create the database (%s); it must exist", self.target, detail)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class InfluxV2Writer:
    """The v2 write API through ``influxdb-client``'s ``InfluxDBClientAsync``.

    The client is made on the first write (it must be created inside a coroutine); the
    library's own retry is not used (it has none in async mode): the drain loop retries.
    Call :meth:`close` when done.
    """

    def __init__(
        self, url: str, org: str, bucket: str, token: str, timeout_s: float = 10.0
    ) -> None:
        self.url, self.org, self.bucket, self.timeout_s = url.rstrip("/"), org, bucket, timeout_s
        self.target = f"influxdb {self.url} bucket {bucket}"
        self._token = token
        self._client: InfluxDBClientAsync | None = None
        self._api: WriteApiAsync | None = None

    async def write(self, points: Sequence[TelemetryPoint]) -> None:
        if not points:
            return
        body = await line_protocol(points)
        if self._client is None or self._api is None:
            timeout_ms = int(self.timeout_s * 1000)
            self._client = InfluxDBClientAsync(
                self.url, token=self._token, org=self.org, timeout=timeout_ms
            )
            self._api = self._client.write_api()
        try:
            async with asyncio.timeout(self.timeout_s):
                accepted = await self._api.write(
                    bucket=self.bucket,
                    org=self.org,
                    record=body,
                    write_precision=WritePrecision.NS,  # type: ignore[arg-type]  # a str constant
                )
        except ApiException as exc:
            status = exc.status if isinstance(exc.status, int) else 500
            raise http_error(self.target, status, str(exc.message), exc.retry_after) from exc
        except InfluxDBError as exc:  # raised without a response: nothing reached the server
            raise transport_error(self.target, exc) from exc
        except _TRANSPORT_ERRORS as exc:
            raise transport_error(self.target, exc) from exc
        if not accepted:
            raise InfluxWriteError(self.target, "write not confirmed (no 204)", retryable=True)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]
            self._client = self._api = None
