"""Filling Keras's Fashion-MNIST cache from a local copy (tiny generated files: this tests the loader only)."""
from __future__ import annotations

import gzip
import struct

import pytest

from autograder.grading import data


def write_idx(folder, name, count):
    magic = 2049 if "labels" in name else 2051
    header = struct.pack(">II", magic, count) + (b"" if "labels" in name else struct.pack(">II", 28, 28))
    with gzip.open(folder / name, "wb") as f:
        f.write(header + bytes(count * (1 if "labels" in name else 784)))


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    return tmp_path / "keras"


def make_copy(folder, counts=(5, 5, 2, 2)):
    folder.mkdir()
    for name, count in zip(data.FILES, counts):
        write_idx(folder, name, count)
    return folder


def test_copies_from_data_dir_into_keras_cache(keras_home, tmp_path):
    """Does a local copy land in $KERAS_HOME/datasets/fashion-mnist, where load_data() looks?"""
    report = data.ensure_fashion_mnist(make_copy(tmp_path / "copy"), download=False)
    assert report.cache_dir == keras_home / "datasets" / "fashion-mnist"
    assert report.source == str(tmp_path / "copy")
    assert sorted(p.name for p in report.cache_dir.iterdir()) == sorted(data.FILES)
    assert data.ensure_fashion_mnist(None, download=False).source == "cache"


def test_broken_copies_are_refused_with_the_fix(keras_home, tmp_path):
    """Are mismatched counts or a non-gzip file rejected, with the apt-get command in the error?"""
    make_copy(tmp_path / "mismatch", counts=(5, 4, 2, 2))
    bad = make_copy(tmp_path / "notgzip")
    (bad / data.FILES[1]).write_bytes(b"<html>captive portal</html>")
    for folder in (tmp_path / "mismatch", bad):
        with pytest.raises(data.DataMissing, match="apt-get install -y dataset-fashion-mnist"):
            data.ensure_fashion_mnist(folder, download=False)
    assert not (keras_home / "datasets" / "fashion-mnist" / data.FILES[0]).exists()


def test_debian_folder_is_the_fallback(keras_home, tmp_path, monkeypatch):
    """Without data_dir, is Debian's package folder used?"""
    monkeypatch.setattr(data, "DEBIAN_DIR", make_copy(tmp_path / "debian"))
    assert data.ensure_fashion_mnist(None, download=False).source == str(tmp_path / "debian")
