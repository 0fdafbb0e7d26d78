"""`-o`: checked before any work, and written as the user means it (render/output.py)."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from conftest import make_repo, run_cli

MODELS = "from sqlalchemy import Column, Integer, MetaData, Table\nmetadata = MetaData()\nTable('things', metadata, Column('id', Integer, primary_key=True){extra})\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_repo(
        tmp_path_factory.mktemp("out") / "repo",
        {"v1": {"models.py": MODELS.format(extra="")}, "v2": {"models.py": MODELS.format(extra=", Column('note', Integer)")}},
    )


def diff_to(repo, target) -> tuple[int, str]:
    proc = run_cli("diff", str(repo), "v1", "v2", "--models", "models.py", "--format", "json", "-o", str(target))
    return proc.returncode, proc.stderr


def test_a_symlink_is_written_through(repo, tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    code, stderr = diff_to(repo, link)
    assert code == 0, stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert '"add_column"' in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # the file's own mode, kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]  # no temp file


def test_a_device_node_is_written_not_replaced(repo, tmp_path):
    """`-o /dev/null`, through a null device made in a temp dir (as root the old code
    replaced the system's /dev/null with a regular file)."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    code, stderr = diff_to(repo, null)
    assert code == 0, stderr
    assert stat.S_ISCHR(null.stat().st_mode) and null.stat().st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]


def test_a_fifo_is_written_directly(repo, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    code, stderr = diff_to(repo, fifo)
    reader.join(60)
    assert code == 0, stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and '"add_column"' in received[0]


def test_a_new_file_gets_the_mode_a_normal_write_gives(repo, tmp_path):
    target = tmp_path / "new.json"
    code, stderr = diff_to(repo, target)
    assert code == 0, stderr
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda tmp: tmp / "missing" / "out.json", "directory {tmp}/missing does not exist"),
        (lambda tmp: tmp, "-o {tmp}: is a directory"),
        (lambda tmp: (tmp / "dangling").symlink_to(tmp / "nowhere" / "x") or tmp / "dangling", "directory {tmp}/nowhere does not exist"),
    ],
    ids=["missing-directory", "directory", "dangling-symlink-into-nothing"],
)
def test_a_bad_target_is_one_line_before_any_work(tmp_path, make, expected):
    """The repository does not even exist: the target is what is checked first."""
    target = make(tmp_path)
    proc = run_cli("diff", str(tmp_path / "no-such-repo"), "v1", "v2", "-o", str(target))
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"modeldiff: error: -o {target}: ") and line.endswith(expected.format(tmp=tmp_path)), line
