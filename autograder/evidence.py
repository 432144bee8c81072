"""Evidence: what a grading cell leaves behind in the student's kernel, and the verdict computed from it elsewhere.

Plain nbgrader runs hidden tests in the student's own kernel, where the student's
code can replace anything the test relies on (``keras.Model.count_params``,
``evaluate``, the traceback display, the test module itself).  Here the hidden
test cells only *collect*: each check function is declared with the names it
reads (``@uses("model", "result")``); in a grading kernel (``AUTOGRADER_EVIDENCE``
set) calling it writes those variables to the evidence folder as plain data —
a Keras model as a ``.keras`` file, arrays as ``.npy``, a History as its numbers,
each displayed figure as the data of its axes, lines, legends and images — and
judges nothing.

After the notebook has run, ``verdicts`` runs in the grading process (never the
kernel): it reads the source notebook (trusted) to know which checks each graded
cell calls, rebuilds a namespace from the evidence (``keras.saving.load_model``
with ``safe_mode=True``, ``numpy.load`` without pickles, JSON) and runs the same
check functions on it.  The data set, parameter counts and accuracies are
measured there.  What the kernel printed or raised in a test cell no longer
counts; the verdict replaces it.

Forging evidence means writing down a real model, real arrays and real figure
data; the checks then compare them with each other and with the checker's own
measurements (a History against its model's validation loss and step count, a
figure against the History, ``score`` against the model evaluated on the test
set), so a forgery that passes is the honest work.
"""
from __future__ import annotations

import functools
import importlib
import json
import os
import re
import shutil
from pathlib import Path

EVIDENCE_ENV = "AUTOGRADER_EVIDENCE"
FIGURES = "__figures__"
"""Key of the displayed figures (oldest first) in a namespace rebuilt from evidence."""

MANIFEST = "manifest.json"
MAX_FIGURES = 20
MAX_JSON_BYTES = 2 * 2**20


# ---- in the grading kernel ---------------------------------------------------------------------------------


def collecting() -> Path | None:
    """The evidence folder when this process is a grading kernel, else None."""
    folder = os.environ.get(EVIDENCE_ENV)
    return Path(folder) if folder else None


def uses(*names: str, figures: bool = False):
    """Declare the variables a check reads; in a grading kernel, calling it collects them instead of judging.

    The undecorated check stays reachable as ``check.__wrapped__`` (what ``judge`` runs).
    """
    def decorate(check):
        key = f"{check.__module__.rsplit('.', 1)[-1]}.{check.__name__}"

        @functools.wraps(check)
        def run(ns, *args, **kwargs):
            folder = collecting()
            if folder is None:
                return check(ns, *args, **kwargs)
            collect(folder / key, ns, names, figures)
            return None

        run.evidence_key = key
        return run

    return decorate


def collect(folder: Path, ns: dict, names: tuple[str, ...], figures: bool) -> None:
    """Write ``ns[name]`` for each of ``names`` (and the displayed figures) into ``folder``.

    Never raises: a failure of this code (not of the student's values, which are described as what they
    are) is written down as ``toolkit_error``, and the verdict then reports the toolkit's error to the
    instructor instead of telling the student the cell did not run.
    """
    try:
        manifest = _collect(folder, ns, names, figures)
        text = json.dumps(manifest, ensure_ascii=False)
    except Exception as e:  # noqa: BLE001 -- our own failure, reported by the verdict as the toolkit's
        import traceback

        text = json.dumps({"names": {}, TOOLKIT_ERROR: "".join(traceback.format_exception(e))[-3000:]})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(text, encoding="utf-8")


TOOLKIT_ERROR = "toolkit_error"
"""Manifest key: collecting failed in the toolkit's own code (the traceback)."""


def _collect(folder: Path, ns: dict, names: tuple[str, ...], figures: bool) -> dict:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    manifest: dict = {"names": {}}
    for name in names:
        value = ns.get(name, _MISSING)
        try:
            manifest["names"][name] = _dump(folder, name, value, ns, names)
        except Exception as e:  # noqa: BLE001 -- a value that cannot be written down is judged as what it is not
            manifest["names"][name] = {**_opaque(value), "error": f"{type(e).__name__}: {str(e)[:300]}"}
    if figures:
        from autograder.grading.kernel import capture

        shown = capture.figures() if capture.is_installed() else []
        manifest["figures"] = []
        for i, figure in enumerate(shown[-MAX_FIGURES:]):
            # a figure we cannot describe is our error (reported as the toolkit's), never "not shown"
            manifest["figures"].append(_describe_figure(folder, f"figure{i}", figure))
    return manifest


