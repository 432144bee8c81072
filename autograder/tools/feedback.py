"""Feedback for students: one Japanese HTML page per submission that shows no hidden test and no solution.

nbgrader's own feedback renders the autograded notebook as it is, and that
notebook holds the hidden tests nbgrader put back for grading, in the cells'
source and in every traceback of a failed check (nbgrader issues #917, #1363).
Here each page is built from what grading recorded, in this order:

1. the result (``saved_result``): status, score, one row per graded cell with
   the check's Japanese message, titled by its question (「問3 学習」) and linked
   to its cell; the submission time from nbgrader's ``timestamp.txt``;
2. for a graded submission, the autograded notebook read against the release
   (``read_questions``): which of the student's cells raised, at which line,
   and which lost checks below follow from it; then the notebook sanitised
   (``sanitized_notebook``): every locked cell shows the release's version of
   itself, tests and set-up cells show no traceback, only the check's message,
   the server's folders read ``<keras>``/``<python>`` (``kernel_text``), long
   training logs are folded, and whatever the notebook renders as HTML goes
   through an allowlist (``clean_html``);
3. nbconvert's ``lab`` template renders the notebook with the summary at the
   top of its body; a submission that was not graded gets a short page instead.

A page is read under deadline pressure, on paper-thin patience: it says what
to fix first, in Japanese, and never an English prefix of ours.  It is also
built from untrusted notebooks: every text is escaped, the page runs no script
(the portal serves it under a CSP sandbox), and no step is worse than linear in
what the student wrote.

Pages go where nbgrader keeps feedback: ``feedback/<student_id>/<assignment>/<assignment>.html``.
The portal serves the same file with a link back to it (``with_portal_link``); a page written by the
``feedback`` command has none.
"""
from __future__ import annotations

import builtins
import html
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import bleach
import nbformat
from bleach.css_sanitizer import ALLOWED_CSS_PROPERTIES, CSSSanitizer
from nbconvert import HTMLExporter

from autograder.checks.errors import CheckFailed, NotAttempted
from autograder.course import Assignment, NotReleased, messages
from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_locked
from autograder.course.messages import STATUS_EXPLANATIONS, STATUS_LABELS
from autograder.course.results import CheckResult, Status, SubmissionResult, saved_result
from autograder.tools.kernel_text import fold, joined_streams, plain, scrub, student_traceback
from autograder.tools.pages import PAGES, template_text
from autograder.tools.questions import Questions, cell_ids, read_questions

SHOW_DETAIL = {Status.LATE, Status.INVALID, Status.MISSING}
"""Statuses whose recorded message helps the student (times, the reading error); others are for the instructor only."""

CHECK_ERRORS = {CheckFailed.__name__, NotAttempted.__name__, AssertionError.__name__}
"""Exceptions of graded cells whose message is written for students (hidden checks and self-checks)."""

BLOCKED_ERRORS = {NotAttempted.__name__, NameError.__name__}
"""Exceptions of graded cells that say something the check needs was never made: when a student's cell above raised,
the row names that cell as the cause."""

SHOWN_MIMETYPES = ("text/html", "text/markdown", "image/png", "image/jpeg", "text/plain")
"""Output types kept in a page; JavaScript, widgets, SVG and LaTeX outputs are dropped."""

BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")

PORTAL_LINK_SLOT = "<!-- portal-link -->"
"""Where the summary takes the link back to the portal; the first thing of the body, before any student's text (and a
comment no student's text can make: their markdown and HTML lose comments, their code and outputs are escaped)."""

ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em", "h1",
                "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s", "samp", "span", "strong",
                "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}
ALLOWED_ATTRIBUTES = {"*": ["class", "id", "style", "title"], "a": ["href", "title"],
                      "td": ["colspan", "rowspan", "style"], "th": ["colspan", "rowspan", "scope", "style"]}
CSS = CSSSanitizer(allowed_css_properties=ALLOWED_CSS_PROPERTIES | {"overflow-x", "white-space"})

PAGE_CSS = template_text("feedback.css")
"""The feedback pages' stylesheet (``autograder/templates/feedback.css``)."""


