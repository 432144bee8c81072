"""What reading a check's evidence may cost the grading process: every file is measured before it is loaded.

In the grading process (outside the sandbox), ``autograder.grading.verdicts`` reads what the student's kernel
left in its evidence folder, which the student's code can write too.  A file our collecting
(``autograder.grading.kernel.evidence``) never writes — a ``.keras`` zip whose members expand to gigabytes, an
``.npy`` whose header claims more than the file holds, a manifest of 50 MB or nested 100,000 deep, a folder of a
million files, a FIFO that blocks whoever opens it — is tampering: ``EvidenceRefused``, and that check earns
nothing (the student's lost point, with the "evidence was tampered with" message), while the grading machine
pays only the few reads that found it out.  Nothing here raises for a fault of ours.

Each bound sits a fair margin above the largest evidence our collecting writes for an honest notebook, however
wrong (named beside each bound); the largest honest arrays are 課題3's ``x_train``: 60,000 × 784 values, 188 MB
as float32, 376 MB when a student divides by 255 without ``astype('float32')`` (float64).

What the size checks cannot see is bounded by ``judging_limits``: a model config of a few bytes can declare a
layer of a billion units, which Keras allocates while building the model.  The grading child judges a
submission under an address-space limit and a limit of CPU time (not wall time: a busy host must not decide a
grade), in its own process (one child per submission, see
``autograder.grading.child``) rather than a process of its own: a fresh process would import TensorFlow again
(2.7 s and 800 MB here, for every submission).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import stat
import struct
import zipfile
import zlib
from pathlib import Path

from autograder.grading.kernel.evidence import MAX_MANIFEST_BYTES

MAX_EVIDENCE_BYTES = 2 * 2**30
"""Bytes of one check's evidence: its folder on disk, and all that loading it reads (a file read twice counts
twice, a model what its members expand to).  Honest: at most 450 MB (課題3's ``check_reshape``, ``x_train`` and
``x_test`` as float64), and never more than the kernel's home (``sandbox_disk_mb``, 1 GiB by default)."""

MAX_EVIDENCE_FILES = 10_000
"""Entries in one check's evidence folder.  Honest: the manifest, one or two files per variable and one per image
of the last 20 figures (``MAX_FIGURES``): about 500 for twenty 5 × 5 grids of images."""

MAX_ARRAY_BYTES = 2**30
"""Data of one ``.npy`` (as its header declares it).  Honest: at most 376 MB (``x_train`` as float64)."""

MAX_NPY_HEADER_BYTES = 10_000
"""Length of an ``.npy`` header (NumPy's own default limit).  ``numpy.save`` writes 128 bytes for our arrays."""

ARRAY_KINDS = "biuf"
"""The dtype kinds our collecting saves as arrays (booleans and numbers; never objects, strings or records)."""

MAX_JSON_DEPTH = 100
"""Nesting of a manifest or a model's ``config.json``.  Honest: 3 for a manifest plus ``MAX_PLAIN_DEPTH`` (32) for a
value in it; about 10 for a Keras config (a few more for each model nested in a model).  Far below Python's recursion
limit (1,000), which a deeper value would reach in a check's ``repr`` as our own error."""

MAX_MODEL_BYTES = 2**30
"""What one ``.keras`` file's members expand to, together, and what its weights declare.  Honest: the course's
largest model (課題4 問8, 784→512→128→10) is 5.7 MB with its Adam state; a wrong one big enough to exceed 1 GiB
could not have been saved in the kernel's home."""

MAX_MODEL_MEMBERS = 64
"""Members of a ``.keras`` zip.  Keras writes three (``config.json``, ``metadata.json``, ``model.weights.h5``) and
``assets/`` files only for layers with vocabularies, which the course does not use."""

MAX_MODEL_CONFIG_BYTES = 4 * 2**20
"""A ``.keras`` file's ``config.json``.  Honest: about 1.5 KB per layer (a 1,000-layer model: 2 MB).  Parsed twice
(here, then by Keras), at up to 30 times its length each."""

MAX_CENTRAL_DIRECTORY_BYTES = 64 * 2**10
"""The zip's table of members, read before ``zipfile`` reads it whole.  Honest: under 1 KB."""

