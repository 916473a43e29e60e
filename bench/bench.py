"""Whole-process timings and peak memory of tracker commands on large workbooks.

Prints a Markdown table for the README "Performance" section. Never run by the tests.

    .venv/bin/python bench/bench.py                       # 1,000 / 10,000 / 50,000 events
    .venv/bin/python bench/bench.py --sizes 1000,10000 --repeat 5
    .venv/bin/python bench/bench.py --sizes 10000 --profile update

Each workbook holds N events, 3 updates per event and one change per 5 events (see
rowgen.py); it is generated once and cached in bench/out/ (delete it or pass --regen).

Per size, in one run and interleaved round by round: the reads (`--help`, `validate`,
`list --open`, `show ID`), the two writes side by side with a bare openpyxl load + save
of the same file (`update ID --note x` on an open event, `open --title ... --severity
"Sev 2" --service Email`), then the ratios update / (load + save) and open / (load +
save). Writes patch only the sheets they touch, so they should stay a small fraction of
what openpyxl needs to load and save the whole workbook. Targets at 10,000 events:
`--help` under 0.2 s; `validate`, `list`, `show` under 1.5 s; `update` and `open` at
most 0.2x a bare load + save (aim 0.1x). Every command, reads included, starts from a
fresh copy of the workbook in an otherwise empty folder (no backups, journal or lock
files left by an earlier run), so runs are comparable.

Every command runs as its own process; its wall time is measured around the process
and its peak memory is the child's ru_maxrss from os.wait4. On Linux a child's
ru_maxrss is never below the resident size of the process that forked it, so commands
are started by a bare interpreter (python -I -S) that forks, execs and reports; the
figure for /bin/true, printed as the measurement floor, is that launcher's size.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
DEFAULT_SIZES = (1000, 10000, 50000)
TARGET_SIZE = 10000
HELP_TARGET = 0.2
READ_TARGET = 1.5
WRITE_RATIO_TARGET = 0.2  # update and open, each over a bare openpyxl load + save
WRITE_RATIO_AIM = 0.1
UPDATE = "`tracker update ID --note x`"
OPEN = "`tracker open --title ... --severity ... --service ...`"
DUE = "`tracker due`"
PUBLISH = "`tracker publish`"
PUBLISH_RATIO_TARGET = 2.0  # the status page, over list --open (issue 11)
REPORT_JSON = "`tracker report --json`"  # every event of the workbook in the period (the worst case)
REPORT_HTML = "`tracker report --html`"
REPORT_RATIO_TARGET = 2.0  # report --json over list --open (issue 11); --html with its charts is reported apart
REPORT_ARGS = ["report", "--since", "2000-01-01"]
BARE = "bare openpyxl load + save"
# A new event valid for the generated workbook (severities and services of `tracker init --example`).
OPEN_ARGS = ["open", "--title", "Email outage - HQ", "--severity", "Sev 2", "--service", "Email"]
# Imports every module of tracker and of the libraries it loads (lazily imported ones
# included), so that no measured run pays for compiling and writing .pyc files.
WARM_UP = """
import importlib, pkgutil

def warm(name):
    try:
        module = importlib.import_module(name)
    except Exception:
        return
    for sub in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if sub.name != "__main__" and not sub.name.startswith("test"):
            warm(f"{name}.{sub.name}")

for name in ("tracker", "openpyxl", "python_calamine", "jsonschema_rs", "filelock", "click", "jinja2"):
    warm(name)
