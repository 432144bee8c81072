"""The command line: every command has help and is documented in the README."""
from __future__ import annotations

import subprocess
import sys

from helpers import ROOT

from autograder.cli import build_parser


def commands():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices


def test_every_command_has_help_and_is_in_the_readme():
    """Is each subcommand described by --help and named in README.md as `python -m autograder NAME`?"""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert set(commands()) == {"data", "prove", "release", "collect", "grade", "feedback", "export", "report", "solutions",
                               "manual", "accounts", "serve", "demo", "assignments", "examples", "new", "extensions"}
    for name, parser in commands().items():
        assert parser.description, name
        assert f"python -m autograder {name}" in readme, name


def test_every_option_is_in_the_readme():
    """Is each option of each subcommand (--workers, --scheduler, --force …) named in README.md?"""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, parser in commands().items():
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag not in ("--help", "--course-dir"):
                    assert flag in readme, f"{name} {flag}"
    assert "--course-dir" in readme


def test_unknown_assignment_and_missing_course_fail_bilingually(tmp_path):
    """Do a wrong assignment id and a folder without course_config.py give exit 2 and a Japanese/English message?"""
    run = lambda *args: subprocess.run([sys.executable, "-m", "autograder", *args],  # noqa: E731
                                       capture_output=True, text=True, timeout=120)
    out = run("--course-dir", str(ROOT), "grade", "kadai99")
    assert out.returncode == 2 and "kadai99" in out.stderr and "kadai4" in out.stderr and "course_config.py" in out.stderr
    out = run("export", "kadai4", "--course-dir", str(tmp_path))
    assert out.returncode == 2 and "--course-dir" in out.stderr and "見つかりません" not in out.stdout


def test_grading_before_release_says_to_release(tmp_path):
    """Does `grade` in a course whose gradebook lacks kadai4 tell the instructor to run `release` first?"""
    (tmp_path / "course_config.py").write_text((ROOT / "course_config.py").read_text(encoding="utf-8"), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "autograder", "grade", "kadai4", "--course-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "python -m autograder release kadai4" in out.stderr and "先に" in out.stderr


def test_course_dir_before_or_after_the_command():
    """Is --course-dir honoured before the command as well as after it (not reset by the command's default)?"""
    from autograder.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["--course-dir", "a", "grade", "kadai5"]).course_dir == "a"
    assert parser.parse_args(["grade", "kadai5", "--course-dir", "b"]).course_dir == "b"
    assert parser.parse_args(["grade", "kadai5"]).course_dir == "."
