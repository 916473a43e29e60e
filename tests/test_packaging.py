"""The wheel carries the schema and templates: it works installed outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import process_env

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_checkout(tmp_path: Path) -> None:
    """A wheel installed in a fresh venv runs `init --example` and `validate` in an unrelated folder."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    wheel = next(dist.glob("tracker-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies come from this environment (a bare path: its .pth files, such as an
    # editable install of tracker itself, are not processed).
    Path(site, "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [
            python,
            "-c",
            "import tracker, tracker.resources as r; print(tracker.__file__); print(r.data_dir('workbook_schema'))",
        ],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert where[0].startswith(site) and where[1].startswith(site)
    script = env_dir / "bin" / "tracker"
    init = subprocess.run([script, "init", "--example"], cwd=work, capture_output=True, text=True, env=process_env())
    assert init.returncode == 0, init.stderr
    check = subprocess.run([script, "validate"], cwd=work, capture_output=True, text=True, env=process_env())
    assert check.returncode == 0, check.stdout + check.stderr
    assert (work / "events.xlsx").exists() and (work / "tracker.toml").exists()
