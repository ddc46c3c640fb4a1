"""Job tickets from JSON files, and the printable one-page flask ticket (HTML with a QR code).

The ticket is self-contained: inline CSS, and the QR code of the flask id as inline SVG made by
``segno`` (so it prints from a browser with no network).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path

import segno
from pydantic import ValidationError

from labctl.errors import LabctlError
from labctl.ledger.records import JobTicket, TreeFlask


class JobFileError(LabctlError):
    """A job-ticket file is unusable: names the file, the entry index, the field and the problem."""

    def __init__(self, path: Path, index: int | None, field: str, problem: str) -> None:
        self.path, self.index, self.field, self.problem = path, index, field, problem
        where = str(path) if index is None else f"{path}: entry {index}"
        where = f"{where}: {field}" if field else where
        super().__init__(f"{where}: {problem}")


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def load_jobs(path: Path) -> list[JobTicket]:
    """Read a JSON file holding a list of job tickets; job ids must be unique in the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise JobFileError(path, None, "", f"cannot read: {err.strerror}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise JobFileError(path, None, "", f"not valid JSON: {err}") from err
    except RecursionError:
        raise JobFileError(path, None, "", "nested too deeply to be a job file") from None
    if not isinstance(data, list):
        raise JobFileError(path, None, "", "must hold a JSON list of job tickets")
    jobs: list[JobTicket] = []
    for index, entry in enumerate(data):
        try:
            job = JobTicket.model_validate(entry)
        except ValidationError as err:
            first = err.errors()[0]
            raise JobFileError(path, index, _field(tuple(first["loc"])), first["msg"]) from err
        earlier = [i for i, j in enumerate(jobs) if j.job_id == job.job_id]
        if earlier:
            problem = f"duplicate job id {job.job_id!r} (also entry {earlier[0]})"
            raise JobFileError(path, index, "job_id", problem)
        jobs.append(job)
    return jobs


def flask_qr_svg(flask_id: str) -> str:
    """The QR code of ``flask_id`` as inline SVG (exactly what the ticket embeds)."""
    return segno.make_qr(flask_id, error="m").svg_inline(scale=5, title=flask_id)


def _job_rows(flask: TreeFlask, jobs: Sequence[JobTicket]) -> str:
    by_id = {job.job_id: job for job in jobs}
    missing = [j for j in flask.job_ids if j not in by_id]
    extra = sorted(set(by_id) - set(flask.job_ids))
    if missing or extra:
        raise ValueError(
            f"jobs do not match flask {flask.flask_id}: missing {missing}, extra {extra}"
        )
    rows = []
    for job in (by_id[j] for j in flask.job_ids):
        cells = (
            job.job_id,
            job.customer_order,
            job.alloy,
            job.piece_class,
            ", ".join(job.piece_ids),
            job.cad_file.name,
        )
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    return "\n".join(rows)


_CSS = """
@page { size: A4; margin: 12mm; }
body { font-family: sans-serif; margin: 0; color: #000; }
header { display: flex; justify-content: space-between; align-items: center; }
h1 { font-size: 40pt; margin: 0; letter-spacing: 1px; }
.meta { font-size: 14pt; margin: 4mm 0; }
table { border-collapse: collapse; width: 100%; font-size: 11pt; }
th, td { border: 1px solid #000; padding: 2mm; text-align: left; vertical-align: top; }
"""


def flask_ticket_html(flask: TreeFlask, jobs: Sequence[JobTicket]) -> str:
    """A printable one-page HTML ticket for ``flask``; ``jobs`` must be exactly its jobs."""
    rows = _job_rows(flask, jobs)
    alloys = ", ".join(sorted({job.alloy for job in jobs}))
    classes = ", ".join(sorted({job.piece_class for job in jobs}))
    pieces = sum(len(job.piece_ids) for job in jobs)
    fid = escape(flask.flask_id)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Flask {fid}</title>
<style>{_CSS}</style></head><body>
<header><div><div class="meta">FLASK</div><h1>{fid}</h1></div>
<div class="qr">{flask_qr_svg(flask.flask_id)}</div></header>
<p class="meta">Tree <b>{escape(flask.tree_id)}</b> &middot; alloy <b>{escape(alloys)}</b>
&middot; piece class <b>{escape(classes)}</b> &middot; {len(jobs)} jobs, {pieces} pieces</p>
<table><thead><tr><th>Job</th><th>Order</th><th>Alloy</th><th>Class</th><th>Pieces</th>
<th>CAD file</th></tr></thead><tbody>
{rows}
</tbody></table></body></html>
"""