class _Missing:
    pass


_MISSING = _Missing()


def _opaque(value) -> dict:
    try:
        text = repr(value)[:300]
    except Exception:  # noqa: BLE001 -- a student's object whose repr fails is still described
        text = "?"
    return {"kind": "opaque", "type": type(value).__name__, "repr": text}


def _save_model(folder: Path, file: str, model) -> dict:
    import keras

    try:
        keras.saving.save_model(model, folder / file)
    except Exception as e:  # noqa: BLE001 -- a model Keras cannot save is judged as not a model
        return {**_opaque(model), "error": f"{type(e).__name__}: {str(e)[:300]}"}
    return {"kind": "model", "file": file}


def _is_model(value) -> bool:
    try:
        import keras
    except ImportError:
        return False
    return isinstance(value, keras.Model)


def _plain(value):
    """``value`` as JSON data (numbers, strings, lists of them), or raise ``TypeError``."""
    import numpy as np

    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, (list, tuple)) and len(value) <= 10_000:
        return [_plain(v) for v in value]
    raise TypeError(type(value).__name__)


def _dump(folder: Path, name: str, value, ns: dict, names: tuple[str, ...]) -> dict:
    import numpy as np

    if value is _MISSING:
        return {"kind": "missing"}
    if _is_model(value):
        return _save_model(folder, f"{name}.keras", value)
    history, params = getattr(value, "history", None), getattr(value, "params", None)
    if isinstance(history, dict) and not isinstance(value, dict):
        entry = {"kind": "history", "type": type(value).__name__,
                 "history": {str(k): [float(x) for x in v] for k, v in history.items()},
                 "params": {k: v for k, v in (params or {}).items() if isinstance(v, (int, float, str, type(None)))}}
        trained = getattr(value, "model", None)
        if "model" in names and trained is not None and trained is ns.get("model"):
            entry["model"] = {"same_as": "model"}
        elif _is_model(trained):
            entry["model"] = _save_model(folder, f"{name}.model.keras", trained)
        return entry
    try:
        data = _plain(value)
        text = json.dumps(data)
        if len(text) <= MAX_JSON_BYTES:
            return {"kind": "json", "value": data, "type": type(value).__name__}
    except (TypeError, ValueError):
        pass
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001
        return _opaque(value)
    if array.dtype.kind not in "biuf":
        return _opaque(value)
    np.save(folder / f"{name}.npy", array, allow_pickle=False)
    return {"kind": "array", "file": f"{name}.npy", "type": type(value).__name__}


def _describe_figure(folder: Path, stem: str, figure) -> dict:
    import numpy as np

    axes = []
    for a, ax in enumerate(figure.axes):
        spec = ax.get_subplotspec()
        # the grid cell in the figure's own grid: a colorbar nests its parent in a sub-grid, twin axes share the cell
        spec = spec.get_topmost_subplotspec() if spec is not None else None
        legend = ax.get_legend()
        images = []
        for i, image in enumerate(ax.get_images()):
            file = f"{stem}.ax{a}.image{i}.npy"
            np.save(folder / file, np.asarray(image.get_array()), allow_pickle=False)
            images.append({"file": file, "cmap": image.get_cmap().name})
        axes.append({
            # matplotlib gives NumPy integers here: plain ints, or the manifest would not serialise
            "geometry": [int(v) for v in spec.get_geometry()] if spec is not None else None,
            "colspan_start": int(spec.colspan.start) if spec is not None else None,
            "rowspan_start": int(spec.rowspan.start) if spec is not None else None,
            "label": str(ax.get_label())[:200],  # '<colorbar>' marks a colorbar's axes
            "lines": [{"label": str(line.get_label()),
                       "ydata": [float(y) for y in np.asarray(line.get_ydata(), dtype=float).ravel()[:100_000]]}
                      for line in ax.get_lines()],
            "legend": None if legend is None else [text.get_text() for text in legend.get_texts()],
            "images": images,
        })
    return {"size": [float(v) for v in figure.get_size_inches()], "axes": axes}


