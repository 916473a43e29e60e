"""Whole-process timings and peak memory of tracker commands on large workbooks.

Prints one Markdown section for the README "Performance" section. Never run by the tests
(tests/test_bench.py only checks that `--help` still runs).

    .venv/bin/python bench/bench.py                       # 1,000 / 10,000 / 50,000 events
    .venv/bin/python bench/bench.py --quick               # one run of each command at each size
    .venv/bin/python bench/bench.py --sizes 1000,10000 --repeat 5
    .venv/bin/python bench/bench.py --sizes 10000 --profile update

The mix (rowgen.py): each workbook holds N events in time order, the newest 1% still open
(Investigating, Identified or Monitoring), the 4% before them Resolved and the rest Closed,
every column filled as the event's status allows; 3 updates per event and one change per
5 events. At 10,000 events: 100 open, 30,000 updates, 2,000 changes, about 4 MB. Each
workbook is generated once and cached in bench/out/ under a hash of rowgen.py and the
schema (delete it or pass --regen).

Per size, in one run and interleaved round by round: two baselines, a bare `python -c
pass` of the same interpreter and a bare python-calamine read of every sheet of the same
workbook (`CalamineWorkbook.from_path`, then `to_python(skip_empty_area=False)` of each
sheet in turn, one process); the reads (`--help`, `validate`, `list --open`, `due`,
`publish`, `report --json` and `--html`, `show ID`); the two writes (`update ID --note x`
on an open event, `open --title ... --severity "Sev 2" --service Email`) and a bare
openpyxl load + save of the same file. Every command, reads included, starts from a fresh
copy of the workbook in an otherwise empty folder (no backups, journal or lock files left
by an earlier run), so runs are comparable.

The ratios, each a median over a median of the same run, with their targets at 10,000
events (issue 23 unless said otherwise):
- `--help` / bare python <= 4x: what tracker costs before any command runs (imports).
- `list --open`, `show ID` / calamine read <= 0.6x: a read that needs two or three of
  the sheets must cost less than reading them all.
- `validate` / calamine read <= 1.2x: validate reads every sheet, so it may cost the read
  and a fifth more for its checks.
- `update` / calamine read <= 1.5x: a write reads what it needs and rewrites only the
  sheets it changes.
- `due`, `publish`, `report --json` / `list --open` <= 1.5x / 2x / 2x (issue 11): each
  reads a little more than `list --open` and works out its timers, page or counts.
  `report --json` is measured as the issue names it, on its default period (the 30 days up
  to the workbook's newest moment, some 300 events at 10,000), and over every event of the
  workbook (`--since 2000-01-01`, a report of three years), against the same target.
- `update`, `open` / bare openpyxl load + save <= 0.2x, aim 0.1x: writes patch the sheets
  they touch instead of loading and saving the whole workbook.
- every command's time at 50,000 events / its time at 10,000 <= 3x (5x the events): no
  quadratic step; checked when both sizes are run. The bare read of the 5x larger file
  itself grows about 5x, so a command that reads the whole file cannot meet this as
  written; the next column divides each command's growth by the read's: <= 1.2x means it
  grows no faster than reading the file does (linear), above that some step grows faster.
The absolute targets of the first version (`--help` under 0.2 s; `validate`, `list`,
`show` under 1.5 s at 10,000 events) are still shown. The ratios are steadier than the
absolute times on a shared machine; the machine yardstick, printed before and after, says
how busy it was.

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

from rowgen import EVENTS_PER_CHANGE, OPEN_SHARE, REFERENCE_NOW, RESOLVED_SHARE, UPDATES_PER_EVENT

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
DEFAULT_SIZES = (1000, 10000, 50000)
TARGET_SIZE = 10000
SCALED_SIZE = 50000  # its time over the time at TARGET_SIZE: no quadratic step
SCALING_TARGET = 3.0
# The same growth over the bare calamine read's own growth (the 50k workbook is 5x the bytes: a command that reads the
# file grows as the read does); above this, some step grows faster than the file: quadratic, or a scan per row.
RELATIVE_GROWTH_TARGET = 1.2
HELP_TARGET = 0.2  # seconds, the first version's absolute targets (still shown)
READ_TARGET = 1.5
PYTHON = "bare `python -c pass`"
CALAMINE = "bare calamine read of every sheet"
BARE = "bare openpyxl load + save"
HELP = "`tracker --help`"
VALIDATE = "`tracker validate`"
LIST = "`tracker list --open`"
DUE = "`tracker due`"
PUBLISH = "`tracker publish`"
# `tracker report --json` as issue 23 names it: its default period, the 30 days up to the workbook's newest moment
# (--until REFERENCE_NOW: the bench's figure does not change as the days pass)
REPORT_MONTH = "`tracker report --json` (30 days)"
REPORT_JSON = "`tracker report --json` (every event)"  # --since 2000-01-01: the whole workbook (the worst case)
REPORT_HTML = "`tracker report --html` (every event)"  # with its charts; no ratio, reported apart
SHOW = "`tracker show ID`"
UPDATE = "`tracker update ID --note x`"
OPEN = "`tracker open --title ... --severity ... --service ...`"
BASELINES = (PYTHON, CALAMINE, BARE)
REPORT_ARGS = ["report", "--since", "2000-01-01"]
MONTH_ARGS = ["report", "--until", REFERENCE_NOW.strftime("%Y-%m-%dT%H:%MZ"), "--json"]


@dataclass(frozen=True)
class Ratio:
    """One acceptance row: the median time of `command` over the median time of `baseline`."""

    name: str
    command: str
    baseline: str
    target: float
    aim: float | None = None


RATIOS = (
    Ratio("`--help` / bare python", HELP, PYTHON, 4.0),
    Ratio("`list --open` / calamine read", LIST, CALAMINE, 0.6),
    Ratio("`show ID` / calamine read", SHOW, CALAMINE, 0.6),
    Ratio("`validate` / calamine read", VALIDATE, CALAMINE, 1.2),
    Ratio("`update` / calamine read", UPDATE, CALAMINE, 1.5),
    Ratio("`due` / `list --open`", DUE, LIST, 1.5),
    Ratio("`publish` / `list --open`", PUBLISH, LIST, 2.0),
    Ratio("`report --json` (30 days) / `list --open`", REPORT_MONTH, LIST, 2.0),
    Ratio("`report --json` (every event) / `list --open`", REPORT_JSON, LIST, 2.0),
    Ratio("`update` / bare load + save", UPDATE, BARE, 0.2, 0.1),
    Ratio("`open` / bare load + save", OPEN, BARE, 0.2, 0.1),
)
ABSOLUTE_TARGETS = {HELP: HELP_TARGET, VALIDATE: READ_TARGET, LIST: READ_TARGET, SHOW: READ_TARGET}
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
# Forks and execs argv[2:], waits with os.wait4, writes "seconds ru_maxrss cpu-seconds" to argv[1],
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
    handle.write(f"{elapsed:.6f} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime:.6f}")
sys.exit(os.waitstatus_to_exitcode(status))
"""
# A fixed pure-Python workload (allocation-heavy like openpyxl) to compare machines and runs.
YARDSTICK = 'rows = [{"id": f"EVT-{i}", "n": i, "s": str(i) * 3} for i in range(1_000_000)]; sum(r["n"] for r in rows)'
BARE_SAVE = "import sys, openpyxl; wb = openpyxl.load_workbook(sys.argv[1]); wb.save(sys.argv[2])"
CALAMINE_READ = (
    "import sys; from python_calamine import CalamineWorkbook; book = CalamineWorkbook.from_path(sys.argv[1]); "
    "[book.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in book.sheet_names]"
)


