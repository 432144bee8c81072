"""Malformed notebooks against every command: each is one student's ``invalid`` (or a listed reason), never a crash.

The cases are built from the real release notebook of kadai5: one or more named cases for every class of
malformation (the table "壊れたノートブック / Malformed notebooks" of docs/attacks.md), then a fixed-seed random
mutator that puts hostile values at random places of it.  Each case goes to the notebook check, ``collect``
(one zip of them all), the portal's upload check, the report of a course holding them all in ``submitted/``
and ``grade``'s decision to mark a submission invalid before any grading child starts; every notebook that
decision lets through must pass nbgrader's own sanitising steps of ``autograde``.  No grading runs here.
"""
from __future__ import annotations

import copy
import csv
import json
import math
import random
import time
import tracemalloc
import zipfile

import nbformat
import pytest
from helpers import ROOT, copy_course
from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells, OverwriteKernelspec

from autograder.course.assignment import graded_cells
from autograder.course.nbgrader_setup import nbgrader_config
from autograder.course.notebook import (
    CELL_TYPES,
    MAX_DEPTH,
    NotebookProblem,
    check_notebook,
    notebook_problem,
    release_shape,
)
from autograder.course.results import Status

AID = "kadai5"
RELEASE = ROOT / "release" / AID / f"{AID}.ipynb"
TEXT = RELEASE.read_text(encoding="utf-8")
BASE = json.loads(TEXT)
SHAPE = release_shape(RELEASE)
GRADED = {c.grade_id for c in graded_cells(nbformat.read(ROOT / "source" / AID / f"{AID}.ipynb", as_version=4))}
ANSWER = next(i for i, c in enumerate(BASE["cells"]) if c["metadata"]["nbgrader"]["grade_id"] == "q1_code")
TEST = next(i for i, c in enumerate(BASE["cells"]) if c["metadata"]["nbgrader"]["grade_id"] == "q1_scaled")
WRITTEN = next(i for i, c in enumerate(BASE["cells"]) if c["metadata"]["nbgrader"]["grade_id"] == "q8_false_negative")


def _edited(edit) -> bytes:
    """The release with ``edit(notebook)`` applied to a copy of its JSON (``edit`` may return a replacement)."""
    notebook = copy.deepcopy(BASE)
    replacement = edit(notebook)
    if isinstance(replacement, dict):
        notebook = replacement
    return json.dumps(notebook, ensure_ascii=False).encode("utf-8")


DELETE = object()
"""The value that makes ``_set`` delete the key."""


def _set(index: int, *path_and_value):
    """An edit putting the last argument at ``cells[index]`` / path (``DELETE`` deletes the key there)."""
    *path, value = path_and_value

    def edit(notebook):
        target = notebook["cells"][index]
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return edit


def _nested(depth: int):
    value: object = "bottom"
    for _ in range(depth):
        value = {"a": [value]}
    return value


def _empty_cells(count: int, *, escape_key: bool = False) -> bytes:
    """The release followed by ``count`` empty code cells (``escape_key``: "cell_type" spelt with a JSON escape)."""
    notebook = copy.deepcopy(BASE)
    notebook["cells"] += [{"cell_type": "code", "execution_count": None, "id": f"x{i}", "metadata": {}, "outputs": [],
                           "source": ""} for i in range(count)]
    data = json.dumps(notebook).encode()
    return data.replace(b'"cell_type"', b'"cell\\u005ftype"') if escape_key else data


def _copied_cell(notebook):
    notebook["cells"].insert(ANSWER + 1, copy.deepcopy(notebook["cells"][ANSWER]))
    notebook["cells"][ANSWER + 1]["id"] = "copied"


def _foreign_cell(notebook):
    cell = copy.deepcopy(notebook["cells"][ANSWER])
    cell["id"], cell["metadata"]["nbgrader"]["grade_id"] = "foreign", "q1_model"  # kadai4's
    notebook["cells"].append(cell)


