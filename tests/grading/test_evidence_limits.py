"""Crafted evidence files: each costs its own check the point (tampering), never the grading machine its memory or time.

The evidence folders are written by hand, as a student's code could write them into ``.autograder-evidence`` from
inside the kernel.  The crafted ones are judged in a fresh Python process, whose peak memory (``ru_maxrss``) shows
what reading them cost; an honest folder is judged there too, and honest evidence collected from a real Keras model
still loads.
"""
from __future__ import annotations

import io
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from autograder.grading import evidence_limits, verdicts
from autograder.grading.kernel import evidence

MODULE, FUNCTION = "autograder.grading.canary_checks", "check_fails"
"""An engine check that reads ``answer`` (and fails unless it is 43, with its own message): judging it needs no Keras."""

KEY = evidence.evidence_key(MODULE, FUNCTION)
HONEST_VERDICT = ("CheckFailed", "answer は 43 ではありません（カナリアの失敗するはずの検査）。")


def _evidence(root: Path, entry: dict | None = None) -> Path:
    """The check's evidence folder in ``root``, its manifest naming ``answer`` as ``entry`` (none if None)."""
    folder = root / KEY
    folder.mkdir(parents=True)
    if entry is not None:
        (folder / evidence.MANIFEST).write_text(json.dumps({"names": {"answer": entry}}))
    return folder


def _zip(path: Path, members: list[tuple[str, int, bytes, int]]) -> None:
    """A zip written by hand: ``(name, method, stored bytes, expanded size)`` each, so a member can be a stream
    prepared once (CRC 0: a reader that checks it finds out only after expanding everything)."""
    with path.open("wb") as f:
        table = b""
        for name, method, data, size in members:
            offset, encoded = f.tell(), name.encode()
            crc = zlib.crc32(data) if method == zipfile.ZIP_STORED else 0
            f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size,
                                len(encoded), 0) + encoded + data)
            table += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                                 len(encoded), 0, 0, 0, 0, 0, offset) + encoded
        start = f.tell()
        f.write(table + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(table), start, 0))


def _stored(name: str, data: bytes) -> tuple[str, int, bytes, int]:
    return name, zipfile.ZIP_STORED, data, len(data)


def _zeros_deflated(mebibytes: int) -> bytes:
    """A deflate stream of ``mebibytes`` MiB of zeros, made in milliseconds: after a full flush every MiB compresses
    to the same bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(2**20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return piece * mebibytes + compressor.flush()


MODEL_CONFIG = json.dumps({"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
    {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "i"}},
    {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": 1}}]}}).encode()
"""A real model's config (4→1), so that Keras, given the crafted weights, goes on to read them."""

ZIP_BOMB_MIB = 2047
"""The zip bomb's member: 2047 MiB of zeros (just under zip64), 2 MB in the zip; under Keras's own 4 GiB floor."""


def zip_bomb(root: Path) -> None:
    folder = _evidence(root, {"kind": "model", "file": "answer.keras"})
    _zip(folder / "answer.keras", [_stored("metadata.json", b"{}"), _stored("config.json", MODEL_CONFIG),
                                   ("model.weights.h5", zipfile.ZIP_DEFLATED, _zeros_deflated(ZIP_BOMB_MIB),
                                    ZIP_BOMB_MIB * 2**20)])


def h5_shape_bomb(root: Path) -> None:
    """A stored weights file of 4 KB whose chunked, compressed dataset declares 822 MB (never written: fill value)."""
    import h5py

    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5:  # laid out as Keras writes the weights of MODEL_CONFIG
        h5.create_group("vars")
        h5.create_dataset("layers/dense/vars/0", shape=(784, 2**18), dtype="f4", chunks=(784, 1024),
                          compression="gzip", fillvalue=0)
        h5.create_dataset("layers/dense/vars/1", shape=(1,), dtype="f4")
    folder = _evidence(root, {"kind": "model", "file": "answer.keras"})
    _zip(folder / "answer.keras", [_stored("metadata.json", b"{}"), _stored("config.json", MODEL_CONFIG),
                                   _stored("model.weights.h5", weights.getvalue())])


