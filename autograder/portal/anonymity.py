"""Anonymous grading: while an assignment's switch is on, its written answers are graded without names or ids.

Why: a grader who knows whose answer it is grades it differently (Gradescope's anonymous grading).  The instructor
turns the switch on or off per assignment on its manual page (``Store.set_anonymous``, in the portal's database:
a setting, never a score).  While it is on, the manual pages and the regrade-request list show each student as
「解答 N」: a number of their own in that assignment (``Store.anonymous_numbers``), given in a random order the first
time the student's answer is shown and kept from then on, so 「解答 7」 is the same student on every question, every
page view and after the switch is turned off and on again.

On those pages a student's id appears nowhere, also not in the HTML a grader could read: forms, anchors and the JSON
replies carry ``key`` (``anon-7``), which the routes turn back into the student (``student``: nothing else is a
key while the switch is on); our messages name a student by label (``who``), and any id left in a message (an error
of ``manual``, or text the grader typed quoted back) is shown as 「（匿名の学生）」 (``hide``), never as a label.

What it does not cover (docs say so): the class page and the students' feedback pages still name the students (they
are about submissions, not grading); ``manual --export`` is the instructor's own file and keeps ids and names, as do
the grades CSV and the journal of grade changes.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from autograder.portal.store import Store
from autograder.tools.manual import ManualGradeError

KEY_PREFIX = "anon-"
"""How a form names an anonymous answer (``anon-7``): not a label to read, an id for the page's own script."""


HIDDEN = "（匿名の学生）"
"""What a message shows where it would name a student's id while the switch is on (``Masks.hide``)."""


def label(number: int) -> str:
    """What the pages show for the anonymous student ``number``."""
    return f"解答 {number}"


@dataclass(frozen=True)
class Masks:
    """How one page names the students of one assignment: by id and name, or (the switch on) by 「解答 N」."""

    on: bool
    numbers: Mapping[str, int] = field(default_factory=dict)
    """student_id → their number in the assignment (only while ``on``)."""

    names: Mapping[str, str] = field(default_factory=dict)
    """student_id → name, shown beside the id while the switch is off."""

    def key(self, student_id: str) -> str:
        """What forms, anchors and JSON carry for the student."""
        if self.on and student_id in self.numbers:
            return f"{KEY_PREFIX}{self.numbers[student_id]}"
        return student_id

    def student(self, key: str) -> str:
        """The student a form's ``key`` names.  Off: the key is the id (an unknown one refused later as no student;
        ``anon-N`` from a page loaded while the switch was on: reload).  On: only ``anon-N`` of a numbered student;
        anything else raises ``ManualGradeError`` naming nothing.  Were a
        student's id taken as the key (``s002``), a grader could save through it and read the label in the reply
        (key ``anon-N``, 「解答 N を保存しました」) or see which answer changed: the id → label table, a post a student."""
        if not self.on and not key.startswith(KEY_PREFIX):
            return key
        wanted = key.removeprefix(KEY_PREFIX) if key.startswith(KEY_PREFIX) else None
        found = next((s for s, n in self.numbers.items() if str(n) == wanted), None)
        if found is None:
            raise ManualGradeError("この解答が見つかりません。ページを読み込み直してください / "
                                   "no such answer: reload the page")
        return found

    def who(self, student_id: str) -> str:
        """The student as the page names them: 「解答 7」, or their id and name."""
        if self.on:
            return label(self.numbers[student_id]) if student_id in self.numbers else "解答"
        return f"{student_id} {self.names.get(student_id, '')}".strip()

    def order(self, student_id: str) -> tuple:
        """A sort key: by number while on (an id's order says nothing then), else by id."""
        return (self.numbers.get(student_id, 0), student_id) if self.on else (0, student_id)

    def hide(self, text: str) -> str:
        """``text`` with every student id it names replaced by ``HIDDEN`` (while the switch is on).

        Not by the student's label: a message may quote what the grader typed (points 's002', an item named
        's002'), and a label there would be the answer to "which 解答 is s002?".  Our own messages name a student
        by ``who`` (the label) before this runs."""
        if not self.on:
            return text
        for student_id in sorted(self.numbers, key=len, reverse=True):  # s0012 before s001
            text = text.replace(student_id, HIDDEN)
        return text


def masks(store: Store, assignment_id: str, students: Iterable[str], names: Mapping[str, str] | None = None) -> Masks:
    """The ``Masks`` of ``assignment_id`` for pages showing ``students`` (numbering those not numbered yet)."""
    if not store.anonymous(assignment_id):
        return Masks(False, {}, dict(names or {}))
    return Masks(True, store.anonymous_numbers(assignment_id, students))
