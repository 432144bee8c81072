"""Fashion-MNIST in Keras's cache, so that ``fashion_mnist.load_data()`` works offline.

Students and the grading run both call ``keras.datasets.fashion_mnist.load_data()``,
which reads ``$KERAS_HOME/datasets/fashion-mnist/*.gz`` and downloads only what is
missing there.  On a machine without internet we fill that folder from a local
copy: course_config's ``data_dir``, else Debian's package ``dataset-fashion-mnist``.
"""
from __future__ import annotations

import gzip
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import AutograderError

FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"
_IDX_MAGIC = {"labels": 2049, "images": 2051}


class DataMissing(AutograderError):
    """Fashion-MNIST is neither in Keras's cache nor anywhere it can be copied or downloaded from."""


@dataclass(frozen=True)
class DataReport:
    """Where the data came from."""

    cache_dir: Path
    """Keras's cache folder that now holds the four files."""

    source: str
    """``cache`` (already there), a folder it was copied from, or ``download``."""


def keras_cache_dir() -> Path:
    """Keras's own cache folder for Fashion-MNIST (same rule as ``keras.src.backend.config``)."""
    if "KERAS_HOME" in os.environ:
        home = Path(os.environ["KERAS_HOME"])
    else:
        base = Path(os.path.expanduser("~"))
        home = (base if os.access(base, os.W_OK) else Path("/tmp")) / ".keras"
    return Path(os.path.expanduser(home)) / "datasets" / "fashion-mnist"


def idx_count(path: Path) -> int:
    """The number of items in a gzipped IDX file; raises ``ValueError`` if it is not one."""
    kind = "labels" if "labels" in path.name else "images"
    try:
        with gzip.open(path, "rb") as f:
            header = f.read(8)
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: not a gzip file ({e})") from e
    if len(header) < 8:
        raise ValueError(f"{path}: too short for an IDX header")
    magic, count = struct.unpack(">II", header)
    if magic != _IDX_MAGIC[kind]:
        raise ValueError(f"{path}: IDX magic {magic}, expected {_IDX_MAGIC[kind]} for {kind}")
    return count


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds the four files, readable, with as many labels as images."""
    try:
        counts = {name: idx_count(folder / name) for name in FILES}
    except (ValueError, FileNotFoundError):
        return False
    return (
        counts["train-labels-idx1-ubyte.gz"] == counts["train-images-idx3-ubyte.gz"]
        and counts["t10k-labels-idx1-ubyte.gz"] == counts["t10k-images-idx3-ubyte.gz"]
    )


def _download_with_keras() -> None:
    import socket

    socket.setdefaulttimeout(30)  # an offline machine should fail fast, not hang
    from keras.datasets import fashion_mnist

    fashion_mnist.load_data()


def ensure_fashion_mnist(data_dir: Path | None = None, download: bool = True) -> DataReport:
    """Make Keras's cache hold Fashion-MNIST and say where it came from.

    Tries, in order: the cache itself, ``data_dir``, Debian's package folder, and
    (if ``download``) Keras's own download.  Raises ``DataMissing`` with the
    command that fixes it when all fail.
    """
    cache = keras_cache_dir()
    if is_complete(cache):
        return DataReport(cache, "cache")
    for folder in [d for d in (data_dir, DEBIAN_DIR) if d is not None]:
        folder = Path(folder)
        if is_complete(folder):
            cache.mkdir(parents=True, exist_ok=True)
            for name in FILES:
                shutil.copyfile(folder / name, cache / name)
            return DataReport(cache, str(folder))
    if download:
        try:
            _download_with_keras()
        except Exception as e:  # any network failure: fall through to the explanation below
            reason = f"{type(e).__name__}: {e}"
        else:
            if is_complete(cache):
                return DataReport(cache, "download")
            reason = "download finished but the files are incomplete"
    else:
        reason = "download not attempted"
    raise DataMissing(
        "Fashion-MNIST が見つかりません。インターネットにつながるか、次を実行してください: "
        f"apt-get install -y {DEBIAN_PACKAGE}\n"
        f"Fashion-MNIST not found in {cache}, in course_config.data_dir, or in {DEBIAN_DIR}; "
        f"download failed ({reason}). Install it with: apt-get install -y {DEBIAN_PACKAGE}"
    )