def npy_huge_header(root: Path) -> None:
    folder = _evidence(root, {"kind": "array", "file": "answer.npy"})
    with (folder / "answer.npy").open("wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
        f.write(bytes(80))


def npy_objects(root: Path) -> None:
    folder = _evidence(root, {"kind": "array", "file": "answer.npy"})
    np.save(folder / "answer.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


def manifest_50mb(root: Path) -> None:
    folder = _evidence(root)
    with (folder / evidence.MANIFEST).open("w") as f:  # written in pieces: the test itself stays small
        f.write('{"names": {"answer": {"kind": "json", "value": "')
        for _ in range(50):
            f.write("x" * 10**6)
        f.write('"}}}')


def manifest_nested(root: Path) -> None:
    folder = _evidence(root)
    (folder / evidence.MANIFEST).write_text('{"names": {"answer": {"kind": "json", "value": ' + "[" * 100_000
                                            + "]" * 100_000 + "}}}")


def manifest_200_deep(root: Path) -> None:
    """Nested deeper than the bound but not than Python's recursion limit: parsed, then measured."""
    folder = _evidence(root)
    (folder / evidence.MANIFEST).write_text('{"names": {"answer": {"kind": "json", "value": ' + "[" * 200 + "]" * 200
                                            + "}}}")


def too_many_files(root: Path) -> None:
    folder = _evidence(root, {"kind": "json", "value": 42})
    for i in range(evidence_limits.MAX_EVIDENCE_FILES):
        (folder / f"junk{i}").touch()


def fifo(root: Path) -> None:
    """A FIFO under an array's name: whoever opens it waits for a writer that never comes (the kernel is gone)."""
    folder = _evidence(root, {"kind": "array", "file": "answer.npy"})
    os.mkfifo(folder / "answer.npy")


def honest(root: Path) -> None:
    _evidence(root, {"kind": "json", "value": 42})


CRAFTED = {
    zip_bomb: "model.weights.h5 expands from 2122741 to 2146435072 bytes",
    h5_shape_bomb: "declare 822083584 bytes over 0 stored",
    npy_huge_header: r"claiming shape \(1000000000000,\) of float64, 8000000000000 bytes",
    npy_objects: "dtype object",
    manifest_50mb: "a manifest of 50000052 bytes",
    manifest_nested: "JSON nested deeper than Python parses",
    manifest_200_deep: "JSON nested more than 100 deep",
    too_many_files: "more than 10000 files",
    fifo: r"not a plain file\): 'answer.npy'",
}
"""Each crafted folder, and the reason its refusal gives (for the grading log; the student reads ``TAMPERED``)."""


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Every case's evidence root, built once (a few MB on disk in all)."""
    built = {}
    for make in (*CRAFTED, honest):
        built[make.__name__] = root = tmp_path_factory.mktemp(make.__name__)
        make(root)
    return built


@pytest.mark.parametrize("make", CRAFTED, ids=lambda make: make.__name__)
def test_each_crafted_file_is_refused_with_its_reason(folders, make):
    """Is each crafted file refused as tampering by its own check, saying what it claimed?"""
    with pytest.raises(evidence_limits.EvidenceRefused, match=CRAFTED[make]):
        verdicts.load(folders[make.__name__] / KEY)


def test_the_bombs_are_real(folders):
    """Do the crafted files claim what they say: 2 GiB of zeros behind 2 MB of zip, 8 TB behind an 80-byte array?"""
    bomb = folders["zip_bomb"] / KEY / "answer.keras"
    assert bomb.stat().st_size < 3 * 2**20
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo("model.weights.h5").file_size == ZIP_BOMB_MIB * 2**20
        with archive.open("model.weights.h5") as member:
            assert member.read(2**20) == bytes(2**20)  # really zeros: read whole, it would be 2 GiB
    with (folders["npy_huge_header"] / KEY / "answer.npy").open("rb") as f:
        np.lib.format.read_magic(f)
        assert np.lib.format.read_array_header_1_0(f)[0] == (10**12,)


JUDGE_ALL = """
import json, resource, sys, time
from pathlib import Path
import h5py, numpy  # what judging imports anyway: not counted as its cost
from autograder.grading import verdicts
import autograder.grading.canary_checks
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
results = {}
for case, root in json.loads(sys.argv[1]).items():
    started = time.monotonic()
    results[case] = [verdicts.judge(Path(root), sys.argv[2], sys.argv[3]), time.monotonic() - started]
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"results": results, "grew_kb": grew, "before_kb": before}))
"""


def test_crafted_evidence_costs_its_check_not_the_machine(folders):
    """Judged in a fresh process: does each crafted folder cost its check the point with the tampering message, the
    honest one get its own verdict, and the process's peak memory grow by less than 32 MB, each case in a second?"""
    done = subprocess.run([sys.executable, "-c", JUDGE_ALL, json.dumps({k: str(v) for k, v in folders.items()}),
                           MODULE, FUNCTION], capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    verdicts_seen = {case: tuple(verdict) for case, (verdict, _) in report["results"].items()}
    assert verdicts_seen == {**{make.__name__: ("CheckFailed", verdicts.TAMPERED) for make in CRAFTED},
                             "honest": HONEST_VERDICT}
    assert report["grew_kb"] < 32 * 1024, report  # the zip bomb alone would be 2 GiB, the long manifest 50 MB
    assert max(seconds for _, seconds in report["results"].values()) < 1.0, report


def test_honest_evidence_from_a_real_model_still_loads(tmp_path):
    """Does evidence collected from a trained Keras model, an array and a figure pass every bound and load back, and
    does Keras store the .keras members uncompressed, as the expansion checks assume?"""
    import keras
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autograder.grading.kernel import capture

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(100, 30)).astype("float32")
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="Adam")
    result = model.fit(x, (x[:, 0] > 0).astype("float32"), epochs=2, validation_split=0.2, verbose=0)
    capture.install()
    plt.figure()
    plt.imshow(np.arange(784, dtype="uint8").reshape(28, 28), "gray")
    plt.close("all")
    evidence.collect(tmp_path, {"model": model, "result": result, "x": x}, ("model", "result", "x"), figures=True)

    rebuilt = verdicts.load(tmp_path)
    assert rebuilt["model"].count_params() == model.count_params()
    assert rebuilt["result"].model is rebuilt["model"] and np.array_equal(rebuilt["x"], x)
    assert rebuilt[evidence.FIGURES][-1].axes[0].get_images()[0].get_array().shape == (28, 28)
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        assert {m.compress_type for m in archive.infolist()} == {zipfile.ZIP_STORED}
    assert evidence_limits.check_model(tmp_path / "model.keras") < 2**20


def test_the_bounds_sit_above_the_largest_honest_evidence():
    """Do the bounds leave at least twice the largest evidence an honest (if wrong) notebook makes?  課題3's x_train
    as float64 (60,000 × 784), with x_test beside it in one check's folder; a value nested as deep as collecting
    writes; the course's largest model."""
    x_train, x_test = 60_000 * 784 * 8, 10_000 * 784 * 8
    assert evidence_limits.MAX_ARRAY_BYTES >= 2 * x_train
    assert evidence_limits.MAX_EVIDENCE_BYTES >= 2 * (x_train + x_test)
    assert evidence_limits.MAX_JSON_DEPTH >= 2 * (3 + evidence.MAX_PLAIN_DEPTH)
    assert evidence_limits.MAX_MODEL_BYTES >= 100 * 5_700_000
    assert evidence.MAX_MANIFEST_BYTES <= evidence_limits.MAX_EVIDENCE_BYTES


def test_collecting_keeps_its_manifest_within_the_bound(tmp_path):
    """Does the collecting leave out the oldest figures (and their images) when the manifest would be too long, so that
    the grading process never refuses honest evidence, and nest lists no deeper than it reads back?"""
    figures = []
    for i in range(12):
        (tmp_path / f"figure{i}.ax0.image0.npy").write_bytes(b"")
        figures.append({"size": [6.0, 4.0], "axes": [{"lines": [{"label": "x" * 2 * 2**20, "ydata": [float(i)]}],
                                                      "images": [{"file": f"figure{i}.ax0.image0.npy", "cmap": "gray"}]}]})
    text = evidence._fitting(tmp_path, {"names": {}, "figures": list(figures)})
    kept = json.loads(text)["figures"]
    assert len(text.encode()) <= evidence.MAX_MANIFEST_BYTES and 0 < len(kept) < 12
    assert kept == figures[-len(kept):]  # the newest, which the checks read
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"figure{i}.ax0.image0.npy"
                                                                for i in range(12 - len(kept), 12))
    nested: list = [1.0]
    for _ in range(40):
        nested = [nested]
    with pytest.raises(TypeError):
        evidence._plain(nested)  # saved as an array instead, never as JSON deeper than MAX_PLAIN_DEPTH