MAX_EXPANSION = 10
"""How much larger than stored a member or an HDF5 dataset may be once expanded (above ``EXPANSION_FLOOR``).
Keras stores its members uncompressed and its weights contiguous (1:1); deflate reaches about 1000:1 on zeros."""

EXPANSION_FLOOR = 2**20
"""Below this, expansion is not measured: a small member costs little whatever its ratio."""

MAX_H5_OBJECTS = 100_000
"""Groups and datasets in a model's weights file.  Honest: a few per layer and per optimizer variable."""

MODEL_MEMBERS = frozenset({"config.json", "metadata.json", "model.weights.h5"})
"""The members of a ``.keras`` file Keras writes (besides ``assets/``)."""

JUDGING_CPU_SECONDS = 120
"""Processor time for judging one submission (all its checks): CPU seconds of the grading child, all its threads
together, never wall-clock seconds, so that a busy host delays a verdict but does not change it (at load 30, two
correct 課題4 notebooks once ran past a wall-clock limit of 120 s and became errors; graded alone they got 20/20).
Honest: a check reloads a model in 0.05 s and evaluates it on 10,000 images in 0.5 s here, so 課題4's 13 checks take
about 15 s of wall time on 2 cores (estimated from these, not timed whole).  What bounds the wall time is the worker's
limit on the whole child (the notebook's limit plus ``autograder.grading.worker.GRACE_SECONDS``)."""

JUDGING_HEADROOM_BYTES = 2 * 2**30
"""Address space judging may take beyond the kernel's memory limit (``sandbox_memory_mb``; the evidence is a part
of what the kernel held): TensorFlow's threads reserve 1.2 GB on the first ``evaluate`` here, and the checks load
their own copy of the data."""


class EvidenceRefused(Exception):
    """Evidence that our own collecting cannot have written (a file name leaving the folder, a symlink, a manifest of
    the wrong shape, a file larger than its bound or claiming more than it holds): the student's process tampered with
    it, and the check earns nothing."""


class JudgingOverLimit(BaseException):
    """Judging one submission ran past its time or its memory limit: that submission is an ``error`` for the
    instructor, never a score.  A ``BaseException``, so that no broad ``except Exception`` on the way (ours, or
    Keras's) turns it into one check's failure."""


def inside(folder: Path, file: str) -> Path:
    """``folder / file``, a plain file of the folder; refuses names that leave it, symlinks, folders and FIFOs."""
    if not isinstance(file, str) or "/" in file or "\\" in file or file.startswith(".") or not file:
        raise EvidenceRefused(f"bad evidence file name: {file!r}")
    path = folder / file
    try:
        mode = path.lstat().st_mode
    except OSError:
        raise EvidenceRefused(f"bad evidence file name (no such file): {file!r}") from None
    if not stat.S_ISREG(mode):
        raise EvidenceRefused(f"bad evidence file name (not a plain file): {file!r}")
    return path


