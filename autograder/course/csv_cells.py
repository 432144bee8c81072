"""CSV cells a spreadsheet shows as text, never runs: the one guard of every CSV the toolkit writes.

Excel, LibreOffice and Google Sheets treat a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a
formula (some also after a leading tab or carriage return), so ``=HYPERLINK(...)`` from a
roster name or a zip entry name would become a live link or a DDE command in the instructor's
spreadsheet.  Following OWASP's advice, such a cell gets a leading ``'``, which makes it text.
The full-width forms (``＝＋－＠``) are treated alike, as a precaution for Japanese input methods.

Numbers stay numbers, so the LMS import still reads them: a cell that is an ``int``/``float``, or
a string that is a plain decimal number (``-1.5``, ``+2``, ``1e-3``; what ``f"{x:g}"`` writes), is
left as it is (``-1.5`` is a negative score, not a formula).  Only text that is not a number is
neutralised, in every column, the header included.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
"""First characters that make a spreadsheet read a cell as a formula."""

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value):
    """``value`` as a CSV cell no spreadsheet runs: text that would start a formula gets a leading ``'``.

    Non-strings (numbers, ``None``) and strings that are plain decimal numbers are returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class SpreadsheetSafeWriter:
    """A ``csv.writer`` or ``csv.DictWriter`` whose every row is neutralised before it is written.

    ``SpreadsheetSafeWriter(csv.writer(f))``; ``writerow`` takes a sequence, or a mapping for a
    ``DictWriter`` (whose ``writeheader`` writes the field names: the toolkit's own).
    """

    def __init__(self, writer) -> None:
        self._writer = writer

    def writerow(self, row: Iterable | Mapping):
        if isinstance(row, Mapping):
            return self._writer.writerow({key: neutralise(value) for key, value in row.items()})
        return self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable | Mapping]) -> None:
        for row in rows:
            self.writerow(row)

    def writeheader(self):
        return self._writer.writeheader()


def unneutralise(value: str) -> str:
    """A cell read back from a CSV the toolkit wrote: the ``'`` that ``neutralise`` put before a formula start removed."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value[1:]):
        return value[1:]
    return value