"""
# Forks and execs argv[2:], waits with os.wait4, writes "seconds ru_maxrss" to argv[1],
# exits with the command's exit code.
LAUNCHER = """
import os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
with open(report, "w") as handle:
    handle.write(f"{elapsed:.6f} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""
# A fixed pure-Python workload (allocation-heavy like openpyxl) to compare machines and runs.
YARDSTICK = 'rows = [{"id": f"EVT-{i}", "n": i, "s": str(i) * 3} for i in range(1_000_000)]; sum(r["n"] for r in rows)'
BARE_SAVE = "import sys, openpyxl; wb = openpyxl.load_workbook(sys.argv[1]); wb.save(sys.argv[2])"


@dataclass
class Measure:
    """Wall seconds and peak resident megabytes of each run of one command."""

    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median wall time in seconds."""
        return statistics.median(self.seconds)

    @property
    def peak(self) -> float:
        """Highest peak RSS over the runs, in MB."""
        return max(self.peak_mb)


@dataclass
class Command:
    """One row of the table: a label and its argv."""

    label: str
    argv: list[str]
    ok: tuple[int, ...] = (0,)  # exit codes that are not failures (`due` exits 1 when something is overdue)


@dataclass
class SizeResult:
    """Everything measured for one workbook size."""

    events: int
    file_mb: float
    generated_s: float | None
    runs: int
    measures: dict[str, Measure]


def tracker_argv() -> list[str]:
    """The installed console script beside this interpreter, else `python -m tracker`."""
    script = Path(sys.executable).parent / "tracker"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker"]


def run_measured(argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Run argv as a child process; return (wall seconds, peak RSS MB). Fail loudly on a non-zero exit.

    The command is started by LAUNCHER, a bare interpreter that forks, execs the command
    and reports the wall time and ru_maxrss it gets from os.wait4; that keeps this
    script's own (larger) resident size out of the child's figure.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(report), *argv]
        code = subprocess.run(launcher, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL).returncode
        if code not in ok:
            err.seek(0)
            out.seek(0)
            tail = (out.read()[-1500:] + err.read()[-1500:]).decode("utf-8", "replace")
            raise SystemExit(f"{' '.join(argv)} exited {code} in {cwd}:\n{tail}")
        seconds, max_rss = report.read_text().split()
    return float(seconds), int(max_rss) / (1024 * 1024 if sys.platform == "darwin" else 1024)


def cache_key() -> str:
    """Short hash of what the generated workbook depends on: schema, examples, generator."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "workbook_schema").rglob("*.json")) + [BENCH / "rowgen.py"]
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def workbook_for(events: int, regen: bool) -> tuple[Path, float | None]:
    """The cached workbook with `events` events, generated in a child process when missing."""
    path = OUT / f"events-{events}-{cache_key()}.xlsx"
    if path.exists() and not regen:
        return path, None
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in OUT.glob(f"events-{events}-*.xlsx"):
        stale.unlink()
    print(f"generating {path.name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(BENCH / "rowgen.py"), str(events), str(path)], check=True)
    return path, time.perf_counter() - started


def pick_ids(workbook: Path, env: dict[str, str]) -> tuple[str, str]:
    """(an open event for update, an event in the middle of the sheet for show), read in a child."""
    code = (
        "import sys; from tracker.workbook.opening import read_tracker; from tracker.workbook.schema import load_schema; "
        "from tracker.workbook.policy import is_open; "
        "rows = read_tracker(__import__('pathlib').Path(sys.argv[1]), load_schema()).sheet('Events').rows; "
        "opened = [r['id'] for r in rows if is_open(r['status'])]; "
        "print(opened[len(opened) // 2], rows[len(rows) // 2]['id'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(workbook)], env=env, check=True, capture_output=True, text=True
    )
    open_id, middle_id = out.stdout.split()
    return open_id, middle_id


def bench_size(events: int, repeat: int, regen: bool, env: dict[str, str]) -> SizeResult:
    """Measure every command on a workbook of `events` events, `repeat` rounds, interleaved."""
    source, generated = workbook_for(events, regen)
    open_id, middle_id = pick_ids(source, env)
    tracker = tracker_argv()
    commands = [
        Command("`tracker --help`", [*tracker, "--help"]),
        Command("`tracker validate`", [*tracker, "validate"]),
        Command("`tracker list --open`", [*tracker, "list", "--open"]),
        Command(DUE, [*tracker, "due"], (0, 1, 4, 5, 6, 7)),  # due says what is late with its exit code
        Command(PUBLISH, [*tracker, "publish"]),
        Command(REPORT_JSON, [*tracker, *REPORT_ARGS, "--json"]),
        Command(REPORT_HTML, [*tracker, *REPORT_ARGS, "--html", "report.html"]),
        Command("`tracker show ID`", [*tracker, "show", middle_id]),
        Command(UPDATE, [*tracker, "update", open_id, "--note", "x"]),
        Command(OPEN, [*tracker, *OPEN_ARGS]),
        Command(BARE, [sys.executable, "-c", BARE_SAVE, "events.xlsx", "resaved.xlsx"]),
    ]
    measures = {command.label: Measure() for command in commands}
    with tempfile.TemporaryDirectory(prefix="tracker-bench-") as folder:
        work = Path(folder)
        for round_number in range(repeat):
            for command in commands:
                fresh(source, work)
                print(
                    f"  {events:>6} events, run {round_number + 1}/{repeat}: {command.label}",
                    file=sys.stderr,
                    flush=True,
                )
                seconds, peak = run_measured(command.argv, work, env, command.ok)
                measures[command.label].seconds.append(seconds)
                measures[command.label].peak_mb.append(peak)
    return SizeResult(events, source.stat().st_size / 1e6, generated, repeat, measures)


def fresh(source: Path, work: Path) -> None:
    """Make `work` hold only tracker.toml and an unmodified copy of the workbook.

    Whatever an earlier run left (backups, journal, lock files, resaved.xlsx) is removed.
    """
    for entry in work.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    (work / "tracker.toml").write_text('[workbook]\npath = "events.xlsx"\n', encoding="utf-8")
    shutil.copyfile(source, work / "events.xlsx")


def floor_mb(env: dict[str, str]) -> float:
    """Peak RSS reported for /bin/true: the smallest figure this measurement can give."""
    true = shutil.which("true") or "/bin/true"
    return run_measured([true], Path.cwd(), env)[1]


def yardstick(env: dict[str, str]) -> float:
    """Median seconds of three runs of the YARDSTICK workload (process start included)."""
    return statistics.median(run_measured([sys.executable, "-c", YARDSTICK], Path.cwd(), env)[0] for _ in range(3))


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def render(results: list[SizeResult], floor: float, yardsticks: tuple[float, float], bytecode: str) -> str:
    """The Markdown section: environment line, one column per size, targets at 10k."""
    versions = ", ".join(
        f"{name} {version(name)}"
        for name in ("outage-tracker", "openpyxl", "python-calamine", "jsonschema-rs", "click")
    )
    runs = ", ".join(f"{r.runs} at {r.events:,} events" for r in results)
    lines = [
        f"Measured on {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; {versions} ({source_state()}).",
        "",
        "Workbooks: N events, 3 updates per event, 1 change per 5 events, every column filled as the "
        "event's status allows. Each command is a whole process (interpreter start included); time is "
        f"the median wall time of N runs ({runs}), memory the highest peak RSS (measurement floor {floor:.0f} MB); "
        "every run starts from a fresh copy of the workbook. `update` adds a note to an open event, `open` records "
        "a new event; each is compared with a bare openpyxl load + save of the same file. "
        f"{bytecode} Machine yardstick (1M small dicts in pure Python) before / after: "
        f"{yardsticks[0]:.2f} s / {yardsticks[1]:.2f} s; the ratios are steadier than the absolute times.",
        "",
    ]
    at_target = next((r for r in results if r.events == TARGET_SIZE), None)
    header = ["Command", *(f"{r.events:,} events" for r in results), "Target (10k)", "10k"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    targets = {
        "`tracker --help`": (f"< {HELP_TARGET} s", lambda m: m.median < HELP_TARGET),
        "`tracker validate`": (f"< {READ_TARGET} s", lambda m: m.median < READ_TARGET),
        "`tracker list --open`": (f"< {READ_TARGET} s", lambda m: m.median < READ_TARGET),
        "`tracker show ID`": (f"< {READ_TARGET} s", lambda m: m.median < READ_TARGET),
    }
    for label in results[0].measures:
        cells = [label]
        for result in results:
            m = result.measures[label]
            cells.append(f"{m.median:.2f} s, {m.peak:.0f} MB")
        target, check = targets.get(label, ("", None))
        cells.append(target)
        if check is not None and at_target is not None:
            cells.append(verdict(check(at_target.measures[label])))
        else:
            cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    due_cells = ["due / list --open"]
    for result in results:
        due_cells.append(f"{result.measures[DUE].median / result.measures['`tracker list --open`'].median:.2f}x")
    due_at = at_target.measures[DUE].median / at_target.measures["`tracker list --open`"].median if at_target else 0
    lines.append("| " + " | ".join([*due_cells, "<= 1.5x", verdict(due_at <= 1.5) if at_target else ""]) + " |")
    publish_cells = ["publish / list --open"]
    for result in results:
        publish_cells.append(
            f"{result.measures[PUBLISH].median / result.measures['`tracker list --open`'].median:.2f}x"
        )
    publish_at = (
        at_target.measures[PUBLISH].median / at_target.measures["`tracker list --open`"].median if at_target else 0
    )
    publish_ok = verdict(publish_at <= PUBLISH_RATIO_TARGET) if at_target else ""
    lines.append("| " + " | ".join([*publish_cells, f"<= {PUBLISH_RATIO_TARGET}x", publish_ok]) + " |")
    report_cells = ["report --json / list --open"]
    for result in results:
        report_cells.append(
            f"{result.measures[REPORT_JSON].median / result.measures['`tracker list --open`'].median:.2f}x"
        )
    list_at = at_target.measures["`tracker list --open`"].median if at_target else 0
    report_at = at_target.measures[REPORT_JSON].median / list_at if at_target else 0
    report_ok = verdict(report_at <= REPORT_RATIO_TARGET) if at_target else ""
    lines.append("| " + " | ".join([*report_cells, f"<= {REPORT_RATIO_TARGET}x", report_ok]) + " |")
    for write, name in ((UPDATE, "update"), (OPEN, "open")):
        ratio_cells = [f"{name} / bare load + save"]
        for result in results:
            ratio_cells.append(f"{ratio(result, write):.3f}x")
        ratio_cells.append(f"<= {WRITE_RATIO_TARGET}x (aim {WRITE_RATIO_AIM}x)")
        ratio_cells.append(verdict(ratio(at_target, write) <= WRITE_RATIO_TARGET) if at_target else "")
        lines.append("| " + " | ".join(ratio_cells) + " |")
    lines.append("| workbook size | " + " | ".join(f"{r.file_mb:.1f} MB" for r in results) + " |  |  |")
    return "\n".join(lines)


def ratio(result: SizeResult, write: str) -> float:
    """Median time of the write command labelled `write` over median bare openpyxl load + save time."""
    return result.measures[write].median / result.measures[BARE].median


def source_state() -> str:
    """The checkout's commit, and whether tracker/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "tracker"], cwd=ROOT, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"commit {head}" + (" with uncommitted changes in tracker/" if dirty.stdout.strip() else "")


def version(name: str) -> str:
    """Installed version of a distribution, or '?'."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def profile(command: str, events: int, top: int, env: dict[str, str]) -> str:
    """cProfile one tracker command on the cached workbook; the `top` functions by cumulative time."""
    import pstats
    from io import StringIO

    source, _ = workbook_for(events, regen=False)
    open_id, middle_id = pick_ids(source, env)
    args = {
        "validate": ["validate"],
        "list": ["list", "--open"],
        "show": ["show", middle_id],
        "update": ["update", open_id, "--note", "x"],
        "open": OPEN_ARGS,
    }[command]
    with tempfile.TemporaryDirectory(prefix="tracker-profile-") as folder:
        work = Path(folder)
        fresh(source, work)
        stats_file = work / "profile.out"
        argv = [sys.executable, "-m", "cProfile", "-o", str(stats_file), "-m", "tracker", *args]
        subprocess.run(argv, cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
        text = StringIO()
        stats = pstats.Stats(str(stats_file), stream=text).sort_stats("cumulative")
        text.write(f"## top {top} by cumulative time (interpreter, runpy and click frames left out)\n")
        stats.print_stats(r"^(?!.*(?:runpy|/click/|<string>|__main__\.py|cli\.py|builtins\.exec))", top)
        text.write(f"## tracker's own functions, top {top} by cumulative time\n")
        stats.print_stats(r"/tracker/(?!__main__)[a-z_]+\.py", top)
        text.write(f"## top {top} by own time\n")
        stats.sort_stats("tottime").print_stats(top)
    return f"cProfile of `tracker {' '.join(args)}` at {events:,} events:\n" + text.getvalue()


def parse_sizes(text: str) -> list[int]:
    """'1000,10k' -> [1000, 10000]."""
    sizes = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        multiplier = 1000 if part.endswith("k") else 1
        sizes.append(int(part.rstrip("k")) * multiplier)
    return sizes


def main() -> None:
    """Parse options, run the sizes, print the table (and a profile if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=parse_sizes, default=list(DEFAULT_SIZES), help="e.g. 1000,10000 (default: 1000,10000,50000)"
    )
    parser.add_argument("--repeat", type=int, help="runs per command (default: 3, and 1 above 10,000 events)")
    parser.add_argument("--regen", action="store_true", help="regenerate the cached workbooks in bench/out/")
    parser.add_argument(
        "--profile", choices=["validate", "list", "show", "update", "open"], help="also cProfile this command"
    )
    parser.add_argument("--profile-size", type=int, default=TARGET_SIZE, help="events for --profile (default 10000)")
    parser.add_argument("--top", type=int, default=12, help="functions in each --profile list (default 12)")
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE and PYTHONPYCACHEPREFIX as they are (default: cache byte-code in bench/out/)",
    )
    options = parser.parse_args()

    env = dict(os.environ, TRACKER_USER="bench")
    if not options.as_is:
        # like an installed tool: byte-code cached (in bench/out/, nothing written beside the sources)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(OUT / "pycache")
    # import every module once so that no measured run pays for writing .pyc files
    subprocess.run([sys.executable, "-c", WARM_UP], env=env, check=True)
    floor = floor_mb(env)
    before = yardstick(env)
    results = []
    for events in options.sizes:
        repeat = options.repeat or (3 if events <= TARGET_SIZE else 1)
        results.append(bench_size(events, repeat, options.regen, env))
        generated = results[-1].generated_s
        if generated is not None:
            print(f"  generated {events:,} events in {generated:.0f} s", file=sys.stderr)
    bytecode = "Environment as given." if options.as_is else "Byte-code cached, as for an installed tool."
    print(render(results, floor, (before, yardstick(env)), bytecode))
    if options.profile:
        print()
        print(profile(options.profile, options.profile_size, options.top, env))


if __name__ == "__main__":
    main()