def _as_v3(notebook):
    return json.loads(nbformat.writes(nbformat.convert(nbformat.reads(json.dumps(notebook), as_version=4), 3), version=3))


def _with_outputs(count: int, size: int = 1):
    def edit(notebook):
        notebook["cells"][TEST]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * size}
                                              for _ in range(count)]
    return edit


# Named cases: (name, the file's bytes, what the check says with the release known: None = accepted, else a
# fragment of the Japanese message).  Each class of malformation of docs/attacks.md has at least one.
NAMED: list[tuple[str, bytes, str | None]] = [
    # the file and its JSON
    ("empty", b"", "ファイルが空です"),
    ("blank", b" \n\t\n", "ファイルが空です"),
    ("not_json", "これはノートブックではありません {".encode(), "JSON の形式が"),
    ("truncated", TEXT.encode()[:3000], "JSON の形式が"),
    ("binary_junk", random.Random(15).randbytes(4096), "UTF-8"),
    ("latin1", TEXT.replace("課題", "café").encode("utf-8").replace("é".encode(), b"\xe9"), "UTF-8"),
    ("utf16", TEXT.encode("utf-16"), "UTF-8"),
    ("bom", b"\xef\xbb\xbf" + TEXT.encode(), "BOM"),
    ("nested_10000", ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": ' + "[" * 10000 + "]" * 10000
                      + '}, "cells": []}').encode(), "入れ子が深すぎます"),
    ("nested_metadata", _edited(_set(ANSWER, "metadata", "deep", _nested(MAX_DEPTH))), f"入れ子が {MAX_DEPTH} 段より深く"),
    ("huge_integer", TEXT.replace('"nbformat": 4', '"nbformat": 4, "n": ' + "7" * 5000).encode(), "JSON として読めません"),
    ("punctuation_flood", TEXT.replace('"metadata": {', '"metadata": {"x": [' + "[]," * 1_100_000 + "[]],", 1).encode(),
     "多すぎて確かめられません"),
    ("values_flood", _edited(_set(ANSWER, "metadata", "x", [0] * 1_100_000)), "多すぎて確かめられません"),
    # the top level
    ("top_list", b"[]", "リストです"),
    ("top_string", b'"notebook"', "文字列です"),
    ("top_null", b"null", "nullです"),
    ("no_nbformat", _edited(lambda nb: nb.pop("nbformat")), "nbformat の版"),
    ("nbformat_string", _edited(lambda nb: nb.update(nbformat="4")), "nbformat の版"),
    ("nbformat_5", _edited(lambda nb: nb.update(nbformat=5)), "nbformat の版"),
    ("nbformat_true", _edited(lambda nb: nb.update(nbformat=True)), "nbformat の版"),
    ("no_cells", _edited(lambda nb: nb.pop("cells")), "cells がありません"),
    ("cells_dict", _edited(lambda nb: nb.update(cells={"0": nb["cells"][0]})), "cells がオブジェクトです"),
    ("cells_string", _edited(lambda nb: nb.update(cells="cells")), "cells が文字列です"),
    ("metadata_list", _edited(lambda nb: nb.update(metadata=[])), "nbformat の検査"),
    ("kernelspec_int", _edited(lambda nb: nb["metadata"].update(kernelspec=3)), "nbformat の検査"),
    ("v3_broken_worksheets", _edited(lambda nb: {"nbformat": 3, "nbformat_minor": 0, "worksheets": {"cells": []}}),
     "worksheets"),
    # the cells
    ("cell_string", _edited(lambda nb: nb["cells"].insert(3, "cell")), "4番目のセルが壊れています"),
    ("cell_null", _edited(lambda nb: nb["cells"].insert(3, None)), "4番目のセルが壊れています"),
    ("cell_list", _edited(lambda nb: nb["cells"].insert(3, [1, 2])), "4番目のセルが壊れています"),
    ("cell_type_unknown", _edited(_set(ANSWER, "cell_type", "python")), "cell_type"),
    ("cell_type_missing", _edited(_set(ANSWER, "cell_type", DELETE)), "cell_type"),
    ("cell_type_int", _edited(_set(ANSWER, "cell_type", 1)), "cell_type"),
    ("source_int", _edited(_set(ANSWER, "source", 42)), "source"),
    ("source_ints", _edited(_set(ANSWER, "source", [1, 2, 3])), "source"),
    ("source_null", _edited(_set(ANSWER, "source", None)), "source"),
    ("source_missing", _edited(_set(ANSWER, "source", DELETE)), "source"),
    ("metadata_missing", _edited(_set(ANSWER, "metadata", DELETE)), "metadata"),
    ("metadata_string", _edited(_set(ANSWER, "metadata", "meta")), "metadata"),
    ("id_int", _edited(_set(ANSWER, "id", 7)), "id が文字列ではありません"),
    ("id_pattern", _edited(_set(ANSWER, "id", "no spaces allowed")), "nbformat の検査"),
    ("outputs_string", _edited(_set(TEST, "outputs", "out")), "nbformat の検査"),
    ("output_type_unknown", _edited(_set(TEST, "outputs", [{"output_type": "movie"}])), "nbformat の検査"),
    ("tags_int", _edited(_set(ANSWER, "metadata", "tags", 5)), "nbformat の検査"),
    # how many cells and outputs
    ("cells_100000", _empty_cells(100_000), "セルが多すぎます"),
    ("cells_over_limit", _empty_cells(SHAPE.max_cells - SHAPE.cells + 1), "セルが多すぎます"),
    ("cells_escaped_key", _empty_cells(5_000, escape_key=True), "セルが多すぎます"),
    ("outputs_20000", _edited(_with_outputs(20_000)), "出力が多すぎます"),
    # nbgrader's metadata
    ("nbgrader_string", _edited(_set(TEST, "metadata", "nbgrader", "not a mapping")), "nbgrader の情報"),
    ("nbgrader_list", _edited(_set(TEST, "metadata", "nbgrader", ["q1_scaled"])), "nbgrader の情報"),
    ("nbgrader_int", _edited(_set(TEST, "metadata", "nbgrader", 3)), "nbgrader の情報"),
    ("nbgrader_null", _edited(_set(TEST, "metadata", "nbgrader", None)), "nbgrader の情報"),
    ("nbgrader_empty", _edited(_set(TEST, "metadata", "nbgrader", {})), "nbgrader の情報"),
    ("grade_id_list", _edited(_set(TEST, "metadata", "nbgrader", "grade_id", ["q1_scaled"])), "grade_id"),
    ("grade_id_int", _edited(_set(TEST, "metadata", "nbgrader", "grade_id", 1)), "grade_id"),
    ("grade_id_dict", _edited(_set(TEST, "metadata", "nbgrader", "grade_id", {"id": "q1_scaled"})), "grade_id"),
    ("grade_id_empty", _edited(_set(TEST, "metadata", "nbgrader", "grade_id", "")), "grade_id"),
    ("grade_id_missing", _edited(_set(TEST, "metadata", "nbgrader", "grade_id", DELETE)), "grade_id"),
    ("grade_id_pattern", _edited(_set(TEST, "metadata", "nbgrader", "grade_id", "q1 scaled!")), "grade_id"),
    ("points_string", _edited(_set(TEST, "metadata", "nbgrader", "points", "1")), "points"),
    ("points_nan", _edited(_set(TEST, "metadata", "nbgrader", "points", math.nan)), "points"),
    ("points_infinite", _edited(_set(TEST, "metadata", "nbgrader", "points", math.inf)), "points"),
    ("points_negative", _edited(_set(TEST, "metadata", "nbgrader", "points", -5)), "points"),
    ("points_bool", _edited(_set(TEST, "metadata", "nbgrader", "points", True)), "points"),
    ("points_missing", _edited(_set(TEST, "metadata", "nbgrader", "points", DELETE)), "points"),
    ("grade_string", _edited(_set(TEST, "metadata", "nbgrader", "grade", "yes")), "grade が true でも false でも"),
    ("locked_int", _edited(_set(TEST, "metadata", "nbgrader", "locked", 1)), "locked が true でも false でも"),
    ("solution_missing", _edited(_set(ANSWER, "metadata", "nbgrader", "solution", DELETE)), "solution がありません"),
    ("schema_version_string", _edited(_set(TEST, "metadata", "nbgrader", "schema_version", "3")), "schema_version"),
    ("schema_version_old", _edited(_set(TEST, "metadata", "nbgrader", "schema_version", 2)), "schema_version"),
    ("schema_version_missing", _edited(_set(TEST, "metadata", "nbgrader", "schema_version", DELETE)), "schema_version"),
    ("nbgrader_extra_key", _edited(_set(TEST, "metadata", "nbgrader", "bonus", 100)), "知らない項目"),
    ("checksum_int", _edited(_set(TEST, "metadata", "nbgrader", "checksum", 0)), "checksum"),
    ("nbgrader_cell_type", _edited(_set(TEST, "metadata", "nbgrader", "cell_type", "python")), "cell_type"),
    ("copied_answer_cell", _edited(_copied_cell), "同じ採点用のセル"),
    ("foreign_grade_id", _edited(_foreign_cell), "この課題のものではありません"),
    ("written_answer_unmarked", _edited(_set(WRITTEN, "metadata", "nbgrader", "solution", False)), "採点の種類の印"),
    ("task_code_cell", _edited(_set(ANSWER, "metadata", "nbgrader", "task", True)), "採点の種類の印"),
    ("test_cell_ungraded", _edited(_set(TEST, "metadata", "nbgrader", "grade", False)), "採点の種類の印"),
    ("answer_cell_graded", _edited(lambda nb: nb["cells"][ANSWER]["metadata"]["nbgrader"].update(grade=True, points=5)),
     "採点の種類の印"),
    ("test_cell_markdown_with_image", _edited(lambda nb: nb["cells"].__setitem__(TEST, {
        **{k: v for k, v in nb["cells"][TEST].items() if k not in ("outputs", "execution_count")},
        "cell_type": "markdown", "attachments": {"a.png": {"image/png": "iVBORw0KGgo="}}})), "画像などを貼った"),
    ("another_assignment", (ROOT / "release" / "kadai4" / "kadai4.ipynb").read_bytes(), "別の課題"),
    ("no_nbgrader_at_all", _edited(lambda nb: [c["metadata"].pop("nbgrader") for c in nb["cells"]]), "別の課題"),
    # odd but readable: graded
    ("untouched", TEXT.encode(), None),
    ("nbformat3", _edited(_as_v3), None),
    ("source_as_lines", _edited(_set(ANSWER, "source", ["x = 1\n", "y = 2\n"])), None),
    ("own_cells", _edited(lambda nb: nb["cells"].extend({"cell_type": "markdown", "id": f"m{i}", "metadata": {},
                                                         "source": "メモ"} for i in range(50))), None),
    ("big_output", _edited(_with_outputs(1, 5 * 2**20)), None),
    ("test_cell_rewritten", _edited(lambda nb: [_set(TEST, "source", "print('OK')")(nb),
                                                _set(TEST, "metadata", "nbgrader", "points", 100)(nb)]), None),
    ("test_cell_as_markdown", _edited(lambda nb: [_set(TEST, "cell_type", "markdown")(nb),
                                                  _set(TEST, "outputs", DELETE)(nb),
                                                  _set(TEST, "execution_count", DELETE)(nb)]), None),
    ("graded_cell_deleted", _edited(lambda nb: nb.update(cells=nb["cells"][:TEST] + nb["cells"][TEST + 1:])), None),
    ("duplicate_cell_ids", _edited(_set(ANSWER, "id", BASE["cells"][0]["id"])), None),  # nbformat repairs them
    ("nbgrader_metadata_in_own_cell", _edited(lambda nb: nb["cells"].append(
        {"cell_type": "code", "execution_count": None, "id": "own", "outputs": [], "source": "",
         "metadata": {"nbgrader": {"grade": False, "locked": False, "solution": False, "schema_version": 3,
                                   "grade_id": "scratch"}}})), None),
]

