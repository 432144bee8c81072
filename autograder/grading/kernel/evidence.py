"""Evidence, collected in the student's grading kernel: what a hidden test cell leaves behind, as plain data.

Plain nbgrader runs hidden tests in the student's own kernel, where the student's
code can replace anything the test relies on (``keras.Model.count_params``,
``evaluate``, the traceback display, the test module itself).  Here the hidden
test cells only *collect*: each check function is declared with the names it
reads (``@uses("model", "result")``); in a grading kernel (``AUTOGRADER_EVIDENCE``
set) calling it writes those variables to the evidence folder as plain data —
a Keras model as a ``.keras`` file and as a plain record of its layers, weights and predictions
(``model_record``) with a sample of what each ``fit`` trained it on (``fit_record``),
arrays as ``.npy``, a History as its numbers,
each displayed figure as the data of its axes, lines, legends and images — and
judges nothing.  The verdict is computed elsewhere (``autograder.grading.verdicts``).

Each check's evidence goes to a folder named by its explicit key, the check's full
name (``autograder.checks.kadai5.check_model``), which is also how the source
notebook's test cell names it.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path

EVIDENCE_ENV = "AUTOGRADER_EVIDENCE"
FIGURES = "__figures__"
"""Key of the displayed figures (oldest first) in a namespace rebuilt from evidence."""

ASSIGNMENT = "__assignment__"
"""Key of the assignment's settings (its ``AssignmentConfig``: thresholds…) in the namespace a check is judged on: set
by the judging code from the course, never read from evidence (``verdicts.load`` refuses a manifest naming it)."""

MANIFEST = "manifest.json"
MAX_FIGURES = 20
MAX_JSON_BYTES = 2 * 2**20
"""A value whose JSON is longer than this is saved as an array (or described as opaque), not written into the manifest."""

MAX_PLAIN_DEPTH = 32
"""Lists nested deeper than this are not JSON data here (saved as an array, or described as opaque): what the grading
process reads back stays far from Python's recursion limit (``autograder.grading.evidence_limits.MAX_JSON_DEPTH``)."""

MAX_MANIFEST_BYTES = 8 * 2**20
"""The longest manifest this collecting writes (UTF-8 bytes): over it, the oldest figures are left out first (the checks
read the last ones).  Typical manifests are a few kilobytes; the bound leaves room for four lines of 100,000 points,
or four values of ``MAX_JSON_BYTES``.  The grading process refuses a longer one unread
(``autograder.grading.evidence_limits``): parsing JSON takes up to 30 times its length in memory."""


def collecting() -> Path | None:
    """The evidence folder when this process is a grading kernel, else None."""
    folder = os.environ.get(EVIDENCE_ENV)
    return Path(folder) if folder else None


def evidence_key(module: str, function: str) -> str:
    """The name of a check's evidence folder: the check's full name, as the test cell calls it."""
    return f"{module}.{function}"


def uses(*names: str, figures: bool = False):
    """Declare the variables a check reads; in a grading kernel, calling it collects them instead of judging.

    The undecorated check stays reachable as ``check.__wrapped__`` (what ``judge`` runs).
    """
    def decorate(check):
        key = evidence_key(check.__module__, check.__name__)

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


def collect_for(ns: dict, key: str, names: tuple[str, ...], figures: bool = False) -> None:
    """In a grading kernel, what a plain hidden test's block became (``autograder.grading.hidden_tests.for_kernel``):
    write ``names`` of ``ns`` (and the displayed figures) into the evidence folder ``key``; elsewhere nothing."""
    folder = collecting()
    if folder is not None and "/" not in key and not key.startswith("."):
        collect(folder / key, ns, tuple(names), bool(figures))


def collect(folder: Path, ns: dict, names: tuple[str, ...], figures: bool) -> None:
    """Write ``ns[name]`` for each of ``names`` (and the displayed figures) into ``folder``.

    Never raises: a failure of this code (not of the student's values, which are described as what they
    are) is written down as ``toolkit_error``, and the verdict then reports the toolkit's error to the
    instructor instead of telling the student the cell did not run.
    """
    try:
        manifest = _collect(folder, ns, names, figures)
        text = _fitting(folder, manifest)
    except Exception as e:  # noqa: BLE001 -- our own failure, reported by the verdict as the toolkit's
        import traceback

        text = json.dumps({"names": {}, TOOLKIT_ERROR: "".join(traceback.format_exception(e))[-3000:]})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_text(text, encoding="utf-8")


