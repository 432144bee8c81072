"""credentials.csv, the one file holding every issued password: who may read it, and what a spreadsheet makes of it."""
from __future__ import annotations

import csv
import os
import stat

from autograder.portal.store import write_credentials

FORMULA = '=HYPERLINK("http://x","y")'


def test_credentials_are_never_readable_by_others(tmp_path):
    """Under umask 0, is credentials.csv mode 600 before its first password is written, and is an existing
    world-readable one made 600 too?"""
    out = tmp_path / "credentials.csv"
    modes_while_writing = []

    def rows():
        modes_while_writing.append(stat.S_IMODE(out.stat().st_mode))  # the file exists; no password is in it yet
        yield ("s001", "山田 花子", "student", "pw-one")

    old = os.umask(0)
    try:
        write_credentials(rows(), out)
        assert modes_while_writing == [0o600]
        assert stat.S_IMODE(out.stat().st_mode) == 0o600

        out.write_text("old passwords\n", encoding="utf-8")
        out.chmod(0o644)
        write_credentials([("s002", "佐藤 太郎", "student", "pw-two")], out)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "old passwords" not in out.read_text(encoding="utf-8") and "pw-two" in out.read_text(encoding="utf-8")


def test_roster_text_is_neutralised_and_passwords_are_not(tmp_path):
    """Does a roster name =HYPERLINK(...) (or an id beginning with @) reach credentials.csv as text, while a password
    that begins with '-' (token_urlsafe can draw one) is kept exactly as issued?"""
    out = tmp_path / "credentials.csv"
    write_credentials([("@s001", FORMULA, "student", "-Zk3_x9aQ"), ("instructor", "担当教員", "instructor", "abc")], out)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows[0] == {"user_id": "'@s001", "name": "'" + FORMULA, "role": "student", "password": "-Zk3_x9aQ"}
    assert rows[1] == {"user_id": "instructor", "name": "担当教員", "role": "instructor", "password": "abc"}