HOSTILE = [None, True, False, 0, -1, 2**70, 1e308, math.nan, math.inf, "", "x", "q1_scaled", "🙂" * 3, "\u0000",
           [], [1, "a"], ["q1_scaled"], {}, {"grade_id": "q1_scaled"}, {"nbgrader": "x"}, _nested(5)]
"""Values the mutator puts in places: of every JSON type, out of range, look-alikes of real ids."""

PLAUSIBLE = {"grade": [True, False], "solution": [True, False], "locked": [True, False], "task": [True, False],
             "points": [0, 1, 2.5, 100, 1e300], "schema_version": [3], "checksum": ["0" * 32],
             "grade_id": [c["metadata"]["nbgrader"]["grade_id"] for c in BASE["cells"]] + ["scratch"],
             "cell_type": list(CELL_TYPES), "source": ["", "x = 1\n", "# ここにコードを書いてください"],
             "tags": [["a"], []], "editable": [True, False], "execution_count": [None, 3]}
"""Values of the right type, some of them of the wrong meaning: flags flipped, ids of other cells, types changed."""

PLACES = ["cell_type", "source", "metadata", "id", "outputs", "execution_count", "attachments", ("metadata", "nbgrader"),
          ("metadata", "tags"), ("metadata", "editable"), ("metadata", "jupyter")]
