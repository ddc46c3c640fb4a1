"""Job tickets from JSON files; the printable flask ticket with its QR code."""

import re
from pathlib import Path

import pytest
import segno

from labctl.ledger.records import JobTicket, TreeFlask
from labctl.ledger.tickets import JobFileError, flask_qr_svg, flask_ticket_html, load_jobs

JOBS = Path(__file__).parent.parent / "fixtures" / "jobs"


def test_good_file_loads():
    jobs = load_jobs(JOBS / "good.json")
    assert [j.job_id for j in jobs] == ["J-1001", "J-1002"]
    assert jobs[0].piece_ids == ["J-1001-1", "J-1001-2"]
    assert jobs[1].piece_class == "thin"


@pytest.mark.parametrize(
    ("name", "index", "field", "problem"),
    [
        ("missing_field.json", 1, "customer_order", "Field required"),
        ("bad_sha256.json", 1, "cad_file.sha256", "64 lowercase hex digits"),
        ("unknown_piece_class.json", 0, "piece_class", "'thin', 'medium' or 'heavy'"),
        ("duplicate_job_id.json", 1, "job_id", "duplicate job id 'J-1001' (also entry 0)"),
    ],
)
def test_broken_files_name_file_entry_field_problem(name, index, field, problem):
    path = JOBS / name
    with pytest.raises(JobFileError) as info:
        load_jobs(path)
    err = info.value
    assert (err.path, err.index, err.field) == (path, index, field)
    assert problem in err.problem
    assert str(err).startswith(f"{path}: entry {index}: {field}: ")


def test_unreadable_and_non_list_files(tmp_path: Path):
    with pytest.raises(JobFileError, match="cannot read"):
        load_jobs(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("[{", encoding="utf-8")
    with pytest.raises(JobFileError, match=r"bad\.json: not valid JSON"):
        load_jobs(tmp_path / "bad.json")
    (tmp_path / "obj.json").write_text('{"job_id": "J"}', encoding="utf-8")
    with pytest.raises(JobFileError, match="must hold a JSON list") as info:
        load_jobs(tmp_path / "obj.json")
    assert info.value.index is None


@pytest.fixture
def jobs() -> list[JobTicket]:
    return load_jobs(JOBS / "good.json")


@pytest.fixture
def flask() -> TreeFlask:
    return TreeFlask(flask_id="F-0042", tree_id="T-17", job_ids=["J-1002", "J-1001"])


def test_ticket_has_flask_jobs_pieces_alloy_class_tree(flask, jobs):
    html = flask_ticket_html(flask, jobs)
    assert re.search(r"<h1>F-0042</h1>", html)
    assert "<b>T-17</b>" in html
    for job in jobs:
        assert f"<td>{job.job_id}</td>" in html
        assert f"<td>{', '.join(job.piece_ids)}</td>" in html
        assert f"<td>{job.piece_class}</td>" in html
    assert html.index("J-1002") < html.index("J-1001")  # in the flask's order
    assert "alloy <b>18k-yellow</b>" in html
    assert "piece class <b>medium, thin</b>" in html
    assert "2 jobs, 3 pieces" in html
    assert "SO-78 &lt;Jones &amp; Co&gt;" in html  # escaped


def test_ticket_is_self_contained(flask, jobs):
    html = flask_ticket_html(flask, jobs)
    assert "<style>" in html
    assert not re.search(r"(src|href)\s*=|url\(|@import|<script", html)


def test_ticket_qr_is_segno_for_exactly_the_flask_id(flask, jobs):
    html = flask_ticket_html(flask, jobs)
    svgs = re.findall(r"<svg.*?</svg>", html, re.DOTALL)
    assert len(svgs) == 1
    assert svgs[0] == segno.make_qr("F-0042", error="m").svg_inline(scale=5, title="F-0042")
    assert svgs[0] == flask_qr_svg("F-0042")
    assert svgs[0] != flask_qr_svg("F-0043")


def test_ticket_refuses_jobs_not_matching_the_flask(flask, jobs):
    with pytest.raises(ValueError, match=r"missing \['J-1002'\], extra \[\]"):
        flask_ticket_html(flask, jobs[:1])
    other = TreeFlask(flask_id="F-1", tree_id="T-1", job_ids=["J-1001"])
    with pytest.raises(ValueError, match=r"missing \[\], extra \['J-1002'\]"):
        flask_ticket_html(other, jobs)