# ---- in the grading process: rebuild and judge -------------------------------------------------------------


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


class _Legend:
    def __init__(self, texts: list[str]):
        self._texts = [_Text(str(t)) for t in texts]

    def get_texts(self) -> list:
        return self._texts


class _Line:
    def __init__(self, label: str, ydata: list[float]):
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
    def __init__(self, entry: dict, folder: Path):
        import numpy as np

        geometry = entry.get("geometry")
        self._spec = (_SubplotSpec(geometry, entry.get("colspan_start") or 0, entry.get("rowspan_start") or 0)
                      if geometry else None)
        self._label = str(entry.get("label", ""))
        self._lines = [_Line(str(line["label"]), [float(y) for y in line["ydata"]]) for line in entry.get("lines", [])]
        self._legend = None if entry.get("legend") is None else _Legend(entry["legend"])
        self._images = [_Image(np.load(_inside(folder, image["file"]), allow_pickle=False), str(image["cmap"]))
                        for image in entry.get("images", [])]

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

    def __init__(self, entry: dict, folder: Path):
        self._size = tuple(float(v) for v in entry["size"])
        self.axes = [_Axes(ax, folder) for ax in entry.get("axes", [])]

    def get_size_inches(self):
        return self._size


class EvidenceRefused(Exception):
    """Evidence that our own collecting cannot have written (a file name leaving the folder, a symlink, a
    manifest of the wrong shape): the student's process tampered with it, and the check earns nothing."""


def _inside(folder: Path, file: str) -> Path:
    """``folder / file``, refusing names that leave the folder (the evidence is the student's to write)."""
    if not isinstance(file, str):
        raise EvidenceRefused(f"bad evidence file name: {file!r}")
    path = folder / file
    if "/" in file or "\\" in file or file.startswith(".") or path.is_symlink():
        raise EvidenceRefused(f"bad evidence file name: {file!r}")
    return path


def _load_model(folder: Path, entry: dict):
    import keras

    path = _inside(folder, entry.get("file"))  # a name leaving the folder is tampering, not a broken model
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as e:  # noqa: BLE001 -- what cannot be loaded safely is not a model
        return _opaque_value({"type": "壊れたモデル", "repr": f"{type(e).__name__}: {str(e)[:200]}"})