NBGRADER_PLACES = ["grade_id", "points", "grade", "solution", "locked", "task", "schema_version", "checksum",
                   "cell_type", "extra"]


def _mutated(seed: int) -> bytes:
    """The release with one to three random places of random cells given hostile or plausible values (or removed)."""
    rng = random.Random(seed)
    notebook = copy.deepcopy(BASE)
    for _ in range(rng.randint(1, 3)):
        cell = notebook["cells"][rng.randrange(len(notebook["cells"]))]
        if rng.random() < 0.6 and isinstance(cell.get("metadata"), dict) and isinstance(cell["metadata"].get("nbgrader"), dict):
            target, key = cell["metadata"]["nbgrader"], rng.choice(NBGRADER_PLACES)
        else:
            place = rng.choice(PLACES)
            target, key = (cell, place) if isinstance(place, str) else (cell.get(place[0]), place[1])
            if not isinstance(target, dict):
                continue
        if rng.random() < 0.15:
            target.pop(key, None)
        elif key in PLAUSIBLE and rng.random() < 0.6:
            target[key] = copy.deepcopy(rng.choice(PLAUSIBLE[key]))
        else:
            target[key] = copy.deepcopy(rng.choice(HOSTILE))
    if rng.random() < 0.1:  # a copied cell, sometimes
        notebook["cells"].insert(rng.randrange(len(notebook["cells"])), copy.deepcopy(rng.choice(notebook["cells"])))
    return json.dumps(notebook, ensure_ascii=False).encode("utf-8")


