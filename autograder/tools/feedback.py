"""Feedback for students: one Japanese HTML page per submission that shows no hidden test and no solution.

nbgrader's own feedback renders the autograded notebook as it is, and that
notebook holds the hidden tests nbgrader put back for grading, in the cells'
source and in every traceback of a failed check (nbgrader issues #917, #1363).
Here each page is built from what grading recorded, in this order:

1. the result (``saved_result``): status, score, one row per graded cell with
   the check's Japanese message;
2. for a graded submission, the autograded notebook, sanitised against the
   release notebook (``sanitized_notebook``): every locked cell shows the
   release's version of itself, tests and set-up cells show no traceback, only
   "ename: evalue", and whatever the notebook renders as HTML goes through an
   allowlist (``clean_html``);
3. nbconvert's ``lab`` template renders the notebook with the summary at the
   top of its body; a submission that was not graded gets a short page instead.

Pages go where nbgrader keeps feedback: ``feedback/<student_id>/<assignment>/<assignment>.html``.
"""
from __future__ import annotations

import html

import re
from pathlib import Path

import bleach
import nbformat
from bleach.css_sanitizer import ALLOWED_CSS_PROPERTIES, CSSSanitizer
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

from autograder.checks.errors import CheckFailed, NotAttempted
from autograder.course import Course, NotReleased
from autograder.course.messages import STATUS_EXPLANATIONS, STATUS_LABELS
from autograder.course.results import CheckResult, Status, SubmissionResult, saved_result
from autograder.tools.pages import PAGES, template_text

SHOW_DETAIL = {Status.LATE, Status.INVALID, Status.MISSING}
"""Statuses whose recorded message helps the student (times, the reading error); others are for the instructor only."""

CHECK_ERRORS = {CheckFailed.__name__, NotAttempted.__name__, AssertionError.__name__}
"""Exceptions of graded cells whose message is written for students (hidden checks and self-checks)."""

ERROR_HINTS = {"CellTimeoutError": "このセルの実行が制限時間を超えたので止めました。学習のエポック数などを見直しましょう。",
               "DeadKernelError": "カーネル（Python）が途中で止まったので、ここは実行されませんでした。os._exit() や、"
                                  "メモリを使いすぎる処理がないか確かめましょう。"}
NO_VARIABLE_HINT = ("この問のセルより前でエラーが起きたか、変数が作られていません。"
                    "ノートブックを上から順にすべて実行して、エラーが出ないか確かめましょう。")

SHOWN_MIMETYPES = ("text/html", "text/markdown", "image/png", "image/jpeg", "text/plain")
"""Output types kept in a page; JavaScript, widgets, SVG and LaTeX outputs are dropped."""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # includes \r: carriage returns were applied when streams were joined
TOOLKIT = re.compile(r"[^\s'\"()\[\]]*\bautograder\b[^\s'\"()\[\],:]*(:\d+)?")
"""A path or module name of this toolkit (its checks, its kernel patches), as tracebacks and warnings quote them."""
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
TOOLKIT_WORD = "（採点システム）"
TOOLKIT_FRAME = "（採点システムの内部の処理は省略しました）"

ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3",
                "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "samp", "span", "strong", "sub", "sup",
                "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}
ALLOWED_ATTRIBUTES = {"*": ["class", "id", "style", "title"], "a": ["href", "title"],
                      "td": ["colspan", "rowspan", "style"], "th": ["colspan", "rowspan", "scope", "style"]}
CSS = CSSSanitizer(allowed_css_properties=ALLOWED_CSS_PROPERTIES | {"overflow-x", "white-space"})

PAGE_CSS = template_text("feedback.css")
"""The feedback pages' stylesheet (``autograder/templates/feedback.css``)."""

NOTEBOOK_NOTE = ("採点のときにあなたのノートブックを上から順に実行した結果です。"
                 "問題文と自己チェックのセルは配布したときの内容で表示しています。")

def write_feedback(course: Course, assignment_id: str, students: list[str] | None = None) -> list[Path]:
    """Write one feedback page per student folder under ``submitted/`` (or per given student); returns the paths.

    Each page reflects the last ``grade``. Raises ``UnknownAssignment`` for an assignment course_config does not
    know and ``NotReleased`` if the assignment has no release notebook (the only source of the cells shown).
    """
    assignment = course.config.assignment(assignment_id)
    release_path = course.release_notebook(assignment_id)
    if not release_path.is_file():
        raise NotReleased.run_release(assignment_id, str(release_path))
    release = nbformat.read(release_path, as_version=4)
    exporter = _notebook_exporter()
    paths = []
    for student_id in students if students is not None else course.student_ids():
        result = saved_result(course, assignment_id, student_id)
        result.max_score = result.max_score or assignment.points  # a submission never graded has no max score of its own
        notebook_path = course.autograded_dir(assignment_id, student_id) / f"{assignment_id}.ipynb"
        notebook = None
        if result.status == Status.GRADED and notebook_path.is_file():
            graded = nbformat.read(notebook_path, as_version=4)
            notebook = with_instructor_notes(sanitized_notebook(graded, release), graded, result)
        path = course.feedback_path(assignment_id, student_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_page(assignment.title, result, notebook, exporter), encoding="utf-8")
        paths.append(path)
    return paths


