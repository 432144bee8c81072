"""A new assignment's first draft (``python -m autograder new ID [--from OTHER]``).

It writes the three things an assignment is (``docs/writing-an-assignment.md``), in order: the nbgrader
source notebook ``source/<id>/<id>.ipynb`` with the cell metadata nbgrader's Create Assignment toolbar gives,
the folder of checks ``autograder/checks/<id>/`` with a stub of its examples, and the ``AssignmentConfig``
entry in ``course_config.py`` (points from the notebook, the due date a week after the last one).  Blank, the
notebook has one auto-graded question in plain Python and one written answer; ``--from OTHER`` copies another
assignment whole (notebook, checks, examples, thresholds) under the new id, so that it proves at once and is
edited from there.  Then the author's loop begins: ``examples``, ``prove``, ``release``.
"""
from __future__ import annotations

import ast
import re
import shutil
from datetime import timedelta
from pathlib import Path

import nbformat

from autograder.course import Course, load_course
from autograder.course.assignment import graded_cells
from autograder.errors import AutograderError

ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")
"""An id is a folder, an nbgrader assignment name and a Python package name (``autograder.checks.<id>``)."""

CHECKS = Path(__file__).resolve().parent.parent / "checks"
"""Where each assignment's folder of checks lives."""


class ScaffoldError(AutograderError):
    """The new assignment cannot be written (a taken or malformed id, an unknown template, an unusual course_config)."""

    exit_code = 2


# ---- the blank notebook ----------------------------------------------------------------------------------------

def _cell(kind: str, grade_id: str, source: str, *, solution=False, grade=False, locked=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata={"nbgrader": meta})


def blank_notebook(title: str) -> nbformat.NotebookNode:
    """A source notebook in the course's style: set-up, one auto-graded question (plain-Python hidden test and a
    visible self-check), one written answer graded by hand."""
    cells = [
        _cell("markdown", "intro", f"# {title}\n\n（この課題で学ぶことを書きます。）\n\n**やり方**\n\n"
              "1. 上のセルから順番に実行してください。\n"
              "2. `# YOUR CODE HERE` と `raise NotImplementedError()` を消して、答えのコードを書きます。\n"
              "3. 各問のあとの「自己チェック」のセルを実行して、`OK` と表示されるか確かめましょう。", locked=True),
        _cell("code", "setup", "import numpy as np\n\n\ndef self_check(ok, message):\n"
              '    """自己チェック用：ok が False のときメッセージを出して止めます"""\n'
              "    if not ok:\n        raise AssertionError(message)\n", locked=True),
        _cell("markdown", "q1_md", "## 問1　（2点）\n\n（問題文を書きます。例：6 × 7 を計算して `answer` に入れましょう。）",
              locked=True),
        _cell("code", "q1_code", "### BEGIN SOLUTION\nanswer = 6 * 7\n### END SOLUTION\nprint(answer)", solution=True),
        _cell("code", "q1_answer",
              "### BEGIN HIDDEN TESTS\n"
              'assert answer == 42, f"answer が {answer} です。6 × 7 = 42 になるはずです。"\n'
              "### END HIDDEN TESTS\n"
              "# 自己チェック（問1）\n"
              'self_check(isinstance(answer, (int, np.integer)), f"answer が {answer!r} です。整数を入れましょう。")\n'
              "print('問1 OK')", grade=True, locked=True, points=2),
        _cell("markdown", "q2_md", "## 問2　（記述・3点）\n\n（考えて文章で答える問題を書きます。先生が読んで採点します。）",
              locked=True),
        _cell("markdown", "q2_free", "（解答例を書きます。配布版では消えます。）", solution=True, grade=True, points=3),
    ]
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})


BLANK_CHECKS = '''"""The checks of {title} ({assignment_id}).

Its hidden tests are plain Python in the source notebook; put check functions here when a test grows long or
several cells share it (``docs/writing-an-assignment.md``, the second style).
"""

ASSIGNMENT_ID = "{assignment_id}"
'''