class Reading:
    """One check's evidence as the grading process reads it: the folder measured once, then every file measured
    before it is loaded and charged against ``MAX_EVIDENCE_BYTES``.  Each method raises ``EvidenceRefused``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.spent = 0
        if folder.is_symlink() or folder.parent.is_symlink():
            raise EvidenceRefused(f"the evidence folder is a symlink: {folder.name!r}")
        files = size = 0
        with os.scandir(folder) as entries:
            for entry in entries:  # stops at the first entry over a bound: a million files cost MAX_EVIDENCE_FILES
                files += 1
                if files > MAX_EVIDENCE_FILES:
                    raise EvidenceRefused(f"more than {MAX_EVIDENCE_FILES} files in the evidence folder")
                if not entry.is_file(follow_symlinks=False):
                    raise EvidenceRefused(f"bad evidence file name (not a plain file): {entry.name!r}")
                size += entry.stat(follow_symlinks=False).st_size
                if size > MAX_EVIDENCE_BYTES:
                    raise EvidenceRefused(f"the evidence folder holds more than {MAX_EVIDENCE_BYTES} bytes")

    def _charge(self, size: int, what: str) -> None:
        self.spent += size
        if self.spent > MAX_EVIDENCE_BYTES:
            raise EvidenceRefused(f"reading {what} makes more than {MAX_EVIDENCE_BYTES} bytes of evidence")

    def manifest(self, name: str) -> object:
        """The manifest ``name`` parsed, if it is at most ``MAX_MANIFEST_BYTES`` and ``MAX_JSON_DEPTH`` deep."""
        path = inside(self.folder, name)
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise EvidenceRefused(f"a manifest of {size} bytes (at most {MAX_MANIFEST_BYTES})")
        self._charge(size, name)
        with path.open("rb") as f:
            return parse_json(f.read(MAX_MANIFEST_BYTES + 1), name)

    def array(self, file: str):
        """The ``.npy`` file ``file`` loaded without pickles, once its header has been read and found honest: a
        version NumPy writes, a number dtype, a shape of at most ``MAX_ARRAY_BYTES`` that the file really holds."""
        import numpy as np

        path = inside(self.folder, file)
        with path.open("rb") as f:
            declared = _npy_data_bytes(f, file)
            self._charge(declared, file)
            f.seek(0)
            return np.lib.format.read_array(f, allow_pickle=False, max_header_size=MAX_NPY_HEADER_BYTES)

    def model(self, file: str) -> Path:
        """The path of the ``.keras`` file ``file``, once its zip and its weights have been measured (see
        ``check_model``), for ``keras.saving.load_model`` to read."""
        path = inside(self.folder, file)
        self._charge(check_model(path), file)
        return path


def _npy_data_bytes(f, file: str) -> int:
    """The bytes of data the ``.npy`` header read from ``f`` declares, refused unless honest (see ``Reading.array``)."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise EvidenceRefused(f"{file}: .npy format {version} (numpy.save writes 1.0, or 2.0 for long headers)")
        length_format = "<H" if version == (1, 0) else "<I"
        (length,) = struct.unpack(length_format, f.read(struct.calcsize(length_format)))
        if length > MAX_NPY_HEADER_BYTES:
            raise EvidenceRefused(f"{file}: a .npy header of {length} bytes")
        f.seek(-struct.calcsize(length_format), os.SEEK_CUR)
        read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        shape, _, dtype = read_header(f, max_header_size=MAX_NPY_HEADER_BYTES)
    except (ValueError, struct.error, EOFError) as e:
        raise EvidenceRefused(f"{file}: not a .npy array: {type(e).__name__}: {str(e)[:200]}") from None
    if dtype.hasobject or dtype.kind not in ARRAY_KINDS:
        raise EvidenceRefused(f"{file}: an array of dtype {dtype} (our collecting saves numbers only)")
    declared = math.prod(shape) * dtype.itemsize
    if declared > MAX_ARRAY_BYTES:
        raise EvidenceRefused(f"{file}: a header claiming shape {shape} of {dtype}, {declared} bytes "
                              f"(at most {MAX_ARRAY_BYTES})")
    held = os.fstat(f.fileno()).st_size - f.tell()
    if declared != held:
        raise EvidenceRefused(f"{file}: a header claiming shape {shape} of {dtype} ({declared} bytes) over {held} bytes "
                              "of data (numpy.save writes exactly what it claims)")
    return declared


def json_depth(value) -> int:
    """How deep the lists and dicts of a parsed JSON ``value`` nest, counted a level at a time (no recursion, a
    pointer per container of one level); stops counting past ``MAX_JSON_DEPTH``."""
    depth, level = 0, [value] if isinstance(value, (dict, list)) else []
    while level and depth <= MAX_JSON_DEPTH:
        depth += 1
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (dict, list))]
    return depth


