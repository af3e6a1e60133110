"""Atomic writes: a file is the old one or the new one, never half."""

import os
import stat

import pytest

from keras_gates.files import atomic_path, atomic_write_text


def test_a_finished_write_replaces_the_file(tmp_path):
    path = tmp_path / "deep" / "result.json"
    atomic_write_text(path, "old")
    atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(path.parent) == ["result.json"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    atomic_write_text(path, "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(path, suffix=".json") as tmp:
            assert tmp.parent == tmp_path and tmp.name.endswith(".json")
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.json"]


def test_a_written_file_gets_the_permissions_of_any_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "page.html", "<p>")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "page.html").stat().st_mode)
    assert mode == 0o644
