"""collect against a hostile download: what it costs to read, what it refuses unread, what reaches its log."""
from __future__ import annotations

import csv
import dataclasses
import shutil
import tracemalloc
import zipfile

import nbformat
import pytest

from autograder.course import Course
from autograder.tools import intake
from autograder.tools.examples import filled_in
from autograder.tools.export import export_grades
from autograder.tools.intake import FILED, PROBLEM, SUPERSEDED, collect

AID = "kadai4"
NOTEBOOK = "s001_20270520120000_kadai4.ipynb"
FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture
def scratch(course, tmp_path) -> Course:
    """kadai4's source in an empty scratch course, ``collect_notebook_mb`` = 1 so the limits are cheap to cross."""
    (tmp_path / "course" / "source" / AID).mkdir(parents=True)
    shutil.copyfile(course.source_notebook(AID), tmp_path / "course" / "source" / AID / f"{AID}.ipynb")
    return Course(root=tmp_path / "course", config=dataclasses.replace(course.config, collect_notebook_mb=1))


@pytest.fixture(scope="module")
def answer(course) -> str:
    """A correct kadai4 notebook, as text (a few tens of kB)."""
    return nbformat.writes(filled_in(course.source_notebook(AID), course.release_notebook(AID)))


def _padded(answer: str, size: int) -> str:
    """``answer`` with a Markdown cell that makes it about ``size`` bytes (and compress to almost nothing)."""
    notebook = nbformat.reads(answer, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("x" * (size - len(answer))))
    return nbformat.writes(notebook)


def _by_name(result) -> dict:
    return {u.source.rsplit("/", 1)[-1]: u for u in result.uploads}


def _peak_mb(run) -> tuple[object, float]:
    """``run()``'s result and the peak of Python memory it allocated, in MB."""
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_huge_non_notebook_is_listed_never_read(scratch, answer, tmp_path):
    """Does a 5 MB-style download with one 200 MB entry (zeros, deflated to ~200 kB) cost collect almost no memory?"""
    download = tmp_path / "webclass.zip"
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"WebClass/{NOTEBOOK}", answer)
        with archive.open("WebClass/s001_20270520120000_video.mp4", "w", force_zip64=True) as entry:
            zeros = bytes(2**20)
            for _ in range(200):
                entry.write(zeros)
    assert download.stat().st_size < 2 * 2**20

    result, peak = _peak_mb(lambda: collect(scratch.assignment(AID), download))
    uploads = _by_name(result)
    assert uploads[NOTEBOOK].outcome == FILED
    assert uploads["s001_20270520120000_video.mp4"].outcome == PROBLEM
    assert "not a notebook (.ipynb)" in uploads["s001_20270520120000_video.mp4"].reason
    assert peak < 20, f"collect allocated {peak:.0f} MB"  # reading the entry whole took 440 MB


def test_only_notebooks_within_the_limit_are_opened(scratch, answer, tmp_path, monkeypatch):
    """Are non-notebooks and notebooks whose header says more than collect_notebook_mb never opened, the big one
    listed with a bilingual reason naming the setting?"""
    download = tmp_path / "webclass.zip"
    big = "s002_20270520120000_kadai4.ipynb"
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(NOTEBOOK, answer)
        archive.writestr(big, _padded(answer, 3 * 2**20))
        archive.writestr("s001_20270520120000_memo.pdf", b"%PDF-1.4" + bytes(2**20))
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: (
        opened.append(getattr(name, "filename", name)), real_open(self, name, *a, **k))[1])

    uploads = _by_name(collect(scratch.assignment(AID), download))
    assert uploads[NOTEBOOK].outcome == FILED and uploads[big].outcome == PROBLEM
    assert "1 MB を超える" in uploads[big].reason and "collect_notebook_mb" in uploads[big].reason
    assert "larger than 1 MB" in uploads[big].reason
    assert opened == [NOTEBOOK, NOTEBOOK]  # read to be checked, read again to be filed; nothing else
    assert not scratch.submission_notebook(AID, "s002").exists()


