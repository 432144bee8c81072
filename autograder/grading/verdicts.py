"""Verdicts, in the grading process (never the kernel): the checks run on the evidence the kernel left.

After the notebook has run, ``verdicts`` reads the source notebook (trusted) to know
which checks each graded cell calls, rebuilds a namespace from the evidence
(``keras.saving.load_model`` with ``safe_mode=True``, ``numpy.load`` without pickles,
JSON; each file measured first, ``autograder.grading.evidence_limits``) and runs the
same check functions on it.  The data set, parameter counts and
accuracies are measured here.  What the kernel printed or raised in a test cell no
longer counts; the verdict replaces it (``apply``).

Forging evidence means writing down a real model, real arrays and real figure
data; the checks then compare them with each other and with the checker's own
measurements (a History against its model's validation loss and step count, a
figure against the History, ``score`` against the model evaluated on the test
set), so a forgery that passes is the honest work.

The engine knows no assignment: the modules of the checks are the ones the source
notebook's test cells import, whatever package they live in.
"""
from __future__ import annotations

import errno
import importlib
import re
from pathlib import Path

from autograder.course.cells import grade_id as grade_id_of
from autograder.course.cells import is_grade, is_solution
from autograder.grading import hidden_tests
from autograder.grading.evidence_limits import EvidenceRefused, Reading
from autograder.grading.kernel import fit_record
from autograder.grading.kernel.evidence import (
    ASSIGNMENT,
    FIGURES,
    MANIFEST,
    TOOLKIT_ERROR,
    evidence_key,
)
from autograder.grading.kernel.fit_record import FITS, FitSample
from autograder.grading.outcomes import CheckFailed


class Opaque:
    """Stands for a student's value that is not plain data (its type name and ``repr`` only)."""

    def __init__(self, text: str):
        self._text = text

    def __repr__(self) -> str:
        return self._text


def _opaque_value(entry: dict):
    kind = type(str(entry.get("type", "object"))[:60] or "object", (Opaque,), {})
    return kind(str(entry.get("repr", "?")))


class HistoryView:
    """What a check reads of a Keras ``History``: ``history``, ``params`` and ``model``."""

    def __init__(self, history: dict, params: dict, model):
        self.history, self.params, self.model = history, params, model


class _Text:
    def __init__(self, text: str):
        self._text = text

    def get_text(self) -> str:
        return self._text


class _Styled:
    """The look of a line or a legend handle: what ``figures`` compares to match a proxy handle with its line."""

    def __init__(self, style: dict | None):
        style = style if isinstance(style, dict) else {}
        self._color, self._linestyle, self._marker = (str(style.get(k, "")) for k in ("color", "linestyle", "marker"))

    def get_color(self) -> str:
        return self._color

    def get_linestyle(self) -> str:
        return self._linestyle

    def get_marker(self) -> str:
        return self._marker


class _Legend:
    """A legend as the checks read it: its texts and, for each, its handle (a line of the figure, or a proxy)."""

    def __init__(self, texts: list[str], entries: list | None = None, lines: list | None = None):
        self._texts = [_Text(str(t)) for t in texts]
        self.legend_handles = []
        for entry in entries or []:
            place = entry.get("line")
            if isinstance(place, list) and len(place) == 2 and lines is not None:
                a, i = int(place[0]), int(place[1])
                if not (0 <= a < len(lines) and 0 <= i < len(lines[a])):
                    raise EvidenceRefused("a legend naming a line the figure does not have")
                self.legend_handles.append(lines[a][i])
            else:
                self.legend_handles.append(_Styled(entry.get("style")))

    def get_texts(self) -> list:
        return self._texts


class _Line(_Styled):
    def __init__(self, label: str, ydata: list[float], style: dict | None = None):
        super().__init__(style)
        self._label, self._ydata = label, ydata

    def get_label(self) -> str:
        return self._label

    def get_ydata(self):
        return self._ydata