def parse_json(data: bytes, what: str) -> object:
    """``data`` parsed as JSON, refused if unreadable or nested deeper than ``MAX_JSON_DEPTH``.

    Deeper than Python's recursion limit, ``json.loads`` itself stops at once (``RecursionError``); below it, the
    parsed value is measured.  Parsing costs up to about 30 times the text's length in memory (8 MiB of ``[],``:
    about 250 MB for a second or two), hence the bounds on the text before it."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise EvidenceRefused(f"{what}: JSON nested deeper than Python parses") from None
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise EvidenceRefused(f"{what}: unreadable JSON: {type(e).__name__}") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise EvidenceRefused(f"{what}: JSON nested more than {MAX_JSON_DEPTH} deep")
    return value


def check_model(path: Path) -> int:
    """What the ``.keras`` file at ``path`` expands to, in bytes, once measured: a zip of at most
    ``MAX_MODEL_MEMBERS`` members named as Keras names them, whose table of members is small, each of which expands
    at most ``MAX_EXPANSION`` times, together at most ``MAX_MODEL_BYTES``; a ``config.json`` of at most
    ``MAX_MODEL_CONFIG_BYTES`` and ``MAX_JSON_DEPTH``; weights stored as Keras stores them (``check_weights``).
    Raises ``EvidenceRefused`` otherwise, having read no more than the zip's tables and the config."""
    name = path.name
    with path.open("rb") as f:
        end = zipfile._EndRecData(f)  # the record ZipFile reads first: it says how large the table of members is
        if end is None:
            raise EvidenceRefused(f"{name}: not a zip file")
        if end[zipfile._ECD_ENTRIES_TOTAL] > MAX_MODEL_MEMBERS or end[zipfile._ECD_SIZE] > MAX_CENTRAL_DIRECTORY_BYTES:
            raise EvidenceRefused(f"{name}: a zip of {end[zipfile._ECD_ENTRIES_TOTAL]} members, "
                                  f"{end[zipfile._ECD_SIZE]} bytes of table")
        f.seek(0)
        try:
            archive = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, ValueError, OSError) as e:
            raise EvidenceRefused(f"{name}: not a zip file: {type(e).__name__}") from None
        with archive:
            members = archive.infolist()
            names = [m.filename for m in members]
            unknown = [n for n in names if n not in MODEL_MEMBERS and not n.startswith("assets/")]
            if unknown or len(set(names)) != len(names) or not {"config.json", "model.weights.h5"} <= set(names):
                raise EvidenceRefused(f"{name}: members {names[:10]} are not those Keras writes (once each)")
            total = 0
            for member in members:
                if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise EvidenceRefused(f"{name}: {member.filename} compressed with method {member.compress_type}")
                if (member.file_size > EXPANSION_FLOOR
                        and member.file_size > MAX_EXPANSION * max(member.compress_size, 1)):
                    raise EvidenceRefused(f"{name}: {member.filename} expands from {member.compress_size} to "
                                          f"{member.file_size} bytes (a zip bomb)")
                total += member.file_size
                if total > MAX_MODEL_BYTES:
                    raise EvidenceRefused(f"{name}: members expanding to more than {MAX_MODEL_BYTES} bytes")
            config = archive.getinfo("config.json")
            if config.file_size > MAX_MODEL_CONFIG_BYTES:
                raise EvidenceRefused(f"{name}: a config.json of {config.file_size} bytes")
            try:
                text = archive.read(config)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as e:
                raise EvidenceRefused(f"{name}: unreadable config.json: {type(e).__name__}") from None
            parse_json(text, f"{name}: config.json")
            check_weights(f, archive.getinfo("model.weights.h5"), name)
    return total


class _Window:
    """The bytes ``start`` to ``start + size`` of the open file ``raw``, as a read-only file (for h5py)."""

    def __init__(self, raw, start: int, size: int):
        self._raw, self._start, self._size, self._position = raw, start, size, 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self._size - self._position))
        self._raw.seek(self._start + self._position)
        read = self._raw.readinto(memoryview(buffer)[:count])
        self._position += read
        return read

    def read(self, size: int = -1) -> bytes:
        buffer = bytearray(self._size - self._position if size < 0 else size)
        return bytes(buffer[:self.readinto(buffer)])


