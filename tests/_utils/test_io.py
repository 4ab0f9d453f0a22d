from __future__ import annotations

from pathlib import Path

import pytest

from sma_response._utils.io import (
    atomic_directory,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
)


class Boom(RuntimeError):
    pass


def _write_then_fail(target: Path, exc: type[BaseException]) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text("half-written", encoding="utf-8")
        raise exc


def test_write_bytes_creates_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    assert atomic_write_bytes(target, b"\x00\x01") == target
    assert target.read_bytes() == b"\x00\x01"
    assert list(tmp_path.iterdir()) == [target]


def test_write_bytes_accepts_str_path(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write_bytes(str(target), b"x")
    assert target.read_bytes() == b"x"


def test_write_text_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    target.write_text("old", encoding="utf-8")
    atomic_write_text(target, "né\r\nw")
    # No newline translation, utf-8 by default.
    assert target.read_bytes() == "né\r\nw".encode()
    assert list(tmp_path.iterdir()) == [target]


def test_write_text_encoding(tmp_path: Path) -> None:
    target = tmp_path / "latin.txt"
    atomic_write_text(target, "é", encoding="latin-1")
    assert target.read_bytes() == b"\xe9"


def test_atomic_path_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old", encoding="utf-8")
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp != target
        assert not tmp.exists()
        tmp.write_text("new", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old"  # untouched until the block ends
    assert target.read_text(encoding="utf-8") == "new"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_path_keeps_suffix(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "frame.parquet") as tmp:
        assert tmp.suffix == ".parquet"
        tmp.write_bytes(b"")


def test_atomic_path_unique_temp_names(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second
        first.write_text("1", encoding="utf-8")
        second.write_text("2", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "1"  # the outer block finishes last


def test_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(Boom):
        _write_then_fail(target, Boom)
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_failure_before_writing_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new.txt"
    with pytest.raises(Boom), atomic_path(target):
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    with pytest.raises(KeyboardInterrupt):
        _write_then_fail(target, KeyboardInterrupt)
    assert list(tmp_path.iterdir()) == []


def test_block_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="did not write"), atomic_path(target):
        pass
    assert target.read_text(encoding="utf-8") == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_missing_parent_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="parent folder"):
        atomic_write_bytes(tmp_path / "missing" / "x.bin", b"")
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_creates_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("1", encoding="utf-8")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with atomic_directory(target) as tmp:
        (tmp / "b.txt").write_text("2", encoding="utf-8")
    # The old content is gone, not merged; no temporary siblings are left.
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]


def test_atomic_directory_crash_keeps_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "dataset"
    target.mkdir()
    (target / "old.txt").write_text("old", encoding="utf-8")

    def write_then_fail() -> None:
        with atomic_directory(target) as tmp:
            (tmp / "half.txt").write_text("half", encoding="utf-8")
            raise Boom

    with pytest.raises(Boom):
        write_then_fail()
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]


def test_atomic_directory_needs_parent(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_directory(tmp_path / "missing" / "dataset"):
        pass
