"""The guard of every CSV the toolkit writes: formulas become text, numbers stay numbers."""
from __future__ import annotations

import csv
import io

import pytest

from autograder.course.csv_cells import SpreadsheetSafeWriter, neutralise


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x","y")', "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
                                  "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "＝1+1", "-", "-inf", "+"])
def test_a_cell_that_would_start_a_formula_becomes_text(text):
    """Does each cell a spreadsheet would run (OWASP's list, and the full-width forms) get a leading '?"""
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["-1.5", "+2", "0", "25", "-0.25", "1e-3", "-3E+2", ".5", -1.5, 7, None,
                                   "山田 太郎", "s001", "", "a=b", " =1"])
def test_numbers_and_plain_text_are_left_alone(value):
    """Are negative scores, numbers of either type and text that starts no formula written unchanged?"""
    assert neutralise(value) == value


def test_the_writer_neutralises_rows_and_dict_rows():
    """Does SpreadsheetSafeWriter neutralise the rows of a csv.writer and of a csv.DictWriter, and do numbers read back
    with float()?"""
    out = io.StringIO()
    writer = SpreadsheetSafeWriter(csv.writer(out))
    writer.writerow(["=1+1", "-1.5", -2.0])
    writer.writerows([["@x", 3]])
    table = SpreadsheetSafeWriter(csv.DictWriter(out, fieldnames=["name", "score"]))
    table.writeheader()
    table.writerow({"name": "-cmd", "score": "-0.5"})
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [["'=1+1", "-1.5", "-2.0"], ["'@x", "3"], ["name", "score"], ["'-cmd", "-0.5"]]
    assert [float(rows[0][1]), float(rows[0][2]), float(rows[3][1])] == [-1.5, -2.0, -0.5]
