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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labctl.cast.summary import CastOrigin, CastSummary
from labctl.commands.idempotency import Once
from labctl.commands.registry import CommandRefused
from labctl.config.site import SiteConfig
from labctl.ledger import chain
from labctl.ledger.burnout import Burnout, KilnHistory
from labctl.ledger.certificate_pdf import CertificatePage, Plot, render
from labctl.ledger.jcs import LedgerFormatError, canonical
from labctl.ledger.records import (
    BurnoutEvidence,
    CastRecord,
    Confirmation,
    Gap,
    ProcessSummary,
    TelemetryDigest,
)
from labctl.ledger.service import LedgerService, predicate_of
from labctl.ledger.store_reads import LedgerError
from labctl.ledger.trips import TripRecorder
from labctl.profiles.alloys import Alloy
from labctl.runs.state import OutcomeKind
from labctl.runs.store import RunStore

log = logging.getLogger(__name__)
_OUTCOMES = {
    OutcomeKind.COMPLETED: "complete",
    OutcomeKind.ABORTED: "aborted",
    OutcomeKind.FAULTED: "fault",
    OutcomeKind.INTERRUPTED: "interrupted",
}


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

    @property
    def store(self) -> RunStore | None:
        """The run store the burnout samples and the casts are read from (if wired)."""
        return self.history.store

    async def check_origin(self, origin: CastOrigin, alloy: Alloy) -> None:
        """The chain lot -> melt -> flask -> cast (``labctl.ledger.chain``), or CommandRefused."""
        await chain.check_origin(self.service, self.store, origin, alloy)

    async def recall(self, key: str) -> tuple[str, dict[str, object]] | None:
        """The digest and answer kept for a client idempotency ``key``."""
        return await self.service.ledger.recall(key)

    async def remember(self, once: Once) -> None:
        """Keep the answer of a request with an idempotency key (Repeated if the key is used)."""
        await self.service.ledger.remember(once)

    async def record(self, cast: CastSummary) -> None:
        """The cast record, after its commit (or an alarm naming the missing record)."""
        try:
            until = cast.started_wall  # the flask's burnout began before its cast
            if until is None and cast.series:
                until = cast.series[0][0]
            burnout = await self.history.burnout(cast.origin.kiln, cast.origin.flask_id, until)
            rec = await asyncio.to_thread(self._cast_record, cast, burnout)  # writes the series
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

    def _cast_record(self, cast: CastSummary, burnout: Burnout | None) -> CastRecord:
        export = {
            "cast": [list(s) for s in cast.series],
            "kiln": [list(k) for k in burnout.samples] if burnout else [],
            "kiln_run": burnout.run_id if burnout else None,
            "kiln_gaps": [list(g) for g in burnout.gaps] if burnout else [],
        }
        data = canonical(export, "cast series")
        self.archive.mkdir(parents=True, exist_ok=True)
        name = f"cast-{cast.cast_id}.series.json"
        (self.archive / name).write_bytes(data)
        crucible = [s[1] for s in cast.series if s[1] is not None]
        mbar = [s[3] for s in cast.series if s[3] is not None]
        rpm = [s[4] for s in cast.series if s[4] is not None]
        vacuum = cast.params.kind.value == "vacuum"
        peak = burnout.peak_c if burnout else None
        process = ProcessSummary(
            peak_kiln_c=None if peak is None else round(peak),
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
            burnout=None if burnout is None else _evidence(burnout),
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
        return predicate_of(leaf)

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
                ("Burnout", f"{cast['burnout_profile']}; {_burnout_text(cast)}"),
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


def _evidence(burnout: Burnout) -> BurnoutEvidence:
    def at(wall: float) -> datetime:
        return datetime.fromtimestamp(wall, UTC)

    gaps = [Gap(from_at=at(a), to_at=at(b)) for a, b in burnout.gaps[:100]]
    return BurnoutEvidence(
        run_id=burnout.run_id,
        samples=len(burnout.samples),
        gaps=gaps,
        gaps_total=len(burnout.gaps),
    )


def _burnout_text(cast: dict[str, Any]) -> str:
    evidence, peak = cast.get("burnout"), cast["process"]["peak_kiln_c"]
    if not evidence:
        return "no stored burnout run names this flask"
    gaps = "; ".join(f"{g['from_at']} to {g['to_at']}" for g in evidence["gaps"])
    return (
        f"run {evidence['run_id']}, peak {peak} °C, {evidence['samples']} samples, "
        f"{evidence.get('gaps_total', 0)} gaps{': ' + gaps if gaps else ''}"
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
        Plot("Burnout", "°C", {"kiln PV": [(k[0] - k0, k[1]) for k in kiln if k[1] is not None]}),
        Plot("Crucible", "°C", {"controller": column(1), "independent TC": column(2)}),
        Plot("Chamber pressure", "mbar", {"chamber": column(3)}, log_scale=True),
        Plot("Arm", "rpm", {"arm": column(4)}),
    ]


async def open_recorder(
    site: SiteConfig, alarm: Callable[[str], None], store: RunStore | None = None
) -> CastRecorder | None:
    """The site's ledger, if it has one; a ledger that fails its tail check opens stopped.

    ``store`` is the daemon's run store (burnout samples, casts); without it the recorder opens
    its own connection to the same file (``state_dir/runs.sqlite``) and closes it with the
    ledger.
    """
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
    own = store is None
    store = await RunStore.open(site.state_dir / "runs.sqlite") if store is None else store
    history = KilnHistory(store)
    service.closing.append(history.flush)  # the samples not yet stored, at a clean stop
    if own:
        service.closing.append(store.close)
    return CastRecorder(service, archive, history, alarm)
