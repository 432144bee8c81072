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

A page is built from untrusted notebooks, so its cost is bounded, not just its
markup: a markdown cell (or a Markdown or HTML output) longer than
``MAX_RENDERED_CHARS`` is shown as plain text, cut there; nbconvert's
``strip_files_prefix`` filter, quadratic on a run of ``![`` (``"![" * 60000``
took hours), is not used (a feedback page serves no ``files/`` URL); and with
``page_seconds`` each page is built under a deadline, past which (or when its
rendering fails) the student gets the plain page: the summary alone, with
``messages.FEEDBACK_PAGE_PLAIN``.  The portal and the manual pages build pages in
a process of their own (``feedback_child``), never in the web process.

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
import contextlib
import html
import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import bleach
import nbformat
from bleach.css_sanitizer import ALLOWED_CSS_PROPERTIES, CSSSanitizer
from nbconvert import HTMLExporter

from autograder.checks.errors import CheckFailed, NotAttempted
from autograder.course import Assignment, NotReleased, messages
from autograder.course.assignment import question_titles
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

MAX_RENDERED_CHARS = 20_000
"""Longest markdown cell (or Markdown/HTML output) rendered as markup; a longer one is shown as plain text, cut here.
Honest written answers and explanations are a few thousand characters; markdown parsing, the HTML allowlist and the
browser then cost a bounded amount per cell, whatever a parser's worst case is."""

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


def write_feedback(assignment: Assignment, students: list[str] | None = None, *,
                   page_seconds: float | None = None) -> list[Path]:
    """Write one feedback page per student folder under ``submitted/`` (or per given student); returns the paths.

    Each page reflects the last ``grade``.  ``page_seconds``: build each page under that deadline (main thread
    only), a page past it becoming the student's plain page (``feedback_pages``).  Raises ``UnknownAssignment`` for
    an assignment course_config does not know and ``NotReleased`` if the assignment has no release notebook (the
    only source of the cells shown).
    """
    return [path for _, path, _ in feedback_pages(assignment, students, page_seconds=page_seconds)]


class PageOverTime(BaseException):
    """Building one page ran past its deadline.  A ``BaseException``, so that no ``except Exception`` of a library on
    the way (nbconvert, bleach) turns it into part of the page."""


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise ``PageOverTime`` in the body after ``seconds`` (``SIGALRM``, repeated each second should something
    swallow it; the regex engine and Python code both give way to it); no deadline for None or off the main thread."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise PageOverTime(f"{seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)


def feedback_pages(assignment: Assignment, students: list[str] | None = None, *,
                   page_seconds: float | None = None) -> Iterator[tuple[str, Path, str | None]]:
    """Write the students' feedback pages one by one (as ``write_feedback``), yielding ``(student_id, path, why)``
    as each is written: ``why`` is None for the full page, else why the student got the plain page instead
    (``plain_page``: the page ran past ``page_seconds``, or its notebook could not be rendered), bilingual, for the
    instructor."""
    course = assignment.course
    if not assignment.release.is_file():
        raise NotReleased.run_release(assignment.id, str(assignment.release))
    release = assignment.release_notebook
    exporter = _notebook_exporter()
    for student_id in students if students is not None else course.student_ids():
        path = assignment.feedback(student_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        why = None
        try:
            with _deadline(page_seconds):
                page = _full_page(assignment, student_id, release, exporter)
        except PageOverTime as over:
            why = f"ページ作成が制限時間 ({over}) を超えました / building the page ran past its limit of {over}"
        except Exception as e:  # noqa: BLE001 -- the student's notebook beat the renderer: their plain page, said to the instructor
            why = f"ページを作れませんでした / building the page failed: {type(e).__name__}: {e}"
        if why is not None:
            page = _plain_page(assignment, student_id, release)
        path.write_text(page, encoding="utf-8")
        yield student_id, path, why


def _submitted_at(assignment: Assignment, student_id: str) -> datetime | None:
    """When the student submitted, in the course's time zone (None if unknown or unreadable)."""
    _, submitted_utc, _ = assignment.submission_time(student_id)
    zone = ZoneInfo(assignment.course.config.timezone)
    return submitted_utc.replace(tzinfo=UTC).astimezone(zone) if submitted_utc else None


def _saved(assignment: Assignment, student_id: str) -> SubmissionResult:
    result = saved_result(assignment, student_id)
    result.max_score = result.max_score or assignment.config.points  # never graded: no max score of its own
    _with_reasons(assignment, result)
    return result


def _with_reasons(assignment: Assignment, result: SubmissionResult) -> None:
    """Give each check the instructor's override and extra credit with their reasons (``CheckResult.reasons``), each
    only while the gradebook holds the points it was given for (a later change in nbgrader's own formgrader wins)."""
    from autograder.tools.overrides import score_notes  # overrides imports manual, which writes these pages

    notes = score_notes(assignment, result.student_id)
    for check in result.checks:
        note = notes.get(check.grade_id)
        if note is None:
            continue
        lines = []
        if check.overridden and note.override is not None and note.override == check.points:
            lines.append(messages.FEEDBACK_OVERRIDE.format(points=_points(note.override), reason=plain(note.override_reason)))
        if note.extra_credit and note.extra_credit == check.extra_credit:
            lines.append(messages.FEEDBACK_EXTRA_CREDIT.format(points=_points(note.extra_credit),
                                                               reason=plain(note.extra_reason)))
        check.reasons = tuple(lines)


def _full_page(assignment: Assignment, student_id: str, release: nbformat.NotebookNode,
               exporter: HTMLExporter) -> str:
    """The student's page: the summary and, for a graded submission, their sanitised notebook."""
    result = _saved(assignment, student_id)
    notebook_path = assignment.autograded(student_id)
    notebook = questions = None
    if result.status == Status.GRADED and notebook_path.is_file():
        graded = nbformat.read(notebook_path, as_version=4)
        questions = read_questions(graded, release)
        notebook = with_instructor_notes(sanitized_notebook(graded, release), graded, result,
                                         published_notes(assignment, student_id))
    return feedback_page(assignment.config.title, result, notebook, exporter, questions=questions,
                         submitted_at=_submitted_at(assignment, student_id))


def write_plain_page(assignment: Assignment, student_id: str) -> Path:
    """Write the student's plain page (``plain_page``) where their feedback page goes; returns its path."""
    path = assignment.feedback(student_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_plain_page(assignment, student_id, assignment.release_notebook), encoding="utf-8")
    return path


def _plain_page(assignment: Assignment, student_id: str, release: nbformat.NotebookNode) -> str:
    """The student's plain page: the summary of their result (rows titled from the release, ours), none of their
    notebook, and ``messages.FEEDBACK_PAGE_PLAIN``; built from nothing the student wrote, so in bounded time."""
    return plain_page(assignment.config.title, _saved(assignment, student_id), titles=question_titles(release),
                      submitted_at=_submitted_at(assignment, student_id))


def plain_page(title: str, result: SubmissionResult, *, titles: dict[str, str] | None = None,
               submitted_at: datetime | None = None) -> str:
    """The summary page of ``result`` without the notebook, with the note that the full page could not be built."""
    return feedback_page(title, result, questions=Questions(titles=dict(titles or {})), submitted_at=submitted_at,
                         note=messages.FEEDBACK_PAGE_PLAIN)


def feedback_page(title: str, result: SubmissionResult, notebook: nbformat.NotebookNode | None = None,
                  exporter: HTMLExporter | None = None, *, questions: Questions | None = None,
                  submitted_at: datetime | None = None, note: str | None = None) -> str:
    """The HTML page for ``result``: the summary, then ``notebook`` (already sanitised) if there is one.

    ``questions`` (``read_questions`` of the autograded notebook) titles the rows, links them to their cells and
    names the errors behind lost checks; without it rows are titled by grade_id.  ``submitted_at``: the submission
    time, in the course's time zone; ``note``: a sentence of ours under the score (the plain page's)."""
    context = _summary_context(title, result, with_notebook=notebook is not None, questions=questions or Questions(),
                               submitted_at=submitted_at) | {"page_note": note}
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
                            filters={"clean_html": clean_html, "strip_files_prefix": _no_files_prefix})
    exporter.raw_template = template_text("feedback_notebook.html.j2")
    return exporter


def _no_files_prefix(text: str) -> str:
    """In place of nbconvert's ``strip_files_prefix``, whose pattern ``(!?)\\[(.*?)\\]\\(/?files/…`` is tried from every
    ``[`` to the end of a text without ``]``: quadratic (``"![" * 40000``: 31 s).  It rewrites ``files/`` URLs for
    a notebook server; a feedback page has none to serve (attachments and images of markdown are dropped), so the
    text passes as it is."""
    return text


def clean_html(html: str) -> str:
    """``html`` with only formatting tags, safe attributes and inline styles left (no script, no form, no image)."""
    return bleach.clean(str(html), tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, css_sanitizer=CSS)


def _points(value: float) -> str:
    return f"{value:g}"


def _signed(value: float) -> str:
    """Points of a rubric item with their sign: +2, −1."""
    return f"{value:+g}".replace("-", "−")


def _text(text: str) -> str:
    """The instructor's text for a Markdown note: escaped, its line breaks kept, each line inside the quote."""
    return html.escape(plain(text)).replace("\n", "<br>\n> ")


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
           "kind": "", "message": None, "hint": None, "cause": None, "cause_href": None, "reasons": check.reasons}
    if check.points is None:
        return row | {"points": "先生が採点します", "verdict": ""}
    row["points"] = f"{_points(check.points)} / {_points(check.max_points)}"
    if check.extra_credit:
        row["points"] += messages.FEEDBACK_EXTRA_POINTS.format(points=_points(check.extra_credit))
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


