"""Casts into the ledger: the cast record, its archived series, and its certificate.

:meth:`CastRecorder.record` runs when a cast has ended (every device already safe): it writes
the cast's raw series, and the burnout series of the kiln the flask came from, as canonical
JSON beside the ledger, and signs a ``cast-record`` that carries the file's SHA-256. A ledger
that cannot append (stopped, disk full) raises an alarm; the cast's outcome stands in the run
store either way, and the alarm says which record is missing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labctl.cast.summary import CastOrigin, CastSummary
from labctl.commands import CommandRefused
from labctl.config import SiteConfig
from labctl.ledger import dsse, statement
from labctl.ledger.certificate_pdf import CertificatePage, Plot, render
from labctl.ledger.jcs import LedgerFormatError, canonical
from labctl.ledger.records import CastRecord, Confirmation, ProcessSummary, TelemetryDigest
from labctl.ledger.service import LedgerService
from labctl.ledger.store import LedgerError
from labctl.ledger.trips import TripRecorder
from labctl.run_state import OutcomeKind
from labctl.snapshot import KilnSnapshot

log = logging.getLogger(__name__)
_OUTCOMES = {
    OutcomeKind.COMPLETED: "complete",
    OutcomeKind.ABORTED: "aborted",
    OutcomeKind.FAULTED: "fault",
    OutcomeKind.INTERRUPTED: "interrupted",
}


class KilnHistory:
    """The recent (wall, PV, SP) of every kiln, for the burnout curve of a cast's flask."""

    def __init__(self, keep: int = 50_000) -> None:
        self._keep = keep
        self._series: dict[str, deque[tuple[float, float | None, float | None]]] = {}

    def add(self, snap: KilnSnapshot) -> None:
        series = self._series.setdefault(snap.kiln, deque(maxlen=self._keep))
        series.append((snap.wall, snap.pv_c, snap.setpoint_c))

    def series(self, kiln: str) -> list[tuple[float, float | None, float | None]]:
        return list(self._series.get(kiln, ()))