class _Colormap:
    def __init__(self, name: str):
        self.name = name


class _Image:
    def __init__(self, array, cmap: str):
        self._array, self._cmap = array, _Colormap(cmap)

    def get_array(self):
        return self._array

    def get_cmap(self):
        return self._cmap


class _SubplotSpec:
    def __init__(self, geometry: list[int], colspan_start: int, rowspan_start: int = 0):
        self._geometry = tuple(int(v) for v in geometry)
        self.colspan = range(int(colspan_start), int(colspan_start) + 1)
        self.rowspan = range(int(rowspan_start), int(rowspan_start) + 1)

    def get_geometry(self) -> tuple:
        return self._geometry

    def get_topmost_subplotspec(self):
        return self  # described already as the cell of the figure's own grid


class _Axes:
    def __init__(self, entry: dict, reading: Reading):
        geometry = entry.get("geometry")
        self._spec = (_SubplotSpec(geometry, entry.get("colspan_start") or 0, entry.get("rowspan_start") or 0)
                      if geometry else None)
        self._label = str(entry.get("label", ""))
        self._lines = [_Line(str(line["label"]), [float(y) for y in line["ydata"]], line)
                       for line in entry.get("lines", [])]
        self._entry = entry
        self._legend = None
        self._images = [_Image(reading.array(image["file"]), str(image["cmap"])) for image in entry.get("images", [])]

    def link_legend(self, lines: list) -> None:
        """Rebuild this axes' legend once every axes' lines exist (a legend may name a line of another axes)."""
        if self._entry.get("legend") is not None:
            self._legend = _Legend(self._entry["legend"], self._entry.get("legend_entries"), lines)

    def get_subplotspec(self):
        return self._spec

    def get_label(self) -> str:
        return self._label

    def get_lines(self):
        return self._lines

    def get_legend(self):
        return self._legend

    def get_images(self):
        return self._images


class FigureView:
    """What the figure checks read of a matplotlib Figure, rebuilt from its description."""

    def __init__(self, entry: dict, reading: Reading):
        self._size = tuple(float(v) for v in entry["size"])
        self.axes = [_Axes(ax, reading) for ax in entry.get("axes", [])]
        lines = [ax.get_lines() for ax in self.axes]
        for ax in self.axes:
            ax.link_legend(lines)
        self.legends = [_Legend([e.get("text", "") for e in entries], entries, lines)
                        for entries in entry.get("legends", [])]

    def get_size_inches(self):
        return self._size


def _load_model(reading: Reading, entry: dict):
    """The student's model: Keras's file reloaded in safe mode, else rebuilt from its record
    (``autograder.grading.model_rebuild``), else an opaque "壊れたモデル" saying in Japanese why it could not be
    rebuilt (Keras's own English error is for the instructor's log only: ``print``ed, never the student's text)."""
    failures: list[str] = []
    if entry.get("file") is not None:
        path = reading.model(entry.get("file"))  # a name leaving the folder, or a zip bomb, is tampering, not a broken model
        import keras

        try:
            return keras.saving.load_model(path, safe_mode=True)
        except MemoryError:  # over the judging's memory limit: the submission's error, never the student's lost check
            raise
        except Exception as e:  # noqa: BLE001 -- what cannot be loaded safely may still be rebuilt from its record
            if type(e).__name__ == "ResourceExhaustedError" or (isinstance(e, OSError) and e.errno == errno.ENOMEM):
                raise MemoryError(str(e)[:300]) from e
            failures.append(f"{type(e).__name__}: {str(e)[:200]}")
    if entry.get("record") is not None:
        from autograder.grading import model_rebuild

        try:
            return model_rebuild.rebuild(reading, entry["record"])
        except model_rebuild.Unrebuildable as e:
            reason = str(e)
    else:
        reason = "モデルの層と重みを記録できませんでした"
        failures.append(str(entry.get("record_error"))[:200])
    print(f"model not reproduced / モデルを再現できません: {reason}; {' / '.join(failures)}", flush=True)
    return _opaque_value({"type": UNJUDGEABLE_MODEL, "repr": reason})