RANDOM = [(f"random_{seed:03d}", _mutated(seed)) for seed in range(200)]
CASES: dict[str, bytes] = {name: data for name, data, _ in NAMED} | dict(RANDOM)
STUDENT = {name: f"s{i:04d}" for i, name in enumerate(CASES)}
"""A student id for each case (``collect``'s file name pattern takes letters and digits)."""


def _verdict(data: bytes) -> str | None:
    """What ``grade`` decides for ``data``: the message of ``invalid``, or None (to be graded)."""
    return notebook_problem(data, GRADED, release=SHAPE)


def test_there_are_hundreds_of_cases_and_each_named_one_has_its_outcome():
    """Does every named case get its expected verdict (with the release known), and are there at least 250 cases?"""
    assert len(CASES) >= 250
    wrong = {}
    for name, data, expected in NAMED:
        verdict = _verdict(data)
        if (verdict is None) != (expected is None) or (expected and expected not in verdict):
            wrong[name] = verdict
    assert not wrong


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_check_answers_and_never_raises(name):
    """Does every case get a message or None from each form of the check (with and without the assignment known)?"""
    data = CASES[name]
    answers = [notebook_problem(data), notebook_problem(data, GRADED, at_least=0.5), _verdict(data),
               notebook_problem(data.decode("utf-8", errors="replace"))]
    assert all(a is None or (isinstance(a, str) and " / " in a) for a in answers)
    try:
        check_notebook(data, release=SHAPE)
    except NotebookProblem as problem:  # the student's part is Japanese, the instructor's English beside it
        assert problem.ja and problem.en and not problem.ja.isascii() and str(problem) == f"{problem.ja} / {problem.en}"