def feedback_page(title: str, result: SubmissionResult, notebook: nbformat.NotebookNode | None = None,
                  exporter: HTMLExporter | None = None) -> str:
    """The HTML page for ``result``: the summary, then ``notebook`` (already sanitised) if there is one."""
    context = _summary_context(title, result, with_notebook=notebook is not None)
    if notebook is None:
        return PAGES.get_template("feedback_page.html.j2").render(context, css=PAGE_CSS)
    summary = PAGES.get_template("feedback_summary.html.j2").render(context)
    resources = {"metadata": {"name": f"{title}（{result.student_id}）"},
                 "feedback_summary": summary, "feedback_css": PAGE_CSS}
    body, _ = (exporter or _notebook_exporter()).from_notebook_node(notebook, resources=resources)
    return body


def _notebook_exporter() -> HTMLExporter:
    """nbconvert's HTML exporter for feedback: the lab template, Japanese, every rendered HTML through ``clean_html``."""
    exporter = HTMLExporter(template_name="lab", language_code="ja", sanitize_html=True, exclude_anchor_links=True,
                            filters={"clean_html": clean_html})
    exporter.raw_template = template_text("feedback_notebook.html.j2")
    return exporter


def clean_html(html: str) -> str:
    """``html`` with only formatting tags, safe attributes and inline styles left (no script, no form, no image)."""
    return bleach.clean(str(html), tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, css_sanitizer=CSS)


def _points(value: float) -> str:
    return f"{value:g}"


def _summary_context(title: str, result: SubmissionResult, *, with_notebook: bool) -> dict:
    """What the summary template shows for ``result``."""
    graded = result.status == Status.GRADED
    return {
        "title": title,
        "student_id": result.student_id,
        "status_label": STATUS_LABELS.get(result.status, result.status),
        "score": _points(result.score if graded else 0),
        "max_score": _points(result.max_score),
        "explanation": None if graded else STATUS_EXPLANATIONS.get(result.status, STATUS_EXPLANATIONS[Status.NOT_GRADED]),
        "detail": scrub(result.message) if result.status in SHOW_DETAIL and result.message else None,
        "pending": [c.grade_id for c in result.checks if c.manual and c.points is None] if graded else [],
        "rows": [_row(check) for check in result.checks] if graded else [],
        "notebook_note": NOTEBOOK_NOTE if with_notebook else None,
    }


def _row(check: CheckResult) -> dict:
    """One row of the table: the question, its points, and why points were lost."""
    row = {"grade_id": check.grade_id, "kind": "", "message": None, "hint": None}
    if check.points is None:
        return row | {"points": "先生が採点します", "verdict": ""}
    row["points"] = f"{_points(check.points)} / {_points(check.max_points)}"
    if check.manual:  # the instructor's points and comment, whatever they are: no hint of ours beside them
        return row | {"verdict": "先生が採点しました", "message": f"先生のコメント：{scrub(check.comment)}" if check.comment else None}
    if check.passed:
        return row | {"verdict": "OK"}
    row |= {"kind": "lost", "verdict": "減点"}
    if check.error is None or check.error in CHECK_ERRORS:
        return row | {"message": scrub(check.message) if check.message else None}
    message = f"{check.error}: {scrub(check.message or '')}".rstrip(": ")
    return row | {"message": message, "hint": ERROR_HINTS.get(check.error, NO_VARIABLE_HINT)}


def plain(text: str) -> str:
    """``text`` without ANSI colours and control characters (which HTML does not allow), keeping tabs and newlines."""
    return CONTROL.sub("", ANSI.sub("", text))


def scrub(text: str) -> str:
    """``plain(text)`` without paths and module names of this toolkit."""
    return TOOLKIT.sub(TOOLKIT_WORD, plain(text))


