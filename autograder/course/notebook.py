"""Whether a file is a notebook of an assignment: the one answer ``collect``, ``grade``, the portal and the report share.

A student's file is untrusted input, so the answer is reached in order of cost, each step bounding the next:

1. the bytes: their size (``MAX_NOTEBOOK_BYTES``), UTF-8 without a BOM, and a count of JSON punctuation
   (``MAX_JSON_TOKENS``) that bounds what ``json.loads`` builds;
2. the JSON, parsed once (nesting too deep for Python is an answer, not a crash): the number of cells against the
   release notebook (``ReleaseShape.max_cells``) and of outputs, then a walk without recursion for its depth and
   number of values;
3. the shape every later step indexes: each cell a mapping with a known ``cell_type``, ``source`` text, ``metadata``
   a mapping, ``id`` text;
4. nbformat's own reading (older versions converted to 4) and its JSON-schema validation: the costly step, only
   ever reached by a file of bounded size (150,000 empty cells used to cost seconds and hundreds of MB here);
5. the nbgrader metadata of each cell as nbgrader's ``autograde`` uses it before running anything (types, required
   keys, schema version, grade_ids used twice or not of this assignment), so that a file nbgrader would choke on is
   that one student's ``invalid``, with a message naming the cell, before any grading child starts.

Outputs are counted, not measured: grading clears them (nbgrader's ``ClearOutput``), so a notebook with 100 MB of
output is graded; only the whole file's size (and, in the portal, ``portal_upload_mb``) bounds them.

Every refusal is a ``NotebookProblem``: Japanese for the student (what is wrong, where, and what to do),
English beside it for the instructor.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import nbformat

from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_grade, is_locked, is_solution, nbgrader_metadata

MAX_NOTEBOOK_BYTES = 128 * 2**20
"""Largest file read at all, outputs included (the portal refuses far less: ``portal_upload_mb``)."""

MAX_JSON_TOKENS = 2_000_000
"""Most ``{``, ``[`` and ``,`` bytes in a file before it is parsed: an upper bound on the JSON values
``json.loads`` would build (text inside strings counts too, so a false refusal asks for cleared outputs)."""

MAX_JSON_VALUES = 1_000_000
"""Most JSON values (every string, number, list and mapping) in a parsed file: bounds nbformat's validation."""

MAX_DEPTH = 100
"""Deepest nesting of lists and mappings (a real notebook's metadata is a few levels deep)."""

MAX_OUTPUTS = 10_000
"""Most outputs of all cells together (nbformat validates each one)."""

MIN_CELL_LIMIT = 200
CELLS_PER_RELEASE_CELL = 5
"""A submission may hold ``max(MIN_CELL_LIMIT, CELLS_PER_RELEASE_CELL × the release's cells)`` cells."""

DEFAULT_CELL_LIMIT = 1000
"""Most cells when the release notebook is not known to the caller."""

CELL_TYPES = ("code", "markdown", "raw")

NBGRADER_KEYS = frozenset({"schema_version", "grade", "locked", "solution", "task", "grade_id", "points", "checksum",
                           "cell_type"})
"""The keys of nbgrader's cell metadata (schema version 3); nbgrader refuses any other."""

NBGRADER_SCHEMA = 3
GRADE_ID = re.compile(r"[A-Za-z0-9_\-]*")
"""nbgrader's pattern of a grade_id."""

# ---- wording: the student reads the Japanese, the instructor both

_NOT_READABLE = ("ノートブックとして読めません", "not a readable notebook")
NOT_READABLE = " / ".join(_NOT_READABLE)
_OTHER_ASSIGNMENT = ("この課題の採点用のセルが1つもありません（別の課題のノートブックではありませんか？）",
                     "none of this assignment's graded cells is in the notebook (another assignment's notebook?)")
OTHER_ASSIGNMENT = " / ".join(_OTHER_ASSIGNMENT)
_TOO_FEW_CELLS = ("この課題のノートブックではないか、採点用のセルの半分以上が消えています",
                  "not this assignment's notebook (fewer than half of its graded cells)")
TOO_FEW_CELLS = " / ".join(_TOO_FEW_CELLS)

RESAVE = ("Colab か Jupyter で開けることを確かめ、「ファイル」→「ダウンロード」→「.ipynb をダウンロード」で"
          "保存し直したファイルを提出してください。")
COPY_ANSWERS = "配布されたノートブックをもう一度ダウンロードし、そこに自分の解答を書き写して提出してください。"
CLEAR_OUTPUTS = ("「編集」→「出力をすべてクリア」（Jupyter では Edit → Clear Outputs of All Cells）をしてから"
                 "保存し、もう一度提出してください。")
DELETE_CELLS = "使っていないセルを消してから保存し、もう一度提出してください。"


class NotebookProblem(Exception):
    """Why a file is not a notebook to grade: ``ja`` for the student, ``en`` for the instructor; ``str`` gives both."""

    def __init__(self, ja: str, en: str):
        super().__init__(f"{ja} / {en}")
        self.ja = ja
        self.en = en


def _unreadable(ja: str, en: str, advice: str = RESAVE) -> NotebookProblem:
    return NotebookProblem(f"{_NOT_READABLE[0]}（{ja}）。{advice}", f"{_NOT_READABLE[1]}: {en}")


def _broken_cell(index: int, ja: str, en: str) -> NotebookProblem:
    return NotebookProblem(f"{_NOT_READABLE[0]}（{index}番目のセルが壊れています: {ja}）。{COPY_ANSWERS}",
                           f"{_NOT_READABLE[1]}: cell {index} {en}")


def _broken_nbgrader(index: int, ja: str, en: str) -> NotebookProblem:
    return NotebookProblem(f"{index}番目のセルの nbgrader の情報（採点のためにセルに付けてある印）が壊れています"
                           f"（{ja}）。{COPY_ANSWERS}", f"cell {index}'s nbgrader metadata is damaged: {en}")


_JSON_TYPES = {dict: ("オブジェクト", "mapping"), list: ("リスト", "list"), str: ("文字列", "string"),
               bool: ("真偽値", "boolean"), int: ("数", "number"), float: ("数", "number"), type(None): ("null", "null")}


def _kind(value: object) -> tuple[str, str]:
    """The JSON type of ``value``, in Japanese and in English."""
    return _JSON_TYPES.get(type(value), ("?", type(value).__name__))


def _shown(value: object, width: int = 40) -> str:
    """``value`` as a short literal, for a message (a student's text never makes a message long)."""
    text = repr(value)
    return text if len(text) <= width else text[:width - 1] + "…"


# ---- what the release says a submission may hold


@dataclass(frozen=True)
class TrackedCell:
    """A cell nbgrader tracks (graded, answer or locked), as the release has it."""

    cell_type: str
    grade: bool
    solution: bool
    task: bool = False


@dataclass(frozen=True)
class ReleaseShape:
    """What an assignment's release notebook says about its submissions."""

    cells: int
    """How many cells the release has."""

    tracked: dict[str, TrackedCell] = field(default_factory=dict)
    """grade_id → each cell nbgrader tracks: the cells its autograde finds in the gradebook and restores (type, lock,
    points, a locked cell's source), not their grade and solution flags; a tracked cell of another grade_id stops it."""

    @property
    def max_cells(self) -> int:
        """Most cells a submission may hold: room for the student's own cells, not for a flood."""
        return max(MIN_CELL_LIMIT, CELLS_PER_RELEASE_CELL * self.cells)


def release_shape(path: Path) -> ReleaseShape | None:
    """The shape of the release notebook at ``path`` (read again only when the file changes), None if there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _release_shape(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _release_shape(path: str, mtime_ns: int, size: int) -> ReleaseShape:
    notebook = nbformat.read(path, as_version=4)  # ours, not a student's
    tracked = {}
    for cell in notebook.cells:
        if grade_id_of(cell) and (is_grade(cell) or is_solution(cell) or is_locked(cell)):
            tracked[grade_id_of(cell)] = TrackedCell(cell.cell_type, is_grade(cell), is_solution(cell),
                                                  bool(nbgrader_metadata(cell).get("task")))
    return ReleaseShape(len(notebook.cells), tracked)


def cell_limit(release: ReleaseShape | None) -> int:
    """Most cells a submission may hold: the release's bound, or ``DEFAULT_CELL_LIMIT`` without one."""
    return release.max_cells if release else DEFAULT_CELL_LIMIT


# ---- steps 1-4: bytes, JSON, shape, nbformat


def _text(data: bytes | str, max_bytes: int) -> str:
    """The text of ``data``, refused before any parsing when too large, not UTF-8, or too rich in JSON values."""
    size = len(data)
    if size > max_bytes:
        raise NotebookProblem(f"ファイルが大きすぎます（{size / 2**20:.1f} MB。受け付けるのは {max_bytes / 2**20:.0f} MB まで）。"
                              f"{CLEAR_OUTPUTS}", f"the file is too large ({size:,} bytes > {max_bytes:,})")
    punctuation = (b"{", b"[", b",") if isinstance(data, bytes) else ("{", "[", ",")
    if sum(data.count(mark) for mark in punctuation) > MAX_JSON_TOKENS:
        raise NotebookProblem(f"ノートブックの中身（出力など）が多すぎて確かめられません。{CLEAR_OUTPUTS}",
                              f"too many JSON values (over {MAX_JSON_TOKENS:,} of {{ [ ,) to check")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _unreadable("文字コードが UTF-8 ではないか、ノートブックではないファイルです",
                              f"not UTF-8 text (byte {e.start})") from None
    if data.startswith("\ufeff"):
        raise _unreadable("ファイルの先頭に BOM という印が付いています。メモ帳などで保存し直すと付きます",
                          "the file starts with a byte-order mark (BOM)")
    if not data.strip():
        raise _unreadable("ファイルが空です", "the file is empty")
    return data


def _parse_json(text: str) -> dict:
    try:
        document = json.loads(text)
    except RecursionError:
        raise _unreadable("入れ子が深すぎます", "nested too deep for JSON", COPY_ANSWERS) from None
    except json.JSONDecodeError as e:
        raise _unreadable(f"JSON の形式が {e.lineno} 行目 {e.colno} 文字目で壊れています",
                          f"not JSON ({e.msg}, line {e.lineno} column {e.colno})") from None
    except ValueError as e:  # an integer of more digits than Python reads, for one
        raise _unreadable("JSON として読めません", f"not JSON ({str(e)[:100]})") from None
    if not isinstance(document, dict):
        raise _unreadable(f"JSON ですが、ノートブックの形ではなく{_kind(document)[0]}です",
                          f"the JSON is a {_kind(document)[1]}, not a notebook")
    return document


def _cells_of(document: dict) -> tuple[int, list]:
    """(nbformat major version, the cells) of a parsed file, checking just what is needed to count them."""
    major = document.get("nbformat")
    if type(major) is not int or major not in nbformat.versions:
        raise _unreadable(f"nbformat の版 {_shown(major)} が分かりません", f"unknown nbformat version {_shown(major)}")
    if major in (2, 3):  # cells live in worksheets
        sheets = document.get("worksheets")
        if not isinstance(sheets, list) or not all(isinstance(s, dict) and isinstance(s.get("cells", []), list)
                                                   for s in sheets):
            raise _unreadable("worksheets がノートブックの形ではありません", "no list of worksheets with cells")
        return major, [cell for sheet in sheets for cell in sheet.get("cells", [])]
    cells = document.get("cells")
    if not isinstance(cells, list):
        raise _unreadable("セルの一覧 cells がありません" if cells is None else f"セルの一覧 cells が{_kind(cells)[0]}です",
                          f"cells is {_kind(cells)[1]}, not a list", COPY_ANSWERS)
    return major, cells


def _too_many_cells(cells: int, max_cells: int, *, about: bool = False) -> NotebookProblem:
    approx = ("約 ", "about ") if about else ("", "")
    return NotebookProblem(f"セルが多すぎます（{approx[0]}{cells:,} 個。この課題では {max_cells:,} 個まで）。{DELETE_CELLS}",
                           f"too many cells ({approx[1]}{cells:,} > {max_cells:,})")


def _guess_cells(text: str, max_cells: int) -> None:
    """Refuse a flood of cells before parsing it.  Each cell names its type once and nbgrader's metadata once more,
    and the bytes ``"cell_type"`` can only be such a key (or a string of just that text: inside a string a quote is
    escaped), so more than twice ``max_cells`` of them is surely too many.  A file that escapes the key's letters
    is not counted here but after parsing."""
    if (named := text.count('"cell_type"')) > 2 * max_cells:
        raise _too_many_cells(max(named // 2, named - text.count('"nbgrader"')), max_cells, about=True)


def _check_size(cells: list, max_cells: int) -> None:
    if len(cells) > max_cells:
        raise _too_many_cells(len(cells), max_cells)
    outputs = sum(len(c["outputs"]) for c in cells if isinstance(c, dict) and isinstance(c.get("outputs"), list))
    if outputs > MAX_OUTPUTS:
        raise NotebookProblem(f"出力が多すぎます（{outputs:,} 個。{MAX_OUTPUTS:,} 個まで）。{CLEAR_OUTPUTS}",
                              f"too many outputs ({outputs:,} > {MAX_OUTPUTS:,})")


def _check_values(document: dict) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` or more than ``MAX_JSON_VALUES`` values (level by level, no recursion)."""
    count, depth, level = 0, 0, [document]
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise _unreadable(f"メタデータなどの入れ子が {MAX_DEPTH} 段より深くなっています",
                              f"nested deeper than {MAX_DEPTH} levels", COPY_ANSWERS)
        below = []
        for container in level:
            values = container.values() if type(container) is dict else container
            count += len(values)
            if count > MAX_JSON_VALUES:
                raise NotebookProblem(f"ノートブックの中身（出力など）が多すぎて確かめられません。{CLEAR_OUTPUTS}",
                                      f"more than {MAX_JSON_VALUES:,} JSON values")
            below += [v for v in values if type(v) is dict or type(v) is list]
        level = below


def _check_cells(cells: list) -> None:
    """Each cell a mapping with a known type, text for its source, a mapping for its metadata and text for its id."""
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise _broken_cell(index, f"セルではなく{_kind(cell)[0]}です", f"is a {_kind(cell)[1]}, not a mapping")
        kind = cell.get("cell_type")
        if type(kind) is not str or kind not in CELL_TYPES:
            raise _broken_cell(index, f"種類 cell_type が {_shown(kind)} です（code・markdown・raw のどれか）",
                               f"has cell_type {_shown(kind)}")
        source = cell.get("source")
        if not (type(source) is str or (type(source) is list and all(type(line) is str for line in source))):
            raise _broken_cell(index, "中身 source が文字列ではありません", f"has a source of {_kind(source)[1]}, not text")
        if not isinstance(cell.get("metadata"), dict):
            raise _broken_cell(index, "metadata がオブジェクトではありません", "has no metadata mapping")
        if "id" in cell and type(cell["id"]) is not str:
            raise _broken_cell(index, "id が文字列ではありません", f"has an id of {_kind(cell['id'])[1]}")


def _parse(data: bytes | str, max_cells: int, max_bytes: int) -> nbformat.NotebookNode:
    """Steps 1-4: the notebook in ``data`` as nbformat 4 (any version nbformat reads), or ``NotebookProblem``."""
    text = _text(data, max_bytes)
    _guess_cells(text, max_cells)
    document = _parse_json(text)
    major, cells = _cells_of(document)
    _check_size(cells, max_cells)
    _check_values(document)
    if major == 4:
        _check_cells(cells)
    try:
        notebook = nbformat.versions[major].to_notebook_json(document, minor=document.get("nbformat_minor", 0))
        notebook = nbformat.convert(notebook, 4)
        nbformat.validate(notebook)
    except Exception as e:  # noqa: BLE001 -- nbformat raises many types for bad files; each is a verdict here
        raise _unreadable("nbformat の検査に通りません", f"{type(e).__name__}: {str(e)[:200]}") from None
    if major != 4:
        _check_cells(notebook.cells)  # what the conversion made of an older file
    return notebook


# ---- step 5: nbgrader's metadata


def _check_nbgrader(cells: list, release: ReleaseShape | None) -> None:
    """Refuse what nbgrader's autograde would fail on before running a cell (``DeduplicateIds``, ``OverwriteCells``,
    ``CheckCellMetadata``); with ``release``, also grade_ids it does not know and flags changed on cells it knows
    (a locked cell's checksum covers them: nbgrader stops with "Inconsistent checksums")."""
    seen: dict[str, int] = {}
    for index, cell in enumerate(cells, start=1):
        if "nbgrader" not in cell.metadata:
            continue
        meta = cell.metadata["nbgrader"]
        if not isinstance(meta, dict):
            raise _broken_nbgrader(index, f"オブジェクトではなく{_kind(meta)[0]}です", f"a {_kind(meta)[1]}, not a mapping")
        if unknown := sorted(set(meta) - NBGRADER_KEYS):
            raise _broken_nbgrader(index, f"知らない項目 {_shown(unknown)} があります", f"unknown keys {_shown(unknown)}")
        for key in ("schema_version", "grade", "locked", "solution"):
            if key not in meta:
                raise _broken_nbgrader(index, f"{key} がありません", f"no {key}")
        version = meta["schema_version"]
        if type(version) is not int or version != NBGRADER_SCHEMA:
            raise _broken_nbgrader(index, f"schema_version が {_shown(version)} です",
                                   f"schema_version {_shown(version)}, not {NBGRADER_SCHEMA}")
        for flag in ("grade", "locked", "solution", "task"):
            if flag in meta and type(meta[flag]) is not bool:
                raise _broken_nbgrader(index, f"{flag} が true でも false でもありません（{_shown(meta[flag])}）",
                                       f"{flag} is {_shown(meta[flag])}, not a boolean")
        grade_id = meta.get("grade_id")
        if "grade_id" in meta and (type(grade_id) is not str or not GRADE_ID.fullmatch(grade_id)):
            raise _broken_nbgrader(index, f"grade_id が {_shown(grade_id)} です", f"grade_id {_shown(grade_id)}")
        if "points" in meta:
            points = meta["points"]
            if type(points) not in (int, float) or not math.isfinite(points) or points < 0:
                raise _broken_nbgrader(index, f"点数 points が {_shown(points)} です", f"points {_shown(points)}")
        if "checksum" in meta and (type(meta["checksum"]) is not str or len(meta["checksum"]) != 32):
            raise _broken_nbgrader(index, "checksum が壊れています", f"checksum {_shown(meta['checksum'])}")
        if "cell_type" in meta and meta["cell_type"] not in CELL_TYPES:
            raise _broken_nbgrader(index, f"cell_type が {_shown(meta['cell_type'])} です",
                                   f"cell_type {_shown(meta['cell_type'])}")
        grade, solution, task = meta["grade"], meta["solution"], meta.get("task", False)
        if grade and "points" not in meta:
            raise _broken_nbgrader(index, "採点するセルなのに点数 points がありません", "a graded cell without points")
        if grade_id:
            if grade_id in seen:
                raise NotebookProblem(
                    f"{seen[grade_id]}番目と{index}番目のセルが同じ採点用のセル（{grade_id}）です。セルをコピーすると採点用の印も"
                    f"コピーされます。コピーしたほうのセルを消す（中身は新しいセルに移す）か、{COPY_ANSWERS}",
                    f"cells {seen[grade_id]} and {index} are the same graded cell {grade_id} (a copied cell?)")
            seen[grade_id] = index
        tracked = grade or solution or meta["locked"]
        if tracked and not grade_id:
            raise _broken_nbgrader(index, "採点用のセルなのに grade_id がありません", "a tracked cell without a grade_id")
        if release is None:
            continue
        if tracked and grade_id not in release.tracked:
            raise NotebookProblem(f"{index}番目のセルの採点用の印（{grade_id}）がこの課題のものではありません"
                                  f"（別の課題のノートブックからセルをコピーしませんでしたか？）。{COPY_ANSWERS}",
                                  f"cell {index} is the graded cell {grade_id} of another assignment")
        known = release.tracked.get(grade_id)
        if known is not None and (grade, solution, task) != (known.grade, known.solution, known.task):
            raise _broken_nbgrader(index, "採点の種類の印（grade・solution・task）が書き換えられています",
                                   "grade/solution/task flags differ from the release")
        if known is not None and known.cell_type == "code" and cell.cell_type != "code" and "attachments" in cell:
            # nbgrader turns the cell back into code, and a code cell may not hold attachments
            raise NotebookProblem(f"{index}番目のセルは配布されたときはコードのセルです。種類を変えて画像などを貼ったため"
                                  f"採点できません。{COPY_ANSWERS}",
                                  f"cell {index} is a code cell of the release, made {cell.cell_type} with attachments")
        if known is None and task and cell.cell_type != "markdown":
            raise _broken_nbgrader(index, "task の印はマークダウンのセルにしか付けられません", "a task cell that is not Markdown")


# ---- the answers


def grade_ids(notebook: nbformat.NotebookNode) -> set[str]:
    """The nbgrader ``grade_id`` of every cell that has one (metadata of any shape a student's file may hold)."""
    ids = set()
    for cell in notebook.get("cells", []):
        if isinstance(cell, dict) and (grade_id := grade_id_of(cell)) is not None:
            ids.add(grade_id)
    return ids


def check_notebook(data: bytes | str, graded_ids: set[str] | None = None, *, at_least: float = 0.0,
                   release: ReleaseShape | None = None, max_bytes: int = MAX_NOTEBOOK_BYTES) -> nbformat.NotebookNode:
    """The notebook in ``data`` (as nbformat 4) if it is one to grade for the assignment, else ``NotebookProblem``.

    ``graded_ids``: the assignment's graded cells, of which it must hold ``at_least`` the share (0: at least one);
    ``release``: its release notebook's shape (the cell limit, the grade_ids nbgrader knows; see ``release_shape``),
    without which only what holds for any assignment is checked; ``max_bytes``: the largest file to read.
    """
    notebook = _parse(data, cell_limit(release), max_bytes)
    present = grade_ids(notebook)
    if graded_ids:
        found = len(present & graded_ids)
        if at_least and found < at_least * len(graded_ids):
            raise NotebookProblem(*_TOO_FEW_CELLS)
        if found == 0:
            raise NotebookProblem(*_OTHER_ASSIGNMENT)
    elif release and release.tracked and not present & release.tracked.keys():
        raise NotebookProblem(*_OTHER_ASSIGNMENT)
    _check_nbgrader(notebook.cells, release)
    return notebook


def read_notebook(data: bytes | str) -> tuple[nbformat.NotebookNode | None, str | None]:
    """``(notebook, None)`` if ``data`` is a notebook to grade for some assignment (any nbformat nbformat reads, as
    version 4, nbgrader metadata nbgrader can use), else ``(None, why)`` (Japanese / English)."""
    try:
        return check_notebook(data), None
    except NotebookProblem as problem:
        return None, str(problem)


def notebook_problem(data: bytes | str, graded_ids: set[str] | None = None, *, at_least: float = 0.0,
                     release: ReleaseShape | None = None) -> str | None:
    """Why ``data`` is not a notebook of the assignment whose graded cells are ``graded_ids``, or None.

    ``at_least``: the share of those cells it must hold; 0 means one (``grade``: a notebook holding none is
    another assignment's), 0.5 half (``collect``: with fewer it is another assignment's or badly damaged).
    ``release``: see ``check_notebook``.  The answer is Japanese / English; it never raises for any content.
    """
    try:
        check_notebook(data, graded_ids, at_least=at_least, release=release)
    except NotebookProblem as problem:
        return str(problem)
    return None