def _lie_about_size(download, name: str, size: int) -> None:
    """Rewrite the uncompressed size of ``name`` in both its local and its central header to ``size``."""
    with zipfile.ZipFile(download) as archive:
        info, central = archive.getinfo(name), archive.start_dir
    data = bytearray(download.read_bytes())
    assert data[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"
    data[info.header_offset + 22:info.header_offset + 26] = size.to_bytes(4, "little")
    record = data.index(b"PK\x01\x02", central)
    data[record + 24:record + 28] = size.to_bytes(4, "little")
    download.write_bytes(bytes(data))


def test_a_header_that_lies_about_the_size_is_read_no_further(scratch, answer, tmp_path):
    """A notebook entry of 30 MB whose headers say 1,000 bytes: is it refused ("cannot extract"), with little memory?"""
    download = tmp_path / "webclass.zip"
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(NOTEBOOK, _padded(answer, 30 * 2**20))
    _lie_about_size(download, NOTEBOOK, 1000)
    with zipfile.ZipFile(download) as archive:
        assert archive.getinfo(NOTEBOOK).file_size == 1000

    result, peak = _peak_mb(lambda: collect(scratch.assignment(AID), download))
    (upload,) = result.uploads
    assert upload.outcome == PROBLEM and "取り出せません" in upload.reason and "cannot extract" in upload.reason
    assert peak < 10, f"collect allocated {peak:.0f} MB"
    assert not scratch.submission_notebook(AID, "s001").exists()


def test_many_uploads_are_held_one_at_a_time(scratch, answer, tmp_path):
    """Twenty-five 0.9 MB uploads of one student (compressed to a few kB each): is the latest filed, byte for byte,
    while collect holds about one notebook in memory, not all of them?"""
    download = tmp_path / "webclass.zip"
    uploads = {f"s001_202704{day:02d}120000_kadai4.ipynb": _padded(answer, 900_000) + " " * day for day in range(1, 26)}
    with zipfile.ZipFile(download, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in uploads.items():
            archive.writestr(name, text)

    result, peak = _peak_mb(lambda: collect(scratch.assignment(AID), download))
    outcomes = _by_name(result)
    latest = "s001_20270425120000_kadai4.ipynb"
    assert outcomes[latest].outcome == FILED
    assert sum(u.outcome == SUPERSEDED for u in outcomes.values()) == 24
    assert scratch.submission_notebook(AID, "s001").read_text(encoding="utf-8") == uploads[latest]
    assert peak < 15, f"collect allocated {peak:.0f} MB for 25 uploads of 0.9 MB"


def test_a_folder_download_follows_no_symlink(scratch, answer, tmp_path):
    """In a folder download, are a link to a notebook outside it and a linked folder listed as not filed, unread,
    while the real file is filed?"""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.ipynb").write_text(answer, encoding="utf-8")
    (outside / "s003_20270520120000_kadai4.ipynb").write_text(answer, encoding="utf-8")
    download = tmp_path / "download"
    download.mkdir()
    (download / NOTEBOOK).write_text(answer, encoding="utf-8")
    (download / "s002_20270520120000_kadai4.ipynb").symlink_to(outside / "secret.ipynb")
    (download / "linked").symlink_to(outside, target_is_directory=True)

    uploads = _by_name(collect(scratch.assignment(AID), download))
    assert sorted(uploads) == ["linked", NOTEBOOK, "s002_20270520120000_kadai4.ipynb"]
    assert uploads[NOTEBOOK].outcome == FILED
    for name in ("linked", "s002_20270520120000_kadai4.ipynb"):
        assert uploads[name].outcome == PROBLEM and uploads[name].reason == intake.SYMLINK
    assert scratch.student_ids() == ["s001"]


def test_a_big_file_in_a_folder_is_not_read(scratch, answer, tmp_path):
    """Is a notebook file over collect_notebook_mb in a folder download refused with the setting's name?"""
    download = tmp_path / "download"
    download.mkdir()
    (download / NOTEBOOK).write_text(_padded(answer, 2 * 2**20), encoding="utf-8")
    (upload,) = collect(scratch.assignment(AID), download).uploads
    assert upload.outcome == PROBLEM and "collect_notebook_mb" in upload.reason


def test_formulas_from_students_reach_the_csvs_as_text(scratch, answer, tmp_path):
    """Do a roster name =HYPERLINK(...) and a zip entry name beginning with = reach the collect log and the grades
    CSV as text (a leading '), while the scores stay numbers?"""
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8-sig") as f:
        csv.writer(f).writerows([["student_id", "name"], ["s001", FORMULA]])
    download = tmp_path / "webclass.zip"
    entry = "=cmd|' /C calc'!A0.ipynb"
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr(NOTEBOOK, answer)
        archive.writestr(entry, answer)
    collect(scratch.assignment(AID), download, roster=roster)

    with open(scratch.root / "logs" / f"collect-{AID}.csv", encoding="utf-8-sig", newline="") as f:
        log = {row["source"]: row for row in csv.DictReader(f)}
    assert "'" + entry in log and log["'" + entry]["outcome"] == PROBLEM
    assert log[NOTEBOOK]["outcome"] == FILED

    grades = tmp_path / "grades.csv"
    export_grades(scratch.assignment(AID), grades)
    with open(grades, encoding="utf-8-sig", newline="") as f:
        (row,) = csv.DictReader(f)
    assert row["student_id"] == "s001" and row["name"] == "'" + FORMULA
    assert float(row["score"]) == 0 and float(row["max_score"]) == 25