def with_instructor_notes(shown: nbformat.NotebookNode, graded: nbformat.NotebookNode,
                          result: SubmissionResult) -> nbformat.NotebookNode:
    """``shown`` (``sanitized_notebook`` of ``graded``, cell for cell) with the instructor's points and comment in a
    note under each written answer that has them; the comment is shown as text, never as markup."""
    notes = {c.grade_id: c for c in result.checks if c.manual and c.points is not None}
    places = []
    for index, cell in enumerate(graded.cells):
        meta = cell.metadata.get("nbgrader")
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(grade_id, str) and grade_id in notes:
            places.append((index, notes[grade_id]))
    for index, check in reversed(places):
        comment = html.escape(plain(check.comment or "")).replace("\n", "<br>\n")
        note = (f"> **先生の採点：{_points(check.points)} / {_points(check.max_points)} 点**"
                + (f"<br>\n> {comment}" if comment else ""))
        shown.cells.insert(index + 1, nbformat.v4.new_markdown_cell(note))
    return shown


def sanitized_notebook(notebook: nbformat.NotebookNode, release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of the autograded ``notebook`` that a student may see, given the ``release`` notebook.

    - A locked cell (nbgrader ``locked``, or one the release has locked under its grade_id) shows the
      release's source of the cell with that grade_id, or no source if the release has none: the
      autograded version holds the hidden tests.
    - Errors of locked cells (graded tests, set-up) become "ename: evalue" and their stderr is dropped:
      tracebacks and warnings there quote the hidden tests and the toolkit.  The student's own cells keep
      their tracebacks, without ANSI colours and without the toolkit's frames.
    - Streams are joined (progress bars collapse to their last state); only ``SHOWN_MIMETYPES`` outputs stay.
    - Each cell is rebuilt from its source, outputs and execution count alone: metadata, attachments and
      ids are dropped (raw cells become markdown, which is rendered through the allowlist).
    """
    released = {c.metadata["nbgrader"]["grade_id"]: c for c in release.cells if "grade_id" in c.metadata.get("nbgrader", {})}
    locked_ids = {grade_id for grade_id, c in released.items() if c.metadata["nbgrader"].get("locked")}
    cells = []
    for cell in nbformat.from_dict(notebook).cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        locked = bool(cell.metadata.get("nbgrader", {}).get("locked")) or grade_id in locked_ids
        source = cell.source
        if locked:
            original = released.get(grade_id)
            source = original.source if original is not None else ""
        if cell.cell_type != "code":
            cells.append(nbformat.v4.new_markdown_cell(source))
            continue
        CoalesceStreamsPreprocessor().preprocess_cell(cell, {}, 0)
        outputs = [o for o in (_sanitized_output(o, locked) for o in cell.outputs) if o is not None]
        cells.append(nbformat.v4.new_code_cell(source, outputs=outputs, execution_count=_count(cell)))
    return nbformat.v4.new_notebook(cells=cells, metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}})


def _sanitized_output(output: nbformat.NotebookNode, locked: bool) -> nbformat.NotebookNode | None:
    """``output`` as a student may see it (None to drop it); ``locked``: it comes from a locked cell."""
    kind = output.output_type
    if kind == "stream":
        if output.get("name") == "stderr":
            return None if locked else nbformat.v4.new_output("stream", name="stderr", text=scrub(output.text))
        return nbformat.v4.new_output("stream", name="stdout", text=plain(output.text))
    if kind == "error":
        if locked:
            return nbformat.v4.new_output("stream", name="stderr", text=f"{output.ename}: {scrub(output.evalue)}\n")
        return nbformat.v4.new_output("error", ename=output.ename, evalue=scrub(output.evalue),
                                      traceback=_student_traceback(output.traceback))
    data = {mime: value for mime, value in output.get("data", {}).items()
            if mime in SHOWN_MIMETYPES and isinstance(value, str)}
    for mime in ("image/png", "image/jpeg"):  # nbconvert writes images into an attribute as they are
        if mime in data and not BASE64.fullmatch(data[mime]):
            del data[mime]
    if "text/plain" in data:
        data["text/plain"] = plain(data["text/plain"])
    if not data:
        return None
    if kind == "execute_result":
        return nbformat.v4.new_output(kind, data=data, execution_count=_count(output))
    return nbformat.v4.new_output("display_data", data=data)


def _count(item: nbformat.NotebookNode) -> int | None:
    """The execution count of a cell or output, if it is a number."""
    count = item.get("execution_count")
    return count if isinstance(count, int) else None


def _student_traceback(traceback: list[str]) -> list[str]:
    """A traceback of the student's own cell, plain, with each run of the toolkit's frames replaced by one line."""
    lines = []
    for entry in traceback:
        text = plain(entry)
        if text.lstrip().startswith("File ") and TOOLKIT.search(text):
            if not lines or lines[-1] != TOOLKIT_FRAME:
                lines.append(TOOLKIT_FRAME)
        else:
            lines.append(TOOLKIT.sub(TOOLKIT_WORD, text))
    return lines