BLANK_EXAMPLES = '''"""{title} ({assignment_id}) の例: typical mistakes, valid variants and the demo's students (see
``autograder.checks.kit``).

Write at least 7 typical mistakes (each losing exactly its checks) and some valid variants (each earning full
marks), then run ``python -m autograder examples {assignment_id}`` until every line is OK.
"""
from __future__ import annotations

from autograder.checks.kit import DemoStudent, Mistake, Variant

MISTAKES: tuple[Mistake, ...] = (
    Mistake("wrong_product", "問1で 6 + 7 にした", (("q1_code", "answer = 6 * 7", "answer = 6 + 7"),),
            frozenset({{"q1_answer"}}), "42 になるはずです"),
)

VARIANTS: tuple[Variant, ...] = (
    Variant("multiply_the_other_way", "問1で 7 * 6 と書いた", (("q1_code", "answer = 6 * 7", "answer = 7 * 6"),)),
)

DEMO_STUDENTS = (
    DemoStudent("s2027001", "正解の提出 / the correct submission"),
    DemoStudent("s2027002", "一部まちがい: 6 + 7 / partly wrong: 6 + 7", mistakes=("wrong_product",)),
)
"""The example students ``python -m autograder demo`` grades."""
'''


# ---- course_config.py --------------------------------------------------------------------------------------------

def _config_entry(course: Course, assignment_id: str, title: str, points: float, template: str | None) -> list[str]:
    """The lines of the new ``AssignmentConfig(...)``: due a week after the last assignment, its time zone spelled as
    the file spells the last one's, the thresholds of ``template`` (none without one)."""
    config = course.config
    last = config.assignments[-1]
    source = (course.root / "course_config.py").read_text(encoding="utf-8")
    tzinfo = _last_tzinfo(source)
    due = last.due + timedelta(days=7)
    like = config.assignment(template) if template else None
    lines = [f"id={assignment_id!r},", f"title={title!r},",
             f"due=datetime({due.year}, {due.month}, {due.day}, {due.hour}, {due.minute}, tzinfo={tzinfo}),",
             f"points={points:g},",
             f"accuracy_threshold={like.accuracy_threshold if like else 0.0!r},"]
    if like and like.recall_threshold is not None:
        lines.append(f"recall_threshold={like.recall_threshold!r},")
    return lines


def _assignments_tuple(tree: ast.Module) -> ast.Tuple:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "CourseConfig":
            for keyword in node.keywords:
                if keyword.arg == "assignments" and isinstance(keyword.value, ast.Tuple) and keyword.value.elts:
                    return keyword.value
    raise ScaffoldError("course_config.py に CourseConfig(assignments=(AssignmentConfig(...), ...)) が見つかりません。"
                        "課題の設定を手で足してください / course_config.py has no CourseConfig(assignments=(...)) "
                        "to add the entry to: add it by hand")


def _last_tzinfo(source: str) -> str:
    last = _assignments_tuple(ast.parse(source)).elts[-1]
    for keyword in getattr(last, "keywords", []):
        if keyword.arg == "due" and isinstance(keyword.value, ast.Call):
            for inner in keyword.value.keywords:
                if inner.arg == "tzinfo":
                    return ast.get_source_segment(source, inner.value)
    raise ScaffoldError("course_config.py の最後の課題の due=datetime(..., tzinfo=...) が読めません。課題の設定を手で足して"
                        "ください / cannot read the last assignment's due=datetime(..., tzinfo=...): add the entry by hand")