def test_the_portal_answers_every_case_in_japanese():
    """Does the portal's upload check answer each case in Japanese (with and without the release), never raising?"""
    from autograder.portal.student import _notebook_problem

    for name, data in CASES.items():
        for release in (None, SHAPE):
            message = _notebook_problem(f"{name}.ipynb", data, release)
            accepted = notebook_problem(data, release=release) is None
            assert (message is None) == accepted, name
            assert message is None or (f"{name}.ipynb" in message and "not a readable" not in message), name


def test_a_flood_of_cells_is_refused_cheaply(monkeypatch):
    """Is a 150,000-empty-cell notebook (16 MB) refused for a fraction of what parsing it costs, before nbformat
    validates anything, and one whose "cell_type" keys are escaped (so it must be parsed) for a few parses' worth,
    both in bounded memory?  Costs are CPU time compared with ``json.loads`` of the same bytes in the same run, so a
    busy machine changes neither side of the comparison."""
    def never(*args, **kwargs):
        raise AssertionError("nbformat must not see a notebook refused by the cheap checks")

    monkeypatch.setattr(nbformat, "validate", never)
    monkeypatch.setattr(nbformat, "reads", never)
    for escape_key, parses in ((False, 0.5), (True, 4.0)):
        data = _empty_cells(150_000, escape_key=escape_key)
        started = time.process_time()
        json.loads(data)
        parse = time.process_time() - started
        started = time.process_time()
        verdict = notebook_problem(data, GRADED, release=SHAPE)
        seconds = time.process_time() - started
        tracemalloc.start()  # measured apart: tracing every allocation slows the parse several times
        try:
            assert notebook_problem(data, GRADED, release=SHAPE) == verdict
            peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
        print(f"150,000 empty cells ({len(data) / 2**20:.1f} MB, key escaped: {escape_key}): refused in {seconds:.3f} s "
              f"of CPU (json.loads: {parse:.3f} s), peak {peak_mb:.0f} MB of Python memory")
        assert "セルが多すぎます" in verdict and "too many cells" in verdict
        assert seconds < parses * parse + 0.05 and peak_mb < 400


def _zip(path, cases: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in cases.items():
            archive.writestr(f"WebClass/課題5/{STUDENT[name]}_20270520120000_{name}.ipynb", data)
    return path


@pytest.fixture(scope="module")
def kadai5(released_course):
    """kadai5 released by nbgrader in a scratch course (its gradebook knows the release's cells)."""
    return released_course(AID)


def test_collect_files_or_lists_each_case_with_its_reason(kadai5, tmp_path):
    """Does collect on one zip of every case file each readable one and list every other with its reason, judged
    against the release as grade judges it?"""
    from autograder.tools.intake import FILED, PROBLEM, collect

    course = copy_course(kadai5, tmp_path / "course")
    roster = tmp_path / "roster.csv"
    with open(roster, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["student_id", "name"], *((sid, name) for name, sid in STUDENT.items())])
    intake = collect(course.assignment(AID), _zip(tmp_path / "webclass.zip", CASES), roster=roster)
    outcome = {u.source.rsplit("/", 1)[-1].split("_", 2)[2].removesuffix(".ipynb"): u for u in intake.uploads}
    assert sorted(outcome) == sorted(CASES)
    for name, upload in outcome.items():
        expected = notebook_problem(CASES[name], GRADED, at_least=0.5, release=release_shape(course.release_notebook(AID)))
        assert upload.outcome == (FILED if expected is None else PROBLEM), (name, upload.reason)
        assert (upload.reason == "") == (expected is None), name
    filed = {u.student_id for u in intake.filed}
    assert sorted(course.student_ids()) == sorted(filed) and filed
    assert course.submission_notebook(AID, STUDENT["untouched"]).read_bytes() == CASES["untouched"]


