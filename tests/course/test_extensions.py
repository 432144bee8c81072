"""Per-student extensions: one file of the course, read alike by the portal, collect and grading's late policies."""
from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import nbformat
import pytest
from helpers import ROOT, copy_course

from autograder import cli
from autograder.course import load_course
from autograder.course.extensions import (
    FILE,
    ExtensionError,
    due_for,
    import_extensions,
    read_extensions,
    set_extension,
)

AID = "kadai5"


@pytest.fixture
def bare(tmp_path):
    """A course folder with course_config.py alone."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(ROOT / "course_config.py", root / "course_config.py")
    return load_course(root)


def test_an_extension_is_the_students_due_date_alone_and_bad_ones_are_refused(bare):
    """Does an extension give that student (only) a later due time, round-trip through the file in the course's
    time zone, replace an earlier one, go away when removed, and is an unknown assignment, a malformed id or a time
    not after the due date refused with nothing written (a CSV: all rows or none)?"""
    course = bare
    due = course.config.assignment(AID).due
    later = due + timedelta(days=3)
    set_extension(course, "s001", AID, later)
    assert due_for(course, AID, "s001") == later and due_for(course, AID, "s002") == due
    assert "s001,kadai5,2027-05-26 23:59" in (course.root / FILE).read_text(encoding="utf-8")
    set_extension(course, "s001", AID, later + timedelta(hours=1))
    assert read_extensions(course) == {("s001", AID): later + timedelta(hours=1)}
    for bad in (("s001", "kadai99", later), ("../x", AID, later), ("s001", AID, due - timedelta(hours=1))):
        with pytest.raises(ExtensionError):
            set_extension(course, *bad)
    with pytest.raises(ExtensionError, match="line 3"):
        import_extensions(course, "student_id,assignment_id,due\ns002,kadai5,2027-05-30 12:00\ns003,kadai5,tomorrow\n")
    assert set(read_extensions(course)) == {("s001", AID)}  # nothing of the refused CSV
    assert import_extensions(course, "\ufeffstudent_id,assignment_id,due\ns002,kadai5,2027-05-30T12:00+09:00\n") == 1
    assert due_for(course, AID, "s002") == datetime(2027, 5, 30, 3, 0, tzinfo=UTC)
    set_extension(course, "s001", AID, None)
    assert set(read_extensions(course)) == {("s002", AID)}


def test_the_cli_imports_a_csv_and_lists_every_extension(bare, tmp_path, capsys):
    """Does `extensions CSV` record the rows and list every extension in the course's time zone?"""
    course = bare
    rows = tmp_path / "ext.csv"
    rows.write_text("student_id,assignment_id,due\ns004,kadai5,2027-05-29 18:00\n", encoding="utf-8")
    assert cli.main(["extensions", str(rows), "--course-dir", str(course.root)]) == 0
    out = capsys.readouterr()
    assert "1 件の延長を入れました" in out.out and "s004" in out.out and "2027-05-29 18:00" in out.out
    assert "確かめていません" in out.err  # no student known yet: said, not silently unchecked
    course.record_names({"s004": "山田 花子", "s005": "佐藤 太郎"})  # a roster in the gradebook: ids are checked
    rows.write_text("student_id,assignment_id,due\ns005,kadai5,2027-05-29 18:00\ns00S,kadai5,2027-05-29 18:00\n",
                    encoding="utf-8")
    assert cli.main(["extensions", str(rows), "--course-dir", str(course.root)]) == 2
    out = capsys.readouterr()
    assert "s00S" in out.err and "s005" not in out.out  # the typo named, and no row of that CSV recorded
    assert set(read_extensions(course)) == {("s004", AID)}


def test_grading_rejects_late_work_by_the_students_own_due_date(released_course, tmp_path):
    """Under the reject policy, is a notebook stamped after the due date screened late, but the same from a student
    whose extension covers it pending for grading; and does the gradebook's submission carry the extension (the
    due date nbgrader's late penalty reads)?"""
    from autograder.grading.grade import AssignmentGrading, _save_autogrades

    course = copy_course(released_course(AID), tmp_path / "course")
    due = course.config.assignment(AID).due
    release = course.release_notebook(AID).read_bytes()
    for student in ("s001", "s002"):
        course.file_submission(AID, student, release, due + timedelta(hours=2))
    set_extension(course, "s002", AID, due + timedelta(days=1))
    grading = AssignmentGrading(course.assignment(AID))
    assert grading.screen("s001").result.status == "late"
    assert grading.screen("s002").pending is not None
    _save_autogrades(course.assignment(AID), "s002", nbformat.reads(release.decode("utf-8"), as_version=4),
                     (due + timedelta(hours=2)).astimezone(UTC).replace(tzinfo=None))
    with course.gradebook() as gb:
        submission = gb.find_submission(AID, "s002")
        assert submission.extension == timedelta(days=1) and submission.total_seconds_late == 0


def test_collect_files_an_extended_students_upload_as_on_time(released_course, tmp_path):
    """Is an LMS upload after the due date late for one student and on time for one whose extension covers it?"""
    from autograder.tools.intake import collect

    course = copy_course(released_course(AID), tmp_path / "course")
    due = course.config.assignment(AID).due
    set_extension(course, "s002", AID, due + timedelta(days=1))
    download = tmp_path / "download"
    download.mkdir()
    zone = ZoneInfo(course.config.timezone)
    stamp = (due + timedelta(hours=2)).astimezone(zone).strftime(course.config.lms_time_format)  # the LMS's local time
    for student in ("s001", "s002"):  # as course_config's lms_filename_pattern reads them
        (download / f"{student}_{stamp}.ipynb").write_bytes(course.release_notebook(AID).read_bytes())
    intake = collect(course.assignment(AID), download)
    assert {u.student_id: u.late for u in intake.filed} == {"s001": True, "s002": False}
