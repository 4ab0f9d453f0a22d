"""A folder the command cannot write is one line naming it (issue #16.6), never a traceback."""

from __future__ import annotations

import errno
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from sma_response.cli._errors import check_writable, one_line_errors

READ_ONLY = "the file system is read-only"
FULL = "no space left on the device"


class StageError(Exception):
    pass


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (
            OSError(errno.EROFS, "Read-only", "/mnt/ro/cdm"),
            f"cannot write /mnt/ro/cdm: {READ_ONLY}",
        ),
        (OSError(errno.EACCES, "Denied", "/srv/x"), "cannot write /srv/x: permission denied"),
        (OSError(errno.ENOSPC, "Error writing bytes"), f"cannot write data/out: {FULL}"),
        (StageError("export_path: /x does not exist"), "export_path: /x does not exist"),
    ],
)
def test_refused_writes_and_stage_errors_are_one_line(capsys, err, expected):
    guard = one_line_errors("sma-x", [StageError], where="data/out")
    with pytest.raises(SystemExit) as done, guard:
        raise err
    assert done.value.code == 2
    line = capsys.readouterr().err
    assert line.startswith(f"sma-x: error: {expected}")
    assert line.count("\n") == 1


def test_any_other_error_keeps_its_traceback():
    with pytest.raises(FileNotFoundError), one_line_errors("sma-x", [StageError]):
        raise FileNotFoundError(errno.ENOENT, "No such file", "/x")


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


@pytest.fixture
def mounted(tmp_path):
    """A read-only and a 200 kB file system (tmpfs), where this machine lets us mount them."""
    ro, small = tmp_path / "ro", tmp_path / "small"
    if not (_mount(ro, "ro,size=1m") and _mount(small, "size=200k")):
        subprocess.run(["umount", str(ro)], capture_output=True, check=False)
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    yield ro, small
    for folder in (ro, small):
        subprocess.run(["umount", str(folder)], capture_output=True, check=False)


@pytest.mark.slow  # two harmonisation processes; the constructed errors above run by default
def test_harmonising_into_a_read_only_or_full_file_system_is_one_line(mounted, trained, train_tmp):
    ro, small = mounted
    command = [
        sys.executable, "-m", "sma_response.cli.harmonise", "dataset=pytest",
        f"paths.data_dir={train_tmp / 'data'}", f"paths.output_root={train_tmp / 'outputs'}",
        "progress=false",
    ]  # fmt: skip
    for folder, words in ((ro, READ_ONLY), (small, FULL)):
        out_dir = folder / uuid.uuid4().hex
        done = subprocess.run(
            [*command, f"out_dir={out_dir}"], capture_output=True, text=True, check=False,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr[-2000:]
        assert f"sma-harmonise: error: cannot write {out_dir}: {words}" in done.stderr
        assert "Traceback" not in done.stderr
    # the run folder Hydra would create there: one line before any work
    with pytest.raises(SystemExit):
        check_writable("sma-train", ro / "outputs", key="paths.output_root")