@dataclass
class Measure:
    """Wall seconds, peak resident megabytes and CPU seconds (user + system, every thread) of each run of one
    command."""

    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median wall time in seconds."""
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        """Median CPU seconds."""
        return statistics.median(self.cpu)

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
    open_events: int
    file_mb: float
    generated_s: float | None
    runs: int
    measures: dict[str, Measure]


def tracker_argv() -> list[str]:
    """The installed console script beside this interpreter, else `python -m tracker`."""
    script = Path(sys.executable).parent / "tracker"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracker"]


def run_measured(
    argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)
) -> tuple[float, float, float]:
    """Run argv as a child process; return (wall seconds, peak RSS MB, CPU seconds). Fail loudly on a non-zero exit.

    The command is started by LAUNCHER, a bare interpreter that forks, execs the command
    and reports the wall time, ru_maxrss and CPU time it gets from os.wait4; that keeps this
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
        seconds, max_rss, cpu = report.read_text().split()
    return float(seconds), int(max_rss) / (1024 * 1024 if sys.platform == "darwin" else 1024), float(cpu)


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


def pick_ids(workbook: Path) -> tuple[str, str, int]:
    """(an open event for update, an event in the middle of the sheet for show, how many are open).

    Read with python-calamine in a child process, not through tracker, so that the bench
    keeps running whatever tracker's read path becomes.
    """
    code = (
        "import sys; from python_calamine import CalamineWorkbook; "
        "rows = CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_name('Events').to_python(); "
        "ids, states = rows[0].index('ID'), rows[0].index('Status'); events = rows[1:]; "
        "opened = [r[ids] for r in events if r[states] not in ('Resolved', 'Closed')]; "
        "print(opened[len(opened) // 2], events[len(events) // 2][ids], len(opened))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(workbook)], check=True, capture_output=True, text=True)
    open_id, middle_id, open_events = out.stdout.split()
    return open_id, middle_id, int(open_events)


def commands_for(open_id: str, middle_id: str) -> list[Command]:
    """The baselines and the tracker commands, in the order each round runs them."""
    tracker = tracker_argv()
    return [
        Command(PYTHON, [sys.executable, "-c", "pass"]),
        Command(HELP, [*tracker, "--help"]),
        Command(CALAMINE, [sys.executable, "-c", CALAMINE_READ, "events.xlsx"]),
        Command(VALIDATE, [*tracker, "validate"]),
        Command(LIST, [*tracker, "list", "--open"]),
        Command(DUE, [*tracker, "due"], (0, 1, 4, 5, 6, 7)),  # due says what is late with its exit code
        Command(PUBLISH, [*tracker, "publish"]),
        Command(REPORT_MONTH, [*tracker, *MONTH_ARGS]),
        Command(REPORT_JSON, [*tracker, *REPORT_ARGS, "--json"]),
        Command(REPORT_HTML, [*tracker, *REPORT_ARGS, "--html", "report.html"]),
        Command(SHOW, [*tracker, "show", middle_id]),
        Command(UPDATE, [*tracker, "update", open_id, "--note", "x"]),
        Command(OPEN, [*tracker, *OPEN_ARGS]),
        Command(BARE, [sys.executable, "-c", BARE_SAVE, "events.xlsx", "resaved.xlsx"]),
    ]


def bench_size(events: int, repeat: int, regen: bool, env: dict[str, str]) -> SizeResult:
    """Measure every command on a workbook of `events` events, `repeat` rounds, interleaved."""
    source, generated = workbook_for(events, regen)
    open_id, middle_id, open_events = pick_ids(source)
    commands = commands_for(open_id, middle_id)
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
                seconds, peak, cpu = run_measured(command.argv, work, env, command.ok)
                measures[command.label].seconds.append(seconds)
                measures[command.label].peak_mb.append(peak)
                measures[command.label].cpu.append(cpu)
    return SizeResult(events, open_events, source.stat().st_size / 1e6, generated, repeat, measures)


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
    """The Markdown section: what was measured, one column per size, the ratios and their verdicts at 10k."""
    at_target = next((r for r in results if r.events == TARGET_SIZE), None)
    scaled = next((r for r in results if r.events == SCALED_SIZE), None)
    scaling = at_target is not None and scaled is not None
    header = ["Command", *(f"{r.events:,} events" for r in results)]
    if scaling:
        header.append(f"{SCALED_SIZE // 1000}k / {TARGET_SIZE // 1000}k (<= {SCALING_TARGET:g}x)")
        header.append(f"that / the read's (<= {RELATIVE_GROWTH_TARGET:g}x)")
    header += ["Target (10k)", "10k"]
    rows = []
    for label in results[0].measures:
        cells = [label, *(f"{seconds(r.measures[label].median)}, {r.measures[label].peak:.0f} MB" for r in results)]
        if at_target is not None and scaled is not None:
            grown = scaled.measures[label].median / at_target.measures[label].median
            cells.append(f"{grown:.2f}x" + ("" if label in BASELINES else f" {verdict(grown <= SCALING_TARGET)}"))
            relative = grown / _growth(at_target, scaled, CALAMINE)
            ok = "" if label in BASELINES else f" {verdict(relative <= RELATIVE_GROWTH_TARGET)}"
            cells.append(f"{relative:.2f}x{ok}")
        limit = ABSOLUTE_TARGETS.get(label)
        cells.append(f"< {limit:g} s" if limit else "")
        cells.append(verdict(at_target.measures[label].median < limit) if limit and at_target else "")
        rows.append(cells)
    for check in RATIOS:
        cells = [check.name, *(ratio_text(r, check) for r in results), *(["", ""] if scaling else [])]
        aim = f" (aim {check.aim:g}x)" if check.aim else ""
        cells.append(f"<= {check.target:g}x{aim}")
        cells.append(verdict(ratio_of(at_target, check) <= check.target) if at_target else "")
        rows.append(cells)
    mix = [f"{r.open_events:,} open, {r.file_mb:.1f} MB" for r in results]
    rows.append(["workbook", *mix, *(["", ""] if scaling else []), "", ""])
    lines = [*preamble(results, floor, yardsticks, bytecode), "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join([*lines, "", acceptance(at_target, scaled), *round_spread(at_target), *cpu_table(at_target)])


def round_spread(result: SizeResult | None) -> list[str]:
    """At the target size, each ratio as each round gave it (the command over its baseline of the same round, seconds
    apart): how far one run can move a ratio on this machine, which the medians above do not show."""
    if result is None or result.runs < 2:
        return []
    spreads, fastest = [], []
    for check in RATIOS:
        command, baseline = result.measures[check.command].seconds, result.measures[check.baseline].seconds
        each = sorted(mine / theirs for mine, theirs in zip(command, baseline, strict=True))
        digits = 3 if check.target < 0.5 else 2
        spreads.append(f"{check.name} {each[0]:.{digits}f}x to {each[-1]:.{digits}f}x")
        mark = "" if min(command) / min(baseline) <= check.target else " (over)"
        fastest.append(f"{check.name} {min(command) / min(baseline):.{digits}f}x{mark}")
    return [
        "",
        f"Each ratio round by round at {result.events:,} events, lowest to highest: " + "; ".join(spreads) + ".",
        "",
        f"Each ratio of the fastest of the {result.runs} runs of each (a busy host only ever slows a run, so these "
        "are the least disturbed): " + "; ".join(fastest) + ".",
    ]


def cpu_table(result: SizeResult | None) -> list[str]:
    """At the target size: each command's CPU seconds (every thread, user + system) beside its wall time. A command
    that parses sheets in threads uses more CPU than wall time; on N processors its wall time cannot fall below its
    CPU time / N, which bounds what any overlap can win."""
    if result is None:
        return []
    cores = os.cpu_count() or 1
    lines = [
        "",
        f"CPU time at {result.events:,} events (median; all threads, user + system). On {cores} CPUs no run can end "
        f"sooner than its CPU time / {cores}:",
        "",
        f"| Command | wall | CPU | CPU / wall | CPU / {cores} | CPU / the read's CPU |",
        "|---|---|---|---|---|---|",
    ]
    read = result.measures[CALAMINE].cpu_median
    for label, measure in result.measures.items():
        wall, cpu = measure.median, measure.cpu_median
        lines.append(
            f"| {label} | {seconds(wall)} | {seconds(cpu)} | {cpu / wall:.2f}x | {seconds(cpu / cores)} | "
            f"{cpu / read:.2f}x |"
        )
    return lines


def preamble(results: list[SizeResult], floor: float, yardsticks: tuple[float, float], bytecode: str) -> list[str]:
    """The lines above the table: machine and versions, the workbooks' mix, how each figure was taken."""
    versions = ", ".join(
        f"{name} {version(name)}"
        for name in ("outage-tracker", "openpyxl", "python-calamine", "jsonschema-rs", "click")
    )
    runs = ", ".join(f"{r.runs} at {r.events:,} events" for r in results)
    return [
        f"Measured on {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; {versions} ({source_state()}).",
        "",
        f"Workbooks (bench/rowgen.py): N events in time order, the newest {OPEN_SHARE:.0%} open, the "
        f"{RESOLVED_SHARE:.0%} before them Resolved, the rest Closed; {UPDATES_PER_EVENT} updates per event, "
        f"1 change per {EVENTS_PER_CHANGE} events, every column filled as the event's status allows (open events "
        "and file size in the last row). Each command is a whole process (interpreter start included); time is "
        f"the median wall time of N runs ({runs}), memory the highest peak RSS (measurement floor {floor:.0f} MB); "
        "every run starts from a fresh copy of the workbook, and the baselines run in the same rounds: a bare "
        "`python -c pass` (for `--help`), a bare python-calamine read of every sheet of the same workbook (for the "
        "reads and `update`), a bare openpyxl load + save (for the writes). `update` adds a note to an open event, "
        f"`open` records a new event. {bytecode} Machine yardstick (1M small dicts in pure Python) before / after: "
        f"{yardsticks[0]:.2f} s / {yardsticks[1]:.2f} s; the ratios are steadier than the absolute times.",
    ]


def acceptance(at_target: SizeResult | None, scaled: SizeResult | None) -> str:
    """One line: how many ratios meet their target at 10k, and whether any command grew over 3x up to 50k."""
    if at_target is None:
        return f"No verdicts: the targets are at {TARGET_SIZE:,} events, which this run left out."
    failed = [
        f"{check.name} {ratio_text(at_target, check)}" for check in RATIOS if ratio_of(at_target, check) > check.target
    ]
    text = f"At {TARGET_SIZE:,} events {len(RATIOS) - len(failed)} of {len(RATIOS)} ratios meet their target"
    text += f" (FAIL: {'; '.join(failed)})." if failed else "."
    if scaled is None:
        return text + f" Not run at {SCALED_SIZE:,} events: growth not checked."
    grown = [
        f"{label} {scaled.measures[label].median / at_target.measures[label].median:.2f}x"
        for label in at_target.measures
        if label not in BASELINES and scaled.measures[label].median > SCALING_TARGET * at_target.measures[label].median
    ]
    read = _growth(at_target, scaled, CALAMINE)
    faster = [
        f"{label} {_growth(at_target, scaled, label) / read:.2f}x"
        for label in at_target.measures
        if label not in BASELINES and _growth(at_target, scaled, label) > RELATIVE_GROWTH_TARGET * read
    ]
    text += (
        f" Over {SCALING_TARGET:g}x their {TARGET_SIZE:,}-event time at {SCALED_SIZE:,}: {'; '.join(grown)}."
        if grown
        else f" At {SCALED_SIZE:,} events every command is within {SCALING_TARGET:g}x its {TARGET_SIZE:,}-event time."
    )
    text += f" The bare read itself grew {read:.2f}x;"
    return text + (
        f" growing faster than it: {'; '.join(faster)}."
        if faster
        else f" no command grew over {RELATIVE_GROWTH_TARGET:g}x as fast as it (no step worse than linear)."
    )


def _growth(small: SizeResult, large: SizeResult, label: str) -> float:
    """How many times longer `label` took on the larger workbook."""
    return large.measures[label].median / small.measures[label].median


def seconds(value: float) -> str:
    """A median time as the table shows it: three decimals under 0.1 s, where the ratios to bare python sit."""
    return f"{value:.{3 if value < 0.1 else 2}f} s"


def ratio_of(result: SizeResult, check: Ratio) -> float:
    """Median time of the check's command over the median time of its baseline."""
    return result.measures[check.command].median / result.measures[check.baseline].median


def ratio_text(result: SizeResult, check: Ratio) -> str:
    """The ratio as the table shows it: three decimals for the small write ratios."""
    return f"{ratio_of(result, check):.{3 if check.target < 0.5 else 2}f}x"


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
    open_id, middle_id, _ = pick_ids(source)
    args = {
        "validate": ["validate"],
        "list": ["list", "--open"],
        "show": ["show", middle_id],
        "due": ["due"],
        "publish": ["publish"],
        "report": [*REPORT_ARGS, "--json"],
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
    parser.add_argument(
        "--repeat", type=int, help="runs per command (default: 3; 5 at 10,000 events, where the targets are; 1 above)"
    )
    parser.add_argument("--quick", action="store_true", help="one run per command at every size (as --repeat 1)")
    parser.add_argument("--regen", action="store_true", help="regenerate the cached workbooks in bench/out/")
    parser.add_argument(
        "--profile",
        choices=["validate", "list", "show", "due", "publish", "report", "update", "open"],
        help="also cProfile this command",
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
        repeat = options.repeat or (1 if options.quick or events > TARGET_SIZE else 5 if events == TARGET_SIZE else 3)
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