TOOLKIT_ERROR = "toolkit_error"
"""Manifest key: collecting failed in the toolkit's own code (the traceback)."""


def _fitting(folder: Path, manifest: dict) -> str:
    """``manifest`` as JSON text of at most ``MAX_MANIFEST_BYTES``, leaving out the oldest figures (and their image
    files) while it is longer; raises ``ValueError`` if even without figures it is (never seen: its values are bounded)."""
    text = json.dumps(manifest, ensure_ascii=False)
    figures = manifest.get("figures") or []
    excess, dropped = len(text.encode("utf-8")) - MAX_MANIFEST_BYTES, 0
    while excess > 0 and dropped < len(figures):
        excess -= len(json.dumps(figures[dropped], ensure_ascii=False).encode("utf-8")) + len(", ")
        dropped += 1
    if dropped:
        for figure in figures[:dropped]:
            for ax in figure["axes"]:
                for image in ax["images"]:
                    (folder / image["file"]).unlink(missing_ok=True)
        manifest["figures"] = figures[dropped:]
        text = json.dumps(manifest, ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_MANIFEST_BYTES:
        raise ValueError(f"the evidence manifest is longer than {MAX_MANIFEST_BYTES} bytes")
    return text


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
    """``model`` as Keras's own file and as a plain record (``autograder.grading.kernel.model_record``): the grading
    process reloads the file, and rebuilds the model from the record when Keras cannot reload it (an activation
    passed as a TensorFlow function, a subclassed model).  Opaque only if neither could be written."""
    import keras

    from autograder.grading.kernel import model_record

    entry: dict = {"kind": "model", "file": None, "record": None}
    try:
        keras.saving.save_model(model, folder / file)
        entry["file"] = file
    except Exception as e:  # noqa: BLE001 -- a model Keras cannot save may still be rebuilt from its record
        (folder / file).unlink(missing_ok=True)
        entry["save_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    try:
        entry["record"] = model_record.record(folder, file.removesuffix(".keras"), model)
    except Exception as e:  # noqa: BLE001 -- the student's model failed to describe itself: judged from the file alone
        entry["record_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    if entry["file"] is None and entry["record"] is None:
        return {**_opaque(model), "error": entry.get("save_error", "")}
    fits = _fits(folder, file.removesuffix(".keras"), model)
    if fits is not None:
        entry["fits"] = fits
    return entry


def _fits(folder: Path, stem: str, model) -> list[dict] | None:
    """What each ``fit`` of ``model`` trained on (``fit_record``): its rows and a sample of them as ``.npy`` files, for
    the grading process to compare with the data set; None if no fit of it was watched."""
    import numpy as np

    from autograder.grading.kernel import fit_record

    fits = []
    for i, fit in enumerate(fit_record.recorded(model) or ()):
        sample = None
        if fit.sample is not None:
            sample = f"{stem}.fit{i}.npy"
            np.save(folder / sample, np.asarray(fit.sample, dtype="float32"), allow_pickle=False)
        fits.append({"data": str(fit.data)[:100], "rows": fit.rows, "trained_rows": fit.trained_rows, "sample": sample})
    return fits or None


def _is_model(value) -> bool:
    try:
        import keras
    except ImportError:
        return False
    return isinstance(value, keras.Model)


def _plain(value, depth: int = 0):
    """``value`` as JSON data (numbers, strings, lists of them and dicts of them by string keys, nested at most
    ``MAX_PLAIN_DEPTH`` deep), or raise ``TypeError``."""
    import numpy as np

    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, (list, tuple)) and len(value) <= 10_000 and depth < MAX_PLAIN_DEPTH:
        return [_plain(v, depth + 1) for v in value]
    if (isinstance(value, dict) and len(value) <= 10_000 and depth < MAX_PLAIN_DEPTH
            and all(type(k) is str for k in value)):  # evaluate(return_dict=True), a student's table of results
        return {k: _plain(v, depth + 1) for k, v in value.items()}
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
    _save_array(folder / f"{name}.npy", array)
    return {"kind": "array", "file": f"{name}.npy", "type": type(value).__name__}


_WRITTEN: dict[tuple, Path] = {}
"""The arrays this kernel has written as evidence, by dtype, shape and a sample of their values.  Many checks read
the same data (kadai6's ``x_test`` in five cells, ``x_train`` in five): each check keeps its own folder and file,
but a later file with the same values is a hard link to the first, not another copy: kadai6's ten files of
``x_train`` and ``x_test`` (250 MB) take the disk of two (50 MB)."""

_SAMPLE = 4096
"""Values read to tell arrays apart before comparing them whole."""


def _save_array(path: Path, array) -> None:
    """``numpy.save(path, array)``, or a hard link to an earlier file of this kernel holding exactly the same
    values (compared whole, never by a digest alone: data changed in place, ``x[:10] = 0``, is written anew).
    A link that cannot be made (another file system, the earlier file gone or changed) is an ordinary save."""
    import numpy as np

    key = (array.dtype.str, array.shape, array.flat[::max(1, array.size // _SAMPLE)].tobytes())
    earlier = _WRITTEN.get(key)
    if earlier is not None:
        try:
            if np.array_equal(np.load(earlier, mmap_mode="r", allow_pickle=False), array):
                os.link(earlier, path)
                return
        except (OSError, ValueError):
            pass
    np.save(path, array, allow_pickle=False)
    _WRITTEN[key] = path


def _style(artist) -> dict:
    """How a line or a legend's handle looks: colour (hex), line style and marker, as strings ("" where it has none)."""
    from matplotlib.colors import to_hex

    def read(getter, convert=str):
        try:
            return convert(getattr(artist, getter)())
        except Exception:  # noqa: BLE001 -- an artist without this property (a patch, a collection) has none
            return ""

    return {"color": read("get_color", lambda c: to_hex(c, keep_alpha=False)), "linestyle": read("get_linestyle"),
            "marker": read("get_marker")}


def _legend_entries(legend, where: dict) -> list[dict]:
    """What a legend shows: each entry's text and the line it names, by its place ``[axes, line]`` in the figure when
    its handle is a drawn line (``plt.legend(['loss', 'val_loss'])``, ``fig.legend()``), else the handle's look (a
    proxy, as seaborn draws its legends)."""
    from autograder.grading.kernel.capture import HANDLES

    texts = [text.get_text() for text in legend.get_texts()]
    handles = list(getattr(legend, HANDLES, None) or [])  # the handles it was made from (kept by ``capture``)
    if len(handles) != len(texts):  # matplotlib's own: copies drawn in the legend box, matched by their look
        handles = list(getattr(legend, "legend_handles", None) or getattr(legend, "legendHandles", None) or [])
    entries = []
    for i, text in enumerate(texts):
        handle = handles[i] if i < len(handles) else None
        entries.append({"text": str(text), "line": where.get(id(handle)),
                        "style": _style(handle) if handle is not None else None})
    return entries


def _describe_figure(folder: Path, stem: str, figure) -> dict:
    import numpy as np

    where = {id(line): [a, i] for a, ax in enumerate(figure.axes) for i, line in enumerate(ax.get_lines())}
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
            "lines": [{"label": str(line.get_label()), **_style(line),
                       "ydata": [float(y) for y in np.asarray(line.get_ydata(), dtype=float).ravel()[:100_000]]}
                      for line in ax.get_lines()],
            "legend": None if legend is None else [text.get_text() for text in legend.get_texts()],
            "legend_entries": None if legend is None else _legend_entries(legend, where),
            "images": images,
        })
    return {"size": [float(v) for v in figure.get_size_inches()], "axes": axes,
            "legends": [_legend_entries(legend, where) for legend in getattr(figure, "legends", [])]}