def _add_entry(path: Path, lines: list[str]) -> None:
    """Insert an ``AssignmentConfig`` with ``lines`` after the last one of ``assignments=(...)`` in ``path``."""
    raw = path.read_bytes()
    last = _assignments_tuple(ast.parse(raw)).elts[-1]
    starts = [0]
    for line in raw.split(b"\n"):
        starts.append(starts[-1] + len(line) + 1)
    at = starts[last.end_lineno - 1] + last.end_col_offset  # ast counts lines from 1 and columns in UTF-8 bytes
    indent = " " * last.col_offset
    entry = (f",\n{indent}AssignmentConfig(\n" + "".join(f"{indent}    {line}\n" for line in lines) + f"{indent})")
    path.write_bytes(raw[:at] + entry.encode("utf-8") + raw[at:])


# ---- the whole ------------------------------------------------------------------------------------------------

def new_assignment(course: Course, assignment_id: str, *, template: str | None = None, title: str | None = None,
                   checks: Path | None = None) -> list[Path]:
    """Write ``assignment_id``'s source notebook, its folder of checks (under ``checks``, by default the toolkit's)
    and its entry in ``course_config.py``; returns the paths written.

    ``template``: an assignment of the course to copy whole under the new id; ``title``: what students see (by
    default ``課題N`` for an id ``kadaiN``).  Raises ``ScaffoldError`` for a malformed or taken id, and
    ``UnknownAssignment`` for an unknown template; nothing is written then.
    """
    checks = checks or CHECKS
    if not ID_PATTERN.match(assignment_id):
        raise ScaffoldError(f"課題の id は小文字・数字・_ で、小文字から始めてください（例: kadai7） / "
                            f"an id is lower-case letters, digits and _ (e.g. kadai7): {assignment_id!r}")
    taken = [p for p in (course.assignment(assignment_id).source_dir, checks / assignment_id) if p.exists()]
    if taken or assignment_id in {a.id for a in course.config.assignments}:
        raise ScaffoldError(f"{assignment_id} はもうあります / {assignment_id} exists already: "
                            + ", ".join(str(p) for p in taken or [course.root / "course_config.py"]))
    if template:
        course.config.assignment(template)  # UnknownAssignment, before anything is written
    number = re.fullmatch(r"kadai(\d+)", assignment_id)
    title = title or (f"課題{number.group(1)}" if number else assignment_id)
    notebook_path = course.source_notebook(assignment_id)
    written: list[Path] = []
    try:
        if template:
            rename = re.compile(rf"(?<![A-Za-z0-9]){re.escape(template)}(?![A-Za-z0-9])")  # _kadai4 too
            notebook = nbformat.read(course.source_notebook(template), as_version=4)
            for cell in notebook.cells:
                cell.source = rename.sub(assignment_id, cell.source)
        else:
            notebook = blank_notebook(title)
        written.append(notebook_path.parent)
        notebook_path.parent.mkdir(parents=True)
        nbformat.write(notebook, notebook_path)
        points = sum(c.points for c in graded_cells(notebook))
        entry_lines = _config_entry(course, assignment_id, title, points, template)
        folder = checks / assignment_id
        if template:
            written.append(folder)
            shutil.copytree(checks / template, folder, ignore=shutil.ignore_patterns("__pycache__"))
            for path in folder.rglob("*.py"):
                path.write_text(rename.sub(assignment_id, path.read_text(encoding="utf-8")), encoding="utf-8")
        else:
            written.append(folder)
            folder.mkdir(parents=True)
            (folder / "__init__.py").write_text(BLANK_CHECKS.format(title=title, assignment_id=assignment_id),
                                                encoding="utf-8")
            (folder / "examples.py").write_text(BLANK_EXAMPLES.format(title=title, assignment_id=assignment_id),
                                                encoding="utf-8")
        config_path = course.root / "course_config.py"
        original = config_path.read_bytes()
        _add_entry(config_path, entry_lines)
        try:
            load_course(course.root)
        except Exception:  # noqa: BLE001 -- course_config.py as it was, then the error as it is
            config_path.write_bytes(original)
            raise
    except BaseException:
        for path in written:  # all or nothing: a half-made assignment would break every command and test
            shutil.rmtree(path, ignore_errors=True)
        raise
    return [notebook_path, checks / assignment_id, course.root / "course_config.py"]