class CastRecorder:
    """Records ended casts and exports their certificates."""

    def __init__(
        self,
        service: LedgerService,
        archive: Path,
        history: KilnHistory,
        alarm: Callable[[str], None],
    ) -> None:
        self.service, self.archive, self.history, self._alarm = service, archive, history, alarm
        self.trips = TripRecorder(service, alarm)  # burnout runs that end faulted

    async def check_origin(self, origin: CastOrigin) -> None:
        """A cast needs its flask and its melt recorded first (the chain lot -> melt -> cast)."""
        for kind, subject, what in (
            ("tree-flask", origin.flask_id, "flask"),
            ("melt", origin.melt_id, "melt"),
        ):
            if subject is None:
                raise CommandRefused(f"this lab keeps a ledger: give the {what} id (--{what}-id)")
            if await self.service.find(kind, subject) is None:
                raise CommandRefused(f"{what} {subject} is not in the ledger; record it first")

    async def record(self, cast: CastSummary) -> None:
        """The cast record, after its commit (or an alarm naming the missing record)."""
        try:
            rec = await asyncio.to_thread(self._cast_record, cast)  # writes the series file
            appended = await self.service.record(rec)
        except (LedgerError, LedgerFormatError, OSError, ValueError) as err:
            self._alarm(f"cast {cast.cast_id} is NOT in the ledger: {err}")
            return
        log.info(
            "%s: cast %d recorded in the ledger at index %d",
            cast.caster,
            cast.cast_id,
            appended.index,
        )

    def _cast_record(self, cast: CastSummary) -> CastRecord:
        kiln = self.history.series(cast.origin.kiln)
        export = {"cast": [list(s) for s in cast.series], "kiln": [list(k) for k in kiln]}
        data = canonical(export, "cast series")
        self.archive.mkdir(parents=True, exist_ok=True)
        name = f"cast-{cast.cast_id}.series.json"
        (self.archive / name).write_bytes(data)
        crucible = [s[1] for s in cast.series if s[1] is not None]
        mbar = [s[3] for s in cast.series if s[3] is not None]
        rpm = [s[4] for s in cast.series if s[4] is not None]
        vacuum = cast.params.kind.value == "vacuum"
        process = ProcessSummary(
            peak_kiln_c=round(
                max((k[1] for k in kiln if k[1] is not None), default=cast.origin.flask_c)
            ),
            flask_c_at_cast=round(cast.origin.flask_c),
            pour_c=round(max(crucible, default=0.0)),
            min_vacuum_pa=round(min(mbar) * 100) if vacuum and mbar else None,
            spin_rpm=round(max(rpm)) if not vacuum and rpm else None,
            outcome=_OUTCOMES[cast.outcome.kind],
            outcome_detail=str(cast.outcome)[:300],
        )
        return CastRecord(
            cast_id=f"cast-{cast.cast_id}",
            flask_id=cast.origin.flask_id or "unrecorded",
            melt_id=cast.origin.melt_id or "unrecorded",
            kiln_id=cast.origin.kiln,
            caster_id=cast.caster,
            burnout_profile=cast.origin.burnout_profile or "unknown",
            alloy=cast.params.alloy,
            confirmations=[
                Confirmation(step=step, by=by, at=datetime.fromtimestamp(at, UTC))
                for step, by, at in cast.confirmations
            ],
            process=process,
            telemetry=TelemetryDigest(file_name=name, sha256=hashlib.sha256(data).hexdigest()),
        )

    async def export(self, cast_id: str, out: Path) -> Path:
        """The certificate of ``cast_id`` (e.g. ``cast-2``) into ``out``."""
        entry = await self.service.find("cast-record", cast_id)
        if entry is None:
            raise CommandRefused(f"{cast_id} is not in the ledger")
        cast = await self.predicate(entry.leaf)
        melt_entry = await self.service.find("melt", str(cast["melt_id"]))
        melt = await self.predicate(melt_entry.leaf) if melt_entry is not None else {}
        pdf = await asyncio.to_thread(  # reads the archived series, renders, writes: off the loop
            lambda: _render(self._page(cast, melt, entry.index), out)
        )
        await self.service.export(entry, out, pdf)
        return out

    @staticmethod
    async def predicate(leaf: bytes) -> dict[str, Any]:
        """The predicate of a stored record (its envelope was verified when it was appended)."""
        envelope = dsse.Envelope.from_json(leaf)
        return dict(statement.parse(envelope.payload).predicate)

    def _page(self, cast: dict[str, Any], melt: dict[str, Any], index: int) -> CertificatePage:
        process = cast["process"]
        path = self.archive / str(cast["telemetry"]["file_name"])
        data = json.loads(path.read_text()) if path.exists() else {"cast": [], "kiln": []}
        lots = ", ".join(
            f"{i['lot_id']} ({i['coc_class']}, {i['fineness_ppt']} ‰, {i['mass_mg']} mg)"
            for i in melt.get("inputs", [])
        )
        return CertificatePage(
            title=f"Cast certificate: {cast['cast_id']} ({cast['alloy']})",
            facts=[
                ("Outcome", f"{process['outcome']} {process.get('outcome_detail', '')}"),
                ("Flask", f"{cast['flask_id']} at {process['flask_c_at_cast']} °C"),
                ("Kiln / caster", f"{cast['kiln_id']} / {cast['caster_id']}"),
                ("Burnout", str(cast["burnout_profile"])),
                (
                    "Confirmed",
                    "; ".join(f"{c['step']} by {c['by']}" for c in cast["confirmations"]),
                ),
            ],
            chain=[
                f"lots {lots or '(melt not in the ledger)'}",
                f"-> melt {cast['melt_id']} (recycled {melt.get('recycled_pct', '?')} %)",
                f"-> flask {cast['flask_id']} -> cast {cast['cast_id']}",
            ],
            digests=[
                ("ledger", f"{self.service.ledger.origin} index {index}"),
                (
                    "series",
                    f"{cast['telemetry']['file_name']} sha256 {cast['telemetry']['sha256']}",
                ),
            ],
            plots=_plots(data),
        )


def _render(page: CertificatePage, out: Path) -> bytes:
    out.mkdir(parents=True, exist_ok=True)
    render(page, out / "certificate.pdf")
    return (out / "certificate.pdf").read_bytes()


def _plots(data: dict[str, Any]) -> list[Plot]:
    cast, kiln = data["cast"], data["kiln"]
    t0 = cast[0][0] if cast else 0.0
    k0 = kiln[0][0] if kiln else 0.0

    def column(i: int) -> list[tuple[float, float]]:
        return [(s[0] - t0, s[i]) for s in cast if s[i] is not None]

    return [
        Plot("Burnout", "°C", {"kiln PV": [(w - k0, v) for w, v, _ in kiln if v is not None]}),
        Plot("Crucible", "°C", {"controller": column(1), "independent TC": column(2)}),
        Plot("Chamber pressure", "mbar", {"chamber": column(3)}, log_scale=True),
        Plot("Arm", "rpm", {"arm": column(4)}),
    ]


async def open_recorder(site: SiteConfig, alarm: Callable[[str], None]) -> CastRecorder | None:
    """The site's ledger, if it has one; a ledger that fails its tail check opens stopped."""
    cfg = site.ledger
    if cfg is None:
        return None
    service = await LedgerService.open(
        cfg.path or site.state_dir / "ledger.sqlite",
        origin=cfg.origin,
        key_files=cfg.key_files,
        retired_vkeys=cfg.retired_vkeys,
        on_alarm=alarm,
    )
    if not service.ledger.state.ok:
        alarm(f"the ledger refuses appends: {service.ledger.state.stopped}")
    archive = cfg.archive_dir or site.state_dir / "ledger-archive"
    return CastRecorder(service, archive, KilnHistory(), alarm)
