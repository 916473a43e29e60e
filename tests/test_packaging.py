"""The wheel carries the schema and templates: it works installed outside the checkout, and pipx installs it as a
team's machines would (`outage-tracker`, the `tracker` command)."""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest

import tracker
from tests.conftest import process_env

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "outage-tracker"  # `tracker` on PyPI is someone else's project (2015)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built once for the module as the README says (pip wheel, no dependencies)."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    wheels = list(dist.glob(f"{DISTRIBUTION.replace('-', '_')}-{tracker.__version__}-*.whl"))
    assert len(wheels) == 1, f"no wheel of {DISTRIBUTION} {tracker.__version__}: {[p.name for p in dist.iterdir()]}"
    return wheels[0]


def outside_env(**extra: str) -> dict[str, str]:
    """The environment of a process that must use the installed tracker: no PYTHONPATH pointing at a checkout."""
    return {k: v for k, v in process_env(**extra).items() if k != "PYTHONPATH"}


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_checkout(wheel: Path, tmp_path: Path) -> None:
    """A wheel installed in a fresh venv runs `init --example` and `validate` in an unrelated folder."""
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
        env=outside_env(),
    ).stdout.splitlines()
    assert where[0].startswith(site) and where[1].startswith(site)
    script = env_dir / "bin" / "tracker"
    init = subprocess.run([script, "init", "--example"], cwd=work, capture_output=True, text=True, env=outside_env())
    assert init.returncode == 0, init.stderr
    check = subprocess.run([script, "validate"], cwd=work, capture_output=True, text=True, env=outside_env())
    assert check.returncode == 0, check.stdout + check.stderr
    assert (work / "events.xlsx").exists() and (work / "tracker.toml").exists()


@pytest.mark.slow
def test_pipx_installs_the_tracker_command(wheel: Path, tmp_path: Path) -> None:
    """`pipx install` of the wheel (the README's "Install for your team") installs outage-tracker and puts the
    `tracker` command in pipx's bin folder, which answers --version and runs `init --example` and `validate` in an
    unrelated folder."""
    pipx = shutil.which("pipx")
    if pipx is None:
        pytest.skip("pipx is not installed (apt-get install pipx; .ci/run installs it)")
    home, bin_dir, deps = tmp_path / "pipx", tmp_path / "bin", tmp_path / "deps"
    deps.mkdir()
    for dist in _dependencies(wheel):
        _pack_installed(dist, deps)
    # pipx's shared pip, made as pipx makes it but from the wheels Python carries: pipx would upgrade it from PyPI
    venv.EnvBuilder(with_pip=True).create(home / "shared")
    env = outside_env(PIPX_HOME=str(home), PIPX_BIN_DIR=str(bin_dir), USE_EMOJI="0")
    installed = subprocess.run(
        # --python: the interpreter whose packages became the dependency wheels (their tags are its own)
        [pipx, "install", "--python", sys.executable, "--pip-args", f"--no-index --find-links {shlex.quote(str(deps))}"]
        + [str(wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert f"installed package {DISTRIBUTION} {tracker.__version__}" in installed.stdout
    assert re.search(r"^\s*- tracker$", installed.stdout, re.MULTILINE), installed.stdout
    command = bin_dir / "tracker"
    version = subprocess.run([command, "--version"], capture_output=True, text=True, env=env)
    assert version.stdout.strip() == f"tracker, version {tracker.__version__}", version.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    for args in (["init", "--example"], ["validate"]):
        done = subprocess.run([command, *args], cwd=work, capture_output=True, text=True, env=env)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    assert (work / "events.xlsx").exists() and (work / "tracker.toml").exists()


def _dependencies(wheel: Path) -> list[metadata.Distribution]:
    """The distributions the wheel needs on this platform, with theirs, as installed in this environment."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        wanted = Parser().parsestr(archive.read(name).decode("utf-8")).get_all("Requires-Dist") or []
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(text, "") for text in wanted]
    while todo:
        text, extra = todo.pop()
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        dist = metadata.distribution(requirement.name)
        key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        found[key] = dist
        for want in ("", *requirement.extras):
            if (key, want) not in seen:
                seen.add((key, want))
                todo += [(line, want) for line in dist.requires or []]
    return list(found.values())


def _pack_installed(dist: metadata.Distribution, folder: Path) -> Path:
    """An installed distribution packed back into a wheel in `folder` (its files and metadata as pip installed them,
    scripts left out: pip writes them again), so pipx installs it from there, never from an index."""
    root = Path(str(dist.locate_file("")))
    files = [f for f in dist.files or [] if ".." not in f.parts and "__pycache__" not in f.parts]
    info = next(f.parts[0] for f in files if f.name == "METADATA" and f.parts[0].endswith(".dist-info"))
    left_out = {f"{info}/{name}" for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    tag = "-".join(".".join(sorted({t.split("-")[part] for t in tags})) for part in range(3))
    path = folder / f"{re.sub(r'[-_.]+', '_', dist.metadata['Name'])}-{dist.version}-{tag}.whl"
    record = []
    with zipfile.ZipFile(path, "w") as archive:
        for file in files:
            name = file.as_posix()
            if name in left_out or not (root / file).is_file():
                continue
            data = (root / file).read_bytes()
            archive.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{name},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path
