"""Files people write: job tickets (JSON), alloy and burnout profiles and the site config (TOML).

Inputs are the shipped files with lines edited or bytes changed, and arbitrary bytes. Property:
a file loads, or fails with the project's error naming the file (and, past the syntax, a
field); never a bare ValueError, KeyError, UnicodeDecodeError or RecursionError.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.config.site import load_site
from labctl.errors import ConfigError, ProfileError
from labctl.ledger.tickets import JobFileError, load_jobs
from labctl.profiles.alloys import Alloy, load_alloy
from labctl.profiles.loader import load_burnout
from labctl.profiles.segments import Schedule
from tests.fuzz.support import edited_lines, fuzz, mutated, says

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "tests/labctl/fixtures/jobs/good.json"
BURNOUT = sorted((ROOT / "profiles/burnout").glob("*.toml"))
ALLOYS = sorted((ROOT / "profiles/alloys").glob("*.toml"))
SITE = ROOT / "systemd/site.example.toml"


def contents(original: Path) -> st.SearchStrategy[bytes]:
    """The file with lines edited, with bytes changed, or arbitrary bytes."""
    text = original.read_text(encoding="utf-8")
    return st.one_of(
        edited_lines(text),
        edited_lines(text),
        mutated(st.just(text.encode())),
        st.binary(max_size=200),
    )


@fuzz(150)
@given(data=st.data())
def test_job_ticket_files_load_or_name_file_and_field(tmp_path: Path, data: st.DataObject) -> None:
    text = JOBS.read_text(encoding="utf-8")
    path = tmp_path / "jobs.json"
    raw = data.draw(mutated(st.just(text.encode())) | st.binary(max_size=100))
    path.write_bytes(raw)
    try:
        jobs = load_jobs(path)
    except JobFileError as err:
        says(err, str(path))
        return
    assert len({job.job_id for job in jobs}) == len(jobs)


@fuzz(120)
@pytest.mark.parametrize(
    ("originals", "load"),
    [(BURNOUT, load_burnout), (ALLOYS, load_alloy)],
    ids=["burnout", "alloy"],
)
@given(data=st.data())
def test_profiles_load_or_name_file_and_field(
    tmp_path: Path,
    originals: list[Path],
    load: Callable[[Path], Schedule | Alloy],
    data: st.DataObject,
) -> None:
    original = data.draw(st.sampled_from(originals), label="profile")
    path = tmp_path / original.name
    path.write_bytes(data.draw(contents(original), label="content"))
    try:
        profile = load(path)
    except ProfileError as err:
        says(err, str(path), err.field or "<a field>")
        return
    assert profile.name == path.stem
    assert not isinstance(profile, Schedule) or profile.segments


@fuzz(150)
@given(content=contents(SITE).map(lambda b: b.decode("utf-8", "replace").encode()))
def test_site_config_loads_or_names_file_and_field(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "site.toml"
    path.write_bytes(content)
    try:
        load_site(path)
    except ConfigError as err:
        says(err, str(path), err.field or "<a field>")


def test_a_site_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_bytes(b'[lab]\nname = "\xff"\n')
    with pytest.raises(ConfigError) as err:
        load_site(path)
    says(err.value, str(path))


Loader = Callable[[Path], object]
DEEP: list[tuple[str, Loader, type[Exception]]] = [
    ("jobs.json", load_jobs, JobFileError),
    ("gypsum-wax-small.toml", load_burnout, ProfileError),
    ("silver-925.toml", load_alloy, ProfileError),
    ("site.toml", load_site, ConfigError),
]


@pytest.mark.parametrize(("name", "load", "error"), DEEP, ids=[d[0] for d in DEEP])
def test_a_deeply_nested_file_is_a_named_error(
    tmp_path: Path, name: str, load: Loader, error: type[Exception]
) -> None:
    path = tmp_path / name
    path.write_bytes((b"a = " if name.endswith(".toml") else b"") + b"[" * 5000)
    with pytest.raises(error) as err:
        load(path)
    says(err.value, str(path))