@pytest.fixture(scope="module")
def submitted(kadai5, tmp_path_factory):
    """A function giving a fresh copy of the released course with every case filed as one student's submission."""
    def make():
        course = copy_course(kadai5, tmp_path_factory.mktemp("malformed") / "course")
        for name, data in CASES.items():
            course.file_submission(AID, STUDENT[name], data)
        return course
    return make


def test_the_report_reads_a_course_full_of_malformed_submissions(submitted):
    """Is the class report written for a course holding every case in submitted/, ungraded, every student listed?"""
    from autograder.tools.report import write_report
    from autograder.tools.similarity import similar_pairs

    course = submitted()
    assert similar_pairs(course.assignment(AID)) == []  # nobody answered anything of their own
    page = write_report(course.assignment(AID)).read_text(encoding="utf-8")
    assert all(sid in page for sid in STUDENT.values())


def _sanitised_by_nbgrader(course, data: bytes) -> None:
    """nbgrader's first steps of ``autograde`` on ``data`` as it reads a submission (raises what they raise)."""
    notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    resources = {"nbgrader": {"notebook": AID, "assignment": AID, "student": "student", "db_url": course.db_url}}
    config = nbgrader_config(course)
    for step in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        notebook, resources = step(config=config).preprocess(notebook, resources)


def test_grade_decides_invalid_before_any_grading_and_nbgrader_takes_the_rest(submitted, monkeypatch):
    """Does grade mark every refused case invalid with its message before starting anything, and does every case it
    would grade pass nbgrader's own sanitising steps (which raise, for the whole submission, on bad metadata)?"""
    from autograder.grading import canary
    from autograder.grading import grade as grading

    course = submitted()
    sent: dict[str, bytes] = {}

    def no_grading(assignment, pending, results, timing, settled, **kwargs):
        for item in pending:
            sent[item.student_id] = item.data
            results[item.student_id] = grading.SubmissionResult(item.student_id, Status.NOT_GRADED)
        return {}

    monkeypatch.setattr(grading, "_grade_on_dask", no_grading)
    monkeypatch.setattr(canary, "check", lambda *args, **kwargs: None)
    results = {r.student_id: r for r in grading.grade(course, AID)}
    for name, data in CASES.items():
        result, verdict = results[STUDENT[name]], _verdict(data)
        if verdict is None:
            assert STUDENT[name] in sent and result.status == Status.NOT_GRADED, name
        else:
            assert result.status == Status.INVALID and result.message == verdict and STUDENT[name] not in sent, name
    assert len(sent) >= 40  # the random mutations leave many notebooks gradable, some with flags flipped
    failures = {}
    for student_id, data in sent.items():
        try:
            _sanitised_by_nbgrader(course, data)
        except Exception as e:  # noqa: BLE001 -- any exception here is what the test looks for
            failures[student_id] = f"{type(e).__name__}: {e}"
    assert not failures


@pytest.mark.parametrize("name", ["nbgrader_string", "grade_id_list", "copied_answer_cell", "foreign_grade_id",
                                  "schema_version_missing", "points_missing", "test_cell_ungraded", "answer_cell_graded",
                                  "test_cell_markdown_with_image"])
def test_what_the_check_refuses_would_stop_nbgrader(kadai5, name):
    """Without the check, do these cases make nbgrader's sanitising raise (so they would end in an error, not a grade)?"""
    with pytest.raises(Exception):  # noqa: B017, PT011 -- AttributeError, TypeError, KeyError, ValidationError, SchemaTooOldError
        _sanitised_by_nbgrader(kadai5, CASES[name])