def write_feedback(assignment: Assignment, students: list[str] | None = None) -> list[Path]:
    """Write one feedback page per student folder under ``submitted/`` (or per given student); returns the paths.

    Each page reflects the last ``grade``. Raises ``UnknownAssignment`` for an assignment course_config does not
    know and ``NotReleased`` if the assignment has no release notebook (the only source of the cells shown).
    """
    course, config = assignment.course, assignment.config
    if not assignment.release.is_file():
        raise NotReleased.run_release(assignment.id, str(assignment.release))
    release = assignment.release_notebook
    zone = ZoneInfo(course.config.timezone)
    exporter = _notebook_exporter()
    paths = []
    for student_id in students if students is not None else course.student_ids():
        result = saved_result(assignment, student_id)
        result.max_score = result.max_score or config.points  # a submission never graded has no max score of its own
        notebook_path = assignment.autograded(student_id)
        notebook = questions = None
        if result.status == Status.GRADED and notebook_path.is_file():
            graded = nbformat.read(notebook_path, as_version=4)
            questions = read_questions(graded, release)
            notebook = with_instructor_notes(sanitized_notebook(graded, release), graded, result)
        _, submitted_utc, _ = assignment.submission_time(student_id)  # an unreadable time shows none
        submitted_at = submitted_utc.replace(tzinfo=UTC).astimezone(zone) if submitted_utc else None
        path = assignment.feedback(student_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(feedback_page(config.title, result, notebook, exporter, questions=questions,
                                      submitted_at=submitted_at), encoding="utf-8")
        paths.append(path)
    return paths


def feedback_page(title: str, result: SubmissionResult, notebook: nbformat.NotebookNode | None = None,
                  exporter: HTMLExporter | None = None, *, questions: Questions | None = None,
                  submitted_at: datetime | None = None) -> str:
    """The HTML page for ``result``: the summary, then ``notebook`` (already sanitised) if there is one.

    ``questions`` (``read_questions`` of the autograded notebook) titles the rows, links them to their cells and
    names the errors behind lost checks; without it rows are titled by grade_id.  ``submitted_at``: the submission
    time, in the course's time zone."""
    context = _summary_context(title, result, with_notebook=notebook is not None, questions=questions or Questions(),
                               submitted_at=submitted_at)
    if notebook is None:
        return PAGES.get_template("feedback_page.html.j2").render(context, css=PAGE_CSS)
    summary = PAGES.get_template("feedback_summary.html.j2").render(context)
    resources = {"metadata": {"name": f"{title}（{result.student_id}）"},
                 "feedback_summary": summary, "feedback_css": PAGE_CSS, "figure_alt": messages.FEEDBACK_FIGURE_ALT}
    body, _ = (exporter or _notebook_exporter()).from_notebook_node(notebook, resources=resources)
    return body


def with_portal_link(page: str, href: str = "/") -> str:
    """``page`` (a feedback page as written) with a link back to the portal at its top, for the portal to serve.

    Only the first slot is ours (the summary comes before any student's text); ``href`` is the portal's own path."""
    link = PAGES.get_template("feedback_portal_link.html.j2").render(href=href, label=messages.FEEDBACK_BACK_TO_PORTAL)
    return page.replace(PORTAL_LINK_SLOT, link, 1)


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


def _href(anchor: str | None) -> str | None:
    """The link to a cell of the page (nbconvert's lab template gives each cell ``id="cell-id=<its id>"``)."""
    return f"#cell-id={anchor}" if anchor else None


def _summary_context(title: str, result: SubmissionResult, *, with_notebook: bool, questions: Questions,
                     submitted_at: datetime | None) -> dict:
    """What the summary template shows for ``result``."""
    graded = result.status == Status.GRADED
    titles = _row_titles(result.checks, questions)
    return {
        "title": title,
        "student_id": result.student_id,
        "submitted": submitted_at.strftime("%Y-%m-%d %H:%M") if submitted_at else None,
        "status_label": STATUS_LABELS.get(result.status, result.status),
        "score": _points(result.score if graded else 0),
        "max_score": _points(result.max_score),
        "explanation": None if graded else STATUS_EXPLANATIONS.get(result.status, STATUS_EXPLANATIONS[Status.NOT_GRADED]),
        "detail": scrub(result.message) if result.status in SHOW_DETAIL and result.message else None,
        "pending": [titles[c.grade_id] for c in result.checks if c.manual and c.points is None] if graded else [],
        "errors": [_error_item(error) for error in questions.errors] if graded and with_notebook else [],
        "errors_intro": messages.FEEDBACK_ERRORS_INTRO,
        "rows": [_row(check, titles[check.grade_id], questions) for check in result.checks] if graded else [],
        "notebook_note": messages.FEEDBACK_NOTEBOOK_NOTE if with_notebook else None,
        "see_cell": messages.FEEDBACK_SEE_CELL,
    }


def _row_titles(checks: list[CheckResult], questions: Questions) -> dict[str, str]:
    """grade_id → the title of its row: its question's, numbered where one question has several checks
    (「問4 学習の様子の作図（2つ目）」)."""
    plain_titles = {c.grade_id: questions.titles.get(c.grade_id, c.grade_id) for c in checks}
    counts, seen = Counter(plain_titles.values()), Counter()
    titles = {}
    for check in checks:
        title = plain_titles[check.grade_id]
        seen[title] += 1
        titles[check.grade_id] = f"{title}（{seen[title]}つ目）" if counts[title] > 1 else title
    return titles


def _error_item(error) -> dict:
    """One of the student's cells that raised, as the list above the table shows it."""
    what = messages.FEEDBACK_UNANSWERED if error.unanswered else error.what
    return {"text": messages.feedback_cell_error(error.where, what, None if error.unanswered else error.line),
            "evalue": None if error.unanswered else error.evalue, "href": _href(error.anchor)}


def _row(check: CheckResult, title: str, questions: Questions) -> dict:
    """One row of the table: the question, its points, and why points were lost (first the error above that cost
    them, if one did)."""
    row = {"grade_id": check.grade_id, "title": title, "href": _href(questions.anchors.get(check.grade_id)),
           "kind": "", "message": None, "hint": None, "cause": None, "cause_href": None}
    if check.points is None:
        return row | {"points": "先生が採点します", "verdict": ""}
    row["points"] = f"{_points(check.points)} / {_points(check.max_points)}"
    if check.manual:  # the instructor's points and comment, whatever they are: no hint of ours beside them
        return row | {"verdict": "先生が採点しました", "message": f"先生のコメント：{scrub(check.comment)}" if check.comment else None}
    if check.passed:
        return row | {"verdict": "OK"}
    row |= {"kind": "lost", "verdict": "減点"}
    blocked = questions.above.get(check.grade_id) if check.error in BLOCKED_ERRORS else None
    if blocked is not None:
        error, same_question = blocked
        row |= {"kind": "lost blocked", "cause_href": _href(error.anchor),
                "cause": messages.feedback_blocked(error.where, error.what, error.line, unanswered=error.unanswered,
                                                   same_question=same_question)}
    if check.error is None or check.error in CHECK_ERRORS:
        return row | {"message": scrub(check.message) if check.message else None}
    if check.error in messages.FEEDBACK_CHECK_ERROR_HINTS:  # the kernel stopped the cell: its exception is ours
        return row | {"hint": messages.FEEDBACK_CHECK_ERROR_HINTS[check.error]}
    return row | {"message": graded_cell_error(check.error, check.message or ""),
                  "hint": None if blocked else messages.FEEDBACK_NO_VARIABLE_HINT}


def graded_cell_error(ename: str, evalue: str) -> str:
    """How a graded (locked) cell's error reads, in the table and under the cell: a check's own message alone, a
    Python error with its name (the student's vocabulary), anything else (ours, a library's) as one Japanese line."""
    if ename in CHECK_ERRORS:
        return scrub(evalue)
    if isinstance(getattr(builtins, ename, None), type) and issubclass(getattr(builtins, ename), BaseException):
        return f"{messages.FEEDBACK_TEST_CELL_ERROR}（{ename}: {scrub(evalue)}）" if evalue else \
            f"{messages.FEEDBACK_TEST_CELL_ERROR}（{ename}）"
    return f"{messages.FEEDBACK_TEST_CELL_ERROR}。"


def with_instructor_notes(shown: nbformat.NotebookNode, graded: nbformat.NotebookNode,
                          result: SubmissionResult) -> nbformat.NotebookNode:
    """``shown`` (``sanitized_notebook`` of ``graded``, cell for cell) with the instructor's points and comment in a
    note under each written answer that has them; the comment is shown as text, never as markup."""
    notes = {c.grade_id: c for c in result.checks if c.manual and c.points is not None}
    places = []
    for index, cell in enumerate(graded.cells):
        grade_id = grade_id_of(cell)
        if grade_id is not None and grade_id in notes:
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
    - Errors of locked cells (graded tests, set-up) become their message alone (``graded_cell_error``) and their
      stderr is dropped: tracebacks and warnings there quote the hidden tests and the toolkit.  The student's own
      cells keep their tracebacks and warnings, plain (no ANSI colours), without the toolkit's frames and with the
      server's folders as ``<keras>``, ``<python>`` … (``kernel_text.scrub``).
    - Streams are joined (progress bars collapse to their last state), and a long one is folded: its first and
      last epochs (or lines) shown, the rest behind a ``<details>`` that opens without a script.  Only
      ``SHOWN_MIMETYPES`` outputs stay.
    - Each cell is rebuilt from its source, outputs and execution count alone, with the id ``questions.cell_ids``
      gives it (the anchor the summary links to): metadata, attachments and the student's ids are dropped (raw
      cells become markdown, which is rendered through the allowlist).
    """
    released = {grade_id_of(c): c for c in release.cells if grade_id_of(c) is not None}
    locked_ids = {grade_id for grade_id, c in released.items() if is_locked(c)}
    cells = []
    shown = nbformat.from_dict(notebook).cells
    for cell, cell_id in zip(shown, cell_ids(shown), strict=True):
        grade_id = grade_id_of(cell)
        locked = is_locked(cell) or grade_id in locked_ids
        source = cell.source
        if locked:
            original = released.get(grade_id)
            source = original.source if original is not None else ""
        if cell.cell_type != "code":
            cells.append(nbformat.v4.new_markdown_cell(source, id=cell_id))
            continue
        outputs = [part for output in joined_streams(cell.outputs)
                   for part in _sanitized_outputs(nbformat.from_dict(output), locked)]
        cells.append(nbformat.v4.new_code_cell(source, outputs=outputs, execution_count=_count(cell), id=cell_id))
    return nbformat.v4.new_notebook(cells=cells, metadata={"language_info": {"name": "python", "pygments_lexer": "ipython3"}})


def _sanitized_outputs(output: nbformat.NotebookNode, locked: bool) -> list[nbformat.NotebookNode]:
    """``output`` as a student may see it: none, itself cleaned, or a long stream in three (``_folded``);
    ``locked``: it comes from a locked cell."""
    kind = output.output_type
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        if name == "stderr" and locked:
            return []
        return _folded(name, scrub(output.get("text", "")))
    if kind == "error":
        if locked:
            return [nbformat.v4.new_output("stream", name="stderr",
                                           text=graded_cell_error(str(output.ename), str(output.evalue)) + "\n")]
        return [nbformat.v4.new_output("error", ename=scrub(str(output.ename)), evalue=scrub(str(output.evalue)),
                                       traceback=student_traceback([str(line) for line in output.traceback]))]
    data = {mime: value for mime, value in output.get("data", {}).items()
            if mime in SHOWN_MIMETYPES and isinstance(value, str)}
    for mime in ("image/png", "image/jpeg"):  # nbconvert writes images into an attribute as they are
        if mime in data and not BASE64.fullmatch(data[mime]):
            del data[mime]
    if "text/plain" in data:
        data["text/plain"] = scrub(data["text/plain"])
    if not data:
        return []
    if kind == "execute_result":
        return [nbformat.v4.new_output(kind, data=data, execution_count=_count(output))]
    return [nbformat.v4.new_output("display_data", data=data)]


def _folded(name: str, text: str) -> list[nbformat.NotebookNode]:
    """A stream's text as outputs: itself, or if long (``kernel_text.fold``) its head, its middle folded in a
    ``<details>`` (escaped here, and through ``clean_html`` when rendered), and its tail."""
    folded = fold(text)
    if folded is None:
        return [nbformat.v4.new_output("stream", name=name, text=text)]
    middle = (f'<details class="feedback-fold feedback-fold-{name}"><summary>{html.escape(folded.label)}</summary>'
              f"<pre>{html.escape(folded.middle)}</pre></details>")
    parts = [nbformat.v4.new_output("stream", name=name, text=folded.head) if folded.head else None,
             nbformat.v4.new_output("display_data", data={"text/html": middle}),
             nbformat.v4.new_output("stream", name=name, text=folded.tail) if folded.tail else None]
    return [part for part in parts if part is not None]


def _count(item: nbformat.NotebookNode) -> int | None:
    """The execution count of a cell or output, if it is a number."""
    count = item.get("execution_count")
    return count if isinstance(count, int) else None