def _fit_samples(reading: Reading, fits: list) -> list[FitSample]:
    """What each ``fit`` of a model trained on (``fit_record``): numbers as numbers, each sample a float32 array of
    at most ``fit_record.SAMPLE_ROWS`` rows (anything else is evidence our collecting never writes)."""
    if not isinstance(fits, list) or len(fits) > fit_record.MAX_FITS:
        raise EvidenceRefused("fits of the wrong shape")
    samples = []
    for fit in fits:
        rows, trained = fit["rows"], fit["trained_rows"]
        if not all(v is None or type(v) is int and v >= 0 for v in (rows, trained)):
            raise EvidenceRefused("a fit's rows of the wrong type")
        sample = None
        if fit["sample"] is not None:
            sample = reading.array(fit["sample"])
            if sample.ndim != 2 or len(sample) > fit_record.SAMPLE_ROWS or sample.shape[1] > fit_record.MAX_ROW_VALUES:
                raise EvidenceRefused(f"a fit's sample of shape {sample.shape}")
        samples.append(FitSample(str(fit["data"])[:100], rows, trained, sample))
    return samples


UNJUDGEABLE_MODEL = "壊れたモデル"
"""Type name of a student's model the grading process could neither reload nor rebuild (``autograder.checks.errors.UNLOADABLE``)."""