def published_notes(assignment: Assignment, student_id: str) -> dict:
    """grade_id → the rubric items, adjustment and comment published with the student's manual grades
    (``manual.published_notes``; imported here, as ``manual`` writes these pages)."""
    from autograder.tools.manual import published_notes as notes_of

    return notes_of(assignment, student_id)


def with_instructor_notes(shown: nbformat.NotebookNode, graded: nbformat.NotebookNode,
                          result: SubmissionResult, published: dict | None = None) -> nbformat.NotebookNode:
    """``shown`` (``sanitized_notebook`` of ``graded``, cell for cell) with the instructor's points and comment in a
    note under each written answer that has them; the comment is shown as text, never as markup.

    ``published``: grade_id → ``manual.PublishedNote``: the note then lists the rubric items that applied with their
    points, the adjustment and the comment — only where its points are the gradebook's (else the gradebook's
    comment alone, as nbgrader keeps it)."""
    notes = {c.grade_id: c for c in result.checks if c.manual and c.points is not None}
    places = []
    for index, cell in enumerate(graded.cells):
        grade_id = grade_id_of(cell)
        if grade_id is not None and grade_id in notes:
            places.append((index, notes[grade_id]))
    for index, check in reversed(places):
        detail = (published or {}).get(check.grade_id)
        if detail is not None and detail.points == check.points:
            lines = [f"・{_text(text)}（{_signed(points)} 点）" for text, points in detail.items]
            if detail.items and detail.adjustment:
                lines.append(f"・調整（{_signed(detail.adjustment)} 点）")
            if detail.comment:
                lines.append(f"先生のコメント：{_text(detail.comment)}")
        else:
            lines = [_text(check.comment)] if check.comment else []
        note = f"> **先生の採点：{_points(check.points)} / {_points(check.max_points)} 点**" + "".join(
            f"<br>\n> {line}" for line in lines)
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
            cells.append(nbformat.v4.new_markdown_cell(_renderable_markdown(source), id=cell_id))
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
    for mime in ("text/markdown", "text/html"):  # too long to render as markup: its text, as text
        if len(data.get(mime, "")) > MAX_RENDERED_CHARS:
            data["text/plain"] = data.get("text/plain") or _long_text_note(data[mime])
            del data[mime]
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


def _renderable_markdown(source: str) -> str:
    """A markdown cell's source as rendered: itself, or if longer than ``MAX_RENDERED_CHARS`` a note and its start
    in a fenced code block (escaped by the markdown renderer, in time linear in its length) whose fence is longer
    than any run of backticks inside, so nothing in it can close the block."""
    if len(source) <= MAX_RENDERED_CHARS:
        return source
    shown = source[:MAX_RENDERED_CHARS]
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", shown)), default=0))
    note = messages.FEEDBACK_LONG_CELL.format(length=len(source), shown=MAX_RENDERED_CHARS)
    return f"{note}\n\n{fence}text\n{shown}\n{fence}\n"


def _long_text_note(text: str) -> str:
    """A Markdown or HTML output too long to render, as plain text: the note, then its start."""
    return messages.FEEDBACK_LONG_CELL.format(length=len(text), shown=MAX_RENDERED_CHARS) + "\n" + text[:MAX_RENDERED_CHARS]


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
