"""Text a grading kernel wrote (streams, tracebacks, warnings), made fit for a student's feedback page.

A kernel's text is the student's (their prints, their errors) mixed with the machine's: ANSI colours, control
characters, the grading server's folders (``/tmp/…/.venv/lib/python3.11/site-packages/keras/…``), this toolkit's
paths and frames, and training logs of a hundred epochs.  The grading child already names the Python folders it
knows in its own stderr (``grading/child.py``, ``_quiet_machinery``); what it cannot know, a traceback or a worker
on another machine, is named here by shape: ``<keras>``, ``<tensorflow>``, ``<site-packages>``, ``<python>``.

Everything here runs on text a student controls, so it is linear in it: one regex of a single character class finds
the path-like words, and each word is read with ``str.find``; no pattern here can backtrack over a long run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from autograder.course import messages

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
"""Colours and cursor moves (CSI), and terminal titles or links (OSC); an OSC never ends past the next escape, so
an unterminated one costs one scan (its escape is then a control character, dropped)."""
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # includes \r: carriage returns were applied when streams were joined
WORD = re.compile(r"[^\s'\"()\[\],]+")
"""A path-like word: paths and module names in tracebacks and warnings end at a space, a quote, a bracket or a comma."""

TOOLKIT_WORD = "（採点システム）"
TOOLKIT_FRAME = "（採点システムの内部の処理は省略しました）"
NAMED_PACKAGES = ("keras", "tensorflow")
"""Installed packages a student knows by name: their folders read ``<keras>``; any other reads ``<site-packages>/name``."""

EPOCH = re.compile(r"Epoch (\d+)/\d+")
"""The line Keras starts each epoch of ``fit`` with (matched whole, on one line)."""
FOLD_AFTER_EPOCHS = 8
KEPT_EPOCHS = 3
"""A log of more than ``FOLD_AFTER_EPOCHS`` epochs shows its first and last ``KEPT_EPOCHS``; the rest is folded."""
FOLD_AFTER_LINES = 60
KEPT_LINES = 20
"""Any other output of more than ``FOLD_AFTER_LINES`` lines shows its first and last ``KEPT_LINES``."""


def joined_streams(outputs: list) -> list:
    """``outputs`` with each run of stream outputs of one name joined into one, and its carriage returns applied
    (a progress bar shows its last state): nbconvert's ``CoalesceStreamsPreprocessor``, without its pattern that
    goes quadratic on a long line holding a carriage return (and joining each run once, not output by output).
    Streams come back as new dicts; other outputs as they are."""
    runs: list = []  # [output, [its texts]] for a run of streams, the output itself otherwise
    for output in outputs:
        if output.get("output_type") != "stream":
            runs.append(output)
        elif runs and isinstance(runs[-1], list) and runs[-1][0].get("name") == output.get("name"):
            runs[-1][1].append(str(output.get("text", "")))
        else:
            runs.append([output, [str(output.get("text", ""))]])
    return [{**run[0], "text": carriage_returns_applied("".join(run[1]))} if isinstance(run, list) else run
            for run in runs]


def carriage_returns_applied(text: str) -> str:
    """``text`` with each line as a terminal leaves it after its carriage returns: what follows the last carriage
    return that something follows (one that ends a line, as in ``\\r\\n``, erases nothing)."""
    if "\r" not in text:
        return text
    lines = text.split("\n")
    for index, line in enumerate(lines):
        core = line.rstrip("\r")
        cut = core.rfind("\r")
        if cut >= 0:
            lines[index] = core[cut + 1:]
    return "\n".join(lines)


def plain(text: str) -> str:
    """``text`` without ANSI colours and control characters (which HTML does not allow), keeping tabs and newlines."""
    return CONTROL.sub("", ANSI.sub("", text))


def scrub(text: str) -> str:
    """``plain(text)`` with this toolkit's paths and module names as 「（採点システム）」 and the grading server's
    folders as ``<keras>``, ``<tensorflow>``, ``<site-packages>`` or ``<python>``."""
    return WORD.sub(lambda m: _shown_word(m.group()), plain(text))


def names_toolkit(text: str) -> bool:
    """Whether ``text`` quotes a path or module of this toolkit (its checks, its kernel patches)."""
    return any(_toolkit_at(m.group()) >= 0 for m in WORD.finditer(text))


def _toolkit_at(word: str) -> int:
    """Where the name ``autograder`` stands alone in ``word`` (a module or folder of ours), or -1."""
    at = word.find("autograder")
    while at >= 0:
        end = at + len("autograder")
        if (at == 0 or not _word_char(word[at - 1])) and (end == len(word) or not _word_char(word[end])):
            return at
        at = word.find("autograder", end)
    return -1


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _shown_word(word: str) -> str:
    """A path-like word as a student reads it (see ``scrub``)."""
    if _toolkit_at(word) >= 0:
        # the path or module up to its first ':' goes, a line number with it: '…/autograder/checks/k.py:3' → one word
        colon = word.find(":", _toolkit_at(word))
        if colon < 0:
            return TOOLKIT_WORD
        rest = word[colon + 1:]
        digits = len(rest) - len(rest.lstrip("0123456789"))
        return TOOLKIT_WORD + rest[digits:] if digits else TOOLKIT_WORD + word[colon:]
    if "/" not in word:
        return word
    packages = max(word.rfind("/site-packages/"), word.rfind("/dist-packages/"))
    if packages >= 0:
        inside = word[packages + len("/site-packages/"):]  # both markers have the same length
        package, slash, rest = inside.partition("/")
        shown = f"<{package}>{slash}{rest}" if package in NAMED_PACKAGES else f"<site-packages>/{inside}"
        return word[:_path_start(word)] + shown
    library = word.find("/lib/python")
    if library >= 0:
        after = word.find("/", library + len("/lib/python"))
        return word[:_path_start(word)] + "<python>" + (word[after:] if after >= 0 else "")
    return word


def _path_start(word: str) -> int:
    """Where the path in ``word`` begins: after a ``name=`` or ``name:`` before its first folder, else at its start."""
    first = word.find("/")
    return max(word.rfind("=", 0, first), word.rfind(":", 0, first)) + 1


def student_traceback(traceback: list[str]) -> list[str]:
    """A traceback of the student's own cell, plain and scrubbed, each run of the toolkit's frames as one line."""
    lines = []
    for entry in traceback:
        text = plain(entry)
        if text.lstrip().startswith("File ") and names_toolkit(text):
            if not lines or lines[-1] != TOOLKIT_FRAME:
                lines.append(TOOLKIT_FRAME)
        else:
            lines.append(scrub(text))
    return lines


CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")


def error_line(traceback: list[str]) -> int | None:
    """The line of the cell an error was raised at: the first ``Cell In[n], line k`` of IPython's traceback (the
    cell that ran is the outermost frame), or None."""
    for entry in traceback:
        if found := CELL_LINE.search(plain(entry)):
            return int(found.group(1))
    return None


@dataclass(frozen=True)
class Fold:
    """A long output cut in three: ``head`` and ``tail`` stay shown, ``middle`` is folded under ``label``."""

    head: str
    middle: str
    tail: str
    label: str


def fold(text: str) -> Fold | None:
    """``text`` folded if it is long: a training log of many epochs keeps its first and last epochs, any other long
    output its first and last lines; None if it is short enough to show whole."""
    lines = text.splitlines(keepends=True)
    starts, numbers = [], []
    for index, line in enumerate(lines):
        if line.startswith("Epoch ") and (found := EPOCH.fullmatch(line.rstrip("\n"))):
            starts.append(index)
            numbers.append(int(found.group(1)))
    if len(starts) > FOLD_AFTER_EPOCHS:
        head, tail = starts[KEPT_EPOCHS], starts[-KEPT_EPOCHS]
        hidden = len(starts) - 2 * KEPT_EPOCHS
        label = messages.feedback_fold_epochs(numbers[KEPT_EPOCHS], numbers[-KEPT_EPOCHS - 1], hidden)
    elif len(lines) > FOLD_AFTER_LINES:
        head, tail = KEPT_LINES, len(lines) - KEPT_LINES
        label = messages.feedback_fold_lines(tail - head)
    else:
        return None
    return Fold("".join(lines[:head]), "".join(lines[head:tail]), "".join(lines[tail:]), label)