def check_weights(raw, member: zipfile.ZipInfo, name: str) -> None:
    """Refuse a weights member Keras does not write: compressed in the zip, not HDF5, more than ``MAX_H5_OBJECTS``
    objects, external or virtual datasets, or datasets that declare more than ``MAX_MODEL_BYTES`` together or expand
    more than ``MAX_EXPANSION`` times what they store (a chunked, compressed shape bomb, which Keras reads whole).

    ``raw`` is the open ``.keras`` file; the member is read in place, as stored (h5py reads only its metadata)."""
    import h5py

    if member.compress_type != zipfile.ZIP_STORED or member.compress_size != member.file_size:
        raise EvidenceRefused(f"{name}: model.weights.h5 is compressed in the zip (Keras stores it as it is)")
    raw.seek(member.header_offset)
    header = raw.read(30)  # a zip's local file header; its names' lengths say where the data starts
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise EvidenceRefused(f"{name}: a broken zip")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    window = _Window(raw, member.header_offset + 30 + name_length + extra_length, member.file_size)
    declared = objects = 0

    def visit(path: str, item) -> None:
        nonlocal declared, objects
        objects += 1
        if objects > MAX_H5_OBJECTS:
            raise EvidenceRefused(f"{name}: more than {MAX_H5_OBJECTS} objects in its weights")
        if not isinstance(item, h5py.Dataset):
            return
        if item.external or item.is_virtual or item.dtype.hasobject:
            raise EvidenceRefused(f"{name}: weights {path!r} that Keras does not write (external, virtual or objects)")
        size = math.prod(item.shape or ()) * item.dtype.itemsize
        stored = item.id.get_storage_size()
        if size > EXPANSION_FLOOR and size > MAX_EXPANSION * max(stored, 1):
            raise EvidenceRefused(f"{name}: weights {path!r} declare {size} bytes over {stored} stored (a shape bomb)")
        declared += size
        if declared > MAX_MODEL_BYTES:
            raise EvidenceRefused(f"{name}: weights declaring more than {MAX_MODEL_BYTES} bytes")

    try:
        with h5py.File(window, "r") as weights:
            weights.visititems(visit)  # objects only: links are not followed here (and Keras refuses them)
    except EvidenceRefused:
        raise
    except Exception as e:  # noqa: BLE001 -- whatever h5py cannot read as HDF5 is not weights Keras wrote
        raise EvidenceRefused(f"{name}: unreadable weights: {type(e).__name__}: {str(e)[:200]}") from None


def _address_space() -> int | None:
    """This process's address space in bytes (``VmSize``), or None where ``/proc`` does not tell it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


@contextlib.contextmanager
def judging_limits(*, cpu_seconds: float, memory_bytes: int):
    """Run the body (the judging of one submission) for at most ``cpu_seconds`` of processor time, in at most
    ``memory_bytes`` of address space beyond what this process holds now; past either, raise ``JudgingOverLimit``
    with a bilingual message.

    The time limit counts this process's CPU time, every thread's together (``ITIMER_PROF``), not the clock on the
    wall: time spent waiting for a busy host's cores is not the submission's, so load delays a verdict and never turns
    it into an error.  A judging that computes for ever still stops: the timer fires again every CPU second after the
    limit, should a bare ``except:`` (as in Keras) swallow it.  Its signal is handled in the main thread only.  The
    memory limit is this process's soft ``RLIMIT_AS`` (TensorFlow then fails with ``ResourceExhaustedError``, NumPy
    with ``MemoryError``), restored afterwards.  Where ``/proc`` does not give the address space (not Linux), only the
    time limit applies.
    """
    def on_timer(signum, frame):
        raise JudgingOverLimit(f"判定が処理時間の上限 (CPU {cpu_seconds:g} 秒) を超えました / judging used more than its "
                               f"{cpu_seconds:g} s of CPU time")

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    now = _address_space()
    limit = None if now is None else min(v for v in (now + memory_bytes, soft, hard) if v != resource.RLIM_INFINITY)
    previous = signal.signal(signal.SIGPROF, on_timer)
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds, min(1.0, cpu_seconds))
    try:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        yield
    except MemoryError:
        megabytes = memory_bytes // 2**20
        raise JudgingOverLimit(f"判定がメモリの上限 ({megabytes} MB) を超えました / judging went over its memory limit "
                               f"of {megabytes} MB") from None
    finally:
        try:
            signal.setitimer(signal.ITIMER_PROF, 0)
        finally:
            signal.signal(signal.SIGPROF, previous)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