def _spin(seconds: float) -> int:
    """Compute (no sleeping) for ``seconds`` of this process's CPU time; returns a number so nothing is optimised out."""
    started, total = time.process_time(), 0
    while time.process_time() - started < seconds:
        total += sum(range(1000))
    return total


def test_judging_stops_at_its_cpu_limit_even_if_an_except_swallows_it():
    """Does the CPU-time limit end a judging that computes for ever, even after a bare ``except:`` (as in Keras) once
    swallowed it, and leave no timer behind?"""
    started, handler = time.process_time(), signal.getsignal(signal.SIGPROF)
    with pytest.raises(evidence_limits.JudgingOverLimit, match="judging used more than its 0.2 s of CPU time"):
        with evidence_limits.judging_limits(cpu_seconds=0.2, memory_bytes=2**30):
            try:
                _spin(5)
            except BaseException:  # noqa: BLE001 -- what a bare except in a library would do
                pass
            _spin(60)
    assert time.process_time() - started < 2
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGPROF) == handler


def test_a_busy_host_delays_a_grade_but_does_not_change_it(tmp_path, monkeypatch):
    """Does the grading child judge a submission the same on a loaded host as alone, although the judging then takes
    longer on the wall clock than its whole limit?  (A fake load, spinning processes on every core, and a small judge
    that needs 0.1 s of CPU and waits 0.6 s for a core, under a limit of 0.4 s: not a whole batch.)"""
    import nbformat

    from autograder.grading import child

    graded = tmp_path / "autograded" / child.PLACEHOLDER / "kadai9" / "kadai9.ipynb"
    graded.parent.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), graded)
    box = SimpleNamespace(evidence=tmp_path / "evidence", limits=SimpleNamespace(memory_mb=512))

    def small_judge(source, folder, assignment):
        time.sleep(0.6)  # off the CPU, as a judge starved by a busy host is: wall time passes, its CPU time does not
        _spin(0.1)
        return {"q1": None, "q2": ("CheckFailed", "まちがい")}

    monkeypatch.setattr(evidence_limits, "JUDGING_CPU_SECONDS", 0.4)
    monkeypatch.setattr(verdicts, "verdicts", small_judge)
    alone = child._judge(tmp_path, "kadai9", box)
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        started = time.monotonic()
        loaded = child._judge(tmp_path, "kadai9", box)
        took = time.monotonic() - started
    finally:
        for process in load:
            process.kill()
            process.wait()
    assert alone == loaded == {"judged": ["q1", "q2"], "toolkit_errors": []}
    assert took > 0.4  # past the limit on the wall clock, within it in CPU time


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="the memory limit needs /proc (Linux)")
def test_judging_stops_at_its_memory_limit_and_restores_it():
    """Does an allocation beyond the judging's memory end it with a message, and the limit come off afterwards?"""
    before = resource.getrlimit(resource.RLIMIT_AS)
    with pytest.raises(evidence_limits.JudgingOverLimit, match="memory limit of 256 MB"):
        with evidence_limits.judging_limits(cpu_seconds=60, memory_bytes=256 * 2**20):
            np.ones(4 * 2**30, dtype=np.uint8)
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_the_child_reports_judging_over_its_limit_as_an_error(tmp_path, monkeypatch):
    """When judging runs past its time, does the grading child report the submission as not graded, naming the limit?"""
    from autograder.grading import child

    graded = tmp_path / "autograded" / child.PLACEHOLDER / "kadai9" / "kadai9.ipynb"
    graded.parent.mkdir(parents=True)
    graded.write_text("{}")
    monkeypatch.setattr(evidence_limits, "JUDGING_CPU_SECONDS", 0.2)
    monkeypatch.setattr(verdicts, "verdicts", lambda source, folder, assignment: _spin(5))
    box = SimpleNamespace(evidence=tmp_path / "evidence", limits=SimpleNamespace(memory_mb=512))
    outcome = child._judge(tmp_path, "kadai9", box)
    assert outcome == {"success": False,
                       "error": "判定が処理時間の上限 (CPU 0.2 秒) を超えました / judging used more than its 0.2 s of CPU time"}