def load(folder: Path) -> dict:
    """The namespace a check sees, rebuilt from the evidence in ``folder`` (missing names stay missing).

    Raises ``EvidenceRefused`` for evidence our collecting cannot have written (it writes one fixed shape, within the
    bounds of ``autograder.grading.evidence_limits``, checked before each file is loaded), and ``ToolkitFault`` when
    the kernel's collecting wrote down its own failure.
    """
    try:
        reading = Reading(folder)
        manifest = reading.manifest(MANIFEST)
    except OSError as e:
        raise EvidenceRefused(f"unreadable evidence: {type(e).__name__}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("names", {}), dict):
        raise EvidenceRefused("a manifest of the wrong shape")
    if manifest.get(TOOLKIT_ERROR):
        # Forgeable by the student's process, but never to their advantage: the submission becomes an error for the
        # instructor to look at, with this text in its log, instead of a point lost to a fault of ours.
        raise ToolkitFault(f"collecting the evidence failed in the kernel:\n{str(manifest[TOOLKIT_ERROR])[-3000:]}")
    try:
        return _rebuild(reading, manifest)
    except OSError as e:  # a file that would not read (the kernel is gone: nothing changes the folder any more)
        raise EvidenceRefused(f"unreadable evidence: {type(e).__name__}: {str(e)[:200]}") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:  # a shape our collecting never writes
        raise EvidenceRefused(f"evidence of the wrong shape: {type(e).__name__}: {str(e)[:200]}") from None


def _rebuild(reading: Reading, manifest: dict) -> dict:
    ns: dict = {}
    pending_history = []
    for name, entry in manifest.get("names", {}).items():
        if not isinstance(entry, dict):
            raise EvidenceRefused(f"an entry of the wrong shape: {name!r}")
        if name in (ASSIGNMENT, FIGURES, FITS):  # the judging's own keys: no evidence sets them
            raise EvidenceRefused(f"an entry of a reserved name: {name!r}")
        kind = entry.get("kind")
        if kind == "missing":
            continue
        if kind == "model":
            ns[name] = _load_model(reading, entry)
            if entry.get("fits") is not None:
                ns.setdefault(FITS, {})[name] = _fit_samples(reading, entry["fits"])
        elif kind == "history":
            pending_history.append((name, entry))
        elif kind == "json":
            ns[name] = entry["value"]
        elif kind == "array":
            ns[name] = reading.array(entry["file"])
        else:
            ns[name] = _opaque_value(entry)
    for name, entry in pending_history:
        trained = entry.get("model") or {}
        if trained.get("same_as") == "model":
            model = ns.get("model")
        elif trained.get("kind") == "model":
            model = _load_model(reading, trained)
        else:
            model = None
        ns[name] = HistoryView({str(k): [float(x) for x in v] for k, v in entry["history"].items()},
                               dict(entry.get("params") or {}), model)
    if "figures" in manifest:
        ns[FIGURES] = [FigureView(figure, reading) for figure in manifest["figures"]]
    return ns


_IMPORT = re.compile(r"^\s*from\s+([\w.]+)\s+import\s+(\w+)\s+as\s+(\w+)\s*$", re.MULTILINE)
_CALL = re.compile(r"^\s*(\w+)\.(check_\w+)\(\s*globals\(\)\s*\)\s*$", re.MULTILINE)


def checks_of(source: str) -> list[tuple[str, str]]:
    """``(module, function)`` of every check a test cell's source calls, in order (``from PKG import MODULE as ALIAS``
    then ``ALIAS.check_x(globals())``; ``module`` is ``PKG.MODULE``)."""
    aliases = {alias: f"{package}.{module}" for package, module, alias in _IMPORT.findall(source)}
    return [(aliases[alias], function) for alias, function in _CALL.findall(source) if alias in aliases]


NOT_RUN = ("この問題の採点用セルが実行されませんでした（それより前のセルで止まったか、時間切れです）。"
           "上から順にすべてのセルがエラーなく動くか確かめましょう。")


TOOLKIT = "ToolkitError"
"""``ename`` of a verdict the toolkit could not reach: its own code failed (never the student's lost point)."""

TAMPERED = ("採点用の記録が書き換えられていたため、この問題は採点できません（0点）。"
            "ノートブックの中で採点用のフォルダ (.autograder-evidence) に触れないでください。")


class ToolkitFault(Exception):
    """The toolkit's own code failed while collecting or judging: a grading error for the instructor."""


def judge(folder: Path, module: str, function: str, assignment=None) -> tuple[str, str] | None:
    """Run one check on its evidence: None if it passes, else ``(exception name, message)``.

    ``assignment``: the assignment's settings (its ``AssignmentConfig``), handed to the check as ``ns[ASSIGNMENT]``
    (a check reading its thresholds there without them is the toolkit's error, below).

    ``(TOOLKIT, why)`` when the toolkit itself failed: the check module would not import, collecting
    failed in the kernel, or the check raised anything but ``CheckFailed`` on the evidence (a value or a
    layer type it did not expect) — the grading process then records the submission as an error for
    the instructor, not a student's 0.  ``("CheckFailed", TAMPERED)`` for evidence our collecting cannot
    have written, a file beyond the bounds of ``evidence_limits`` included.  A ``MemoryError`` (NumPy's, or
    TensorFlow's ``ResourceExhaustedError``) is raised on: under ``evidence_limits.judging_limits`` it ends
    the judging of the submission.
    """
    where = folder / evidence_key(module, function)
    if not (where / MANIFEST).is_file():
        return "NotAttempted", NOT_RUN
    try:
        check = getattr(importlib.import_module(module), function)
    except Exception as e:  # noqa: BLE001 -- the toolkit's own module: its failure is ours
        return TOOLKIT, f"{module}.{function} を読み込めません / cannot import: {type(e).__name__}: {e}"
    try:
        ns = load(where)
        if assignment is not None:
            ns[ASSIGNMENT] = assignment
        getattr(check, "__wrapped__", check)(ns)
    except CheckFailed as e:
        return type(e).__name__, str(e)
    except EvidenceRefused:
        return "CheckFailed", TAMPERED
    except MemoryError:  # over the judging's memory limit (``evidence_limits.judging_limits``): the submission's error
        raise
    except Exception as e:  # noqa: BLE001 -- anything else is a fault of the toolkit, reported as such
        if type(e).__name__ == "ResourceExhaustedError":  # TensorFlow's MemoryError
            raise MemoryError(str(e)[:300]) from e
        import traceback

        detail = "".join(traceback.format_exception(e))[-1500:]
        return TOOLKIT, f"{module}.{function}: {type(e).__name__}: {str(e)[:300]}\n{detail}"
    return None


def _test_cells(source_notebook: Path):
    """``(grade_id, checks_of(source))`` of every graded test cell of the source notebook that calls checks."""
    import nbformat

    notebook = nbformat.read(source_notebook, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            continue
        if calls := checks_of(cell.source):
            yield grade_id_of(cell), calls


def check_modules(source_notebook: Path) -> list[str]:
    """Every module whose checks the source notebook's test cells call, sorted."""
    return sorted({module for _, calls in _test_cells(source_notebook) for module, _ in calls})


def plain_tests(source_notebook: Path) -> tuple[list[hidden_tests.PlainTest], hidden_tests.Given]:
    """The plain hidden tests of the source notebook (``autograder.grading.hidden_tests``) and what its locked cells
    give them; raises ``ValueError`` for a test cell that does not parse (the instructor's notebook)."""
    import nbformat

    notebook = nbformat.read(source_notebook, as_version=4)
    return (hidden_tests.plain_tests(notebook, lambda source: bool(checks_of(source))),
            hidden_tests.given_of(notebook))


def judge_plain(folder: Path, test: hidden_tests.PlainTest, given: hidden_tests.Given) -> tuple[str, str] | None:
    """Run one plain hidden test on its evidence: None if it passes, else ``(exception name, message)``, as ``judge``
    (``TOOLKIT`` when the test itself failed: the instructor's error, never the student's 0)."""
    where = folder / test.key
    if not (where / MANIFEST).is_file():
        return "NotAttempted", NOT_RUN
    try:
        values = load(where)
    except EvidenceRefused:
        return "CheckFailed", TAMPERED
    except ToolkitFault as e:
        return TOOLKIT, str(e)
    outcome = hidden_tests.judge(test, given, values, check_failed=CheckFailed)
    if outcome is None:
        return None
    ename, message, instructors = outcome
    return (TOOLKIT, message) if instructors else (ename, message)


def verdicts(source_notebook: Path, folder: Path, assignment=None) -> dict[str, tuple[str, str] | None]:
    """grade_id → verdict (None: passed) for every graded test cell of the source: those that call checks (each
    handed ``assignment``, the ``AssignmentConfig``, as ``judge`` says), and the plain hidden tests
    (``autograder.grading.hidden_tests``)."""
    results: dict[str, tuple[str, str] | None] = {}
    for grade_id, calls in _test_cells(source_notebook):
        verdict = None
        for module, function in calls:
            verdict = judge(folder, module, function, assignment)
            if verdict is not None:
                break
        results[grade_id] = verdict
    try:
        tests, given = plain_tests(source_notebook)
    except ValueError as e:  # the instructor's notebook: every plain test is the toolkit's error, loudly
        return {**results, "(source)": (TOOLKIT, str(e))}
    for test in tests:
        results[test.grade_id] = judge_plain(folder, test, given)
    return results


def apply(notebook, results: dict[str, tuple[str, str] | None]) -> None:
    """Replace what the kernel said in each judged test cell with the verdict (an error output if it failed).

    The cell's printed output stays for the student to read; errors raised in the
    kernel (a failed self-check, a forged traceback) are dropped, except the
    time-out error of a cell that did not finish, which ``grade`` reports.
    """
    for cell in notebook.cells:
        if cell.cell_type != "code" or grade_id_of(cell) not in results:
            continue
        verdict = results[grade_id_of(cell)]
        outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "error"
                   or (verdict is not None and o.get("ename") == "CellTimeoutError")]
        if verdict is not None and not any(o.get("output_type") == "error" for o in outputs):
            import nbformat

            ename, message = verdict
            outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]))
        cell.outputs = outputs