def load(folder: Path) -> dict:
    """The namespace a check sees, rebuilt from the evidence in ``folder`` (missing names stay missing)."""
    import numpy as np

    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise EvidenceRefused(f"unreadable manifest: {type(e).__name__}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("names", {}), dict):
        raise EvidenceRefused("a manifest of the wrong shape")
    if manifest.get(TOOLKIT_ERROR):
        raise ToolkitFault(f"collecting the evidence failed in the kernel:\n{manifest[TOOLKIT_ERROR]}")
    ns: dict = {}
    pending_history = []
    for name, entry in manifest.get("names", {}).items():
        if not isinstance(entry, dict):
            raise EvidenceRefused(f"an entry of the wrong shape: {name!r}")
        kind = entry.get("kind")
        if kind == "missing":
            continue
        if kind == "model":
            ns[name] = _load_model(folder, entry)
        elif kind == "history":
            pending_history.append((name, entry))
        elif kind == "json":
            ns[name] = entry["value"]
        elif kind == "array":
            ns[name] = np.load(_inside(folder, entry["file"]), allow_pickle=False)
        else:
            ns[name] = _opaque_value(entry)
    for name, entry in pending_history:
        trained = entry.get("model") or {}
        if trained.get("same_as") == "model":
            model = ns.get("model")
        elif trained.get("kind") == "model":
            model = _load_model(folder, trained)
        else:
            model = None
        ns[name] = HistoryView({str(k): [float(x) for x in v] for k, v in entry["history"].items()},
                               dict(entry.get("params") or {}), model)
    if "figures" in manifest:
        ns[FIGURES] = [FigureView(figure, folder) for figure in manifest["figures"]]
    return ns


_IMPORT = re.compile(r"^\s*from\s+autograder\.checks\s+import\s+(\w+)\s+as\s+(\w+)\s*$", re.MULTILINE)
_CALL = re.compile(r"^\s*(\w+)\.(check_\w+)\(\s*globals\(\)\s*\)\s*$", re.MULTILINE)


def checks_of(source: str) -> list[tuple[str, str]]:
    """``(module, function)`` of every toolkit check a test cell's source calls, in order."""
    aliases = {alias: module for module, alias in _IMPORT.findall(source)}
    return [(aliases[alias], function) for alias, function in _CALL.findall(source) if alias in aliases]


NOT_RUN = ("この問題の採点用セルが実行されませんでした（それより前のセルで止まったか、時間切れです）。"
           "上から順にすべてのセルがエラーなく動くか確かめましょう。")


TOOLKIT = "ToolkitError"
"""``ename`` of a verdict the toolkit could not reach: its own code failed (never the student's lost point)."""

TAMPERED = ("採点用の記録が書き換えられていたため、この問題は採点できません（0点）。"
            "ノートブックの中で採点用のフォルダ (.autograder-evidence) に触れないでください。")


class ToolkitFault(Exception):
    """The toolkit's own code failed while collecting or judging: a grading error for the instructor."""


def judge(folder: Path, module: str, function: str) -> tuple[str, str] | None:
    """Run one check on its evidence: None if it passes, else ``(exception name, message)``.

    ``(TOOLKIT, why)`` when the toolkit itself failed: the check module would not import, collecting
    failed in the kernel, or the check raised anything but ``CheckFailed`` on the evidence (a value or a
    layer type it did not expect) — the grading process then records the submission as an error for
    the instructor, not a student's 0.
    """
    from autograder.checks.errors import CheckFailed

    where = folder / f"{module}.{function}"
    if not (where / MANIFEST).is_file():
        return "NotAttempted", NOT_RUN
    try:
        check = getattr(importlib.import_module(f"autograder.checks.{module}"), function)
    except Exception as e:  # noqa: BLE001 -- the toolkit's own module: its failure is ours
        return TOOLKIT, f"autograder.checks.{module}.{function} を読み込めません / cannot import: {type(e).__name__}: {e}"
    try:
        ns = load(where)
        getattr(check, "__wrapped__", check)(ns)
    except CheckFailed as e:
        return type(e).__name__, str(e)
    except EvidenceRefused:
        return "CheckFailed", TAMPERED
    except Exception as e:  # noqa: BLE001 -- anything else is a fault of the toolkit, reported as such
        import traceback

        detail = "".join(traceback.format_exception(e))[-1500:]
        return TOOLKIT, f"{module}.{function}: {type(e).__name__}: {str(e)[:300]}\n{detail}"
    return None


def verdicts(source_notebook: Path, folder: Path) -> dict[str, tuple[str, str] | None]:
    """grade_id → verdict (None: passed) for every graded test cell of the source that calls toolkit checks."""
    import nbformat

    notebook = nbformat.read(source_notebook, as_version=4)
    results: dict[str, tuple[str, str] | None] = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
            continue
        calls = checks_of(cell.source)
        if not calls:
            continue
        verdict = None
        for module, function in calls:
            verdict = judge(folder, module, function)
            if verdict is not None:
                break
        results[meta["grade_id"]] = verdict
    return results


def apply(notebook, results: dict[str, tuple[str, str] | None]) -> None:
    """Replace what the kernel said in each judged test cell with the verdict (an error output if it failed).

    The cell's printed output stays for the student to read; errors raised in the
    kernel (a failed self-check, a forged traceback) are dropped, except the
    time-out error of a cell that did not finish, which ``grade`` reports.
    """
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if cell.cell_type != "code" or grade_id not in results:
            continue
        verdict = results[grade_id]
        outputs = [o for o in cell.get("outputs", []) if o.get("output_type") != "error"
                   or (verdict is not None and o.get("ename") == "CellTimeoutError")]
        if verdict is not None and not any(o.get("output_type") == "error" for o in outputs):
            import nbformat

            ename, message = verdict
            outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=message, traceback=[f"{ename}: {message}"]))
        cell.outputs = outputs

