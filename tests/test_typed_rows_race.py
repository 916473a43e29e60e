"""Rows people typed are applied exactly once whatever happens around them: two `tracker watch` processes (and
other writers) ticking at once on one local workbook, a `tracker sync` killed with -9 at any point and run again,
and two machines syncing one SharePoint workbook through the Excel service at the same moment (issue 21, point 1's
acceptance). Each typed row is counted: its Applied cell filled once, one "Applied the Updates row typed by" line,
one ID per Events row typed without one (no two events share an ID), one [NEW EVENT] message per event taken in."""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import json
import os
import random
import re
import signal
import time
import warnings
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run, process_env, run_at_once, start_process
from tests.sharepoint_standin import DRIVE_ID, GRAPH_ROOT, StandIn
from tests.test_store_sharepoint import PATH, TOKENS, _config
from tests.typing_rows import type_rows

APPLIED_LINE = "Applied the Updates row typed by "
TITLES = ("Printers down on floor 3", "Wifi slow in B", "Badge readers offline")


def _book(data: Path | bytes) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)


def _sheet(book: Any, name: str) -> list[dict[str, Any]]:
    ws = book[name]
    headers = [c.value for c in ws[1]]
    return [dict(zip(headers, row, strict=False)) for row in ws.iter_rows(min_row=2, values_only=True) if any(row)]


def _open_more(run: Run) -> list[str]:
    """Two more open events beside the example's: their IDs."""
    for n in range(2):
        opened = run(
            "open", "--title", f"outage {n}", "--severity", "Sev 2", "--service", "VPN", "--impact", "x",
            "--set", "event_manager=Ravi Menon",
        )  # fmt: skip
        assert opened.exit_code == 0, opened.stderr
    return [suite_clock.event_id(n) for n in (2, 3)]


def _typed(ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Updates rows for every event (two for the first), and Events rows with only a title."""
    updates = [
        {"Event ID": key, "Status": "Monitoring", "Note": f"typed note {n}", "Author": f"Typist {n}"}
        for n, key in enumerate([ids[0], *ids])
    ]
    return {"Updates": updates, "Events": [{"Title": title} for title in TITLES]}


def assert_applied_once(book: Any, typed: dict[str, list[dict[str, Any]]], outbox: Path | None = None) -> None:
    """Each typed Updates row is on the sheet once with its Applied cell filled and one timeline line saying tracker
    applied it; each typed Events row has an ID of its own, one "Taken in" line, and (with `outbox`) one [NEW EVENT]
    message."""
    updates = _sheet(book, "Updates")
    for row in typed["Updates"]:
        mine = [r for r in updates if r["Note"] == row["Note"]]
        assert len(mine) == 1, f"{row['Note']!r} is on the sheet {len(mine)} times"
        assert str(mine[0]["Applied"] or "").startswith("applied "), mine[0]
    lines = [str(r["Note"]) for r in updates if str(r["Note"] or "").startswith(APPLIED_LINE)]
    said = Counter(line.split(" at ")[0].removeprefix(APPLIED_LINE) for line in lines)
    assert said == Counter(row["Author"] for row in typed["Updates"]), lines
    events = _sheet(book, "Events")
    ids = [str(r["ID"]) for r in events]
    assert len(ids) == len(set(ids)), f"two events share an ID: {ids}"
    titles = [str(row["Title"]) for row in typed.get("Events", [])]
    taken = {str(r["Title"]): str(r["ID"] or "") for r in events if r["Title"] in titles}
    assert sorted(taken) == sorted(titles) and all(taken.values()), taken
    firsts = Counter(str(r["Event ID"]) for r in updates if str(r["Note"] or "").startswith("Taken in from "))
    assert firsts == Counter(taken.values()), firsts
    if outbox is not None:
        subjects = [
            str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"])  # type: ignore[arg-type]
            for p in outbox.glob("*.eml")
        ]
        told = Counter(re.sub(r":.*", "", s.removeprefix("[NEW EVENT] ")) for s in subjects if "[NEW EVENT]" in s)
        assert told == Counter(taken.values()), subjects


@pytest.mark.slow
def test_two_watches_and_other_writers_apply_each_typed_row_once(run: Run, example: Path, tmp_path: Path) -> None:
    """Two `tracker watch` processes started together on one local workbook (the second refuses in one line when it
    finds the first running: one watch per workbook), with two `sync`s and a `due --remind` racing them: every typed
    Updates row applied once, every typed Events row given its own ID, one [NEW EVENT] message per event taken in."""
    ids = [suite_clock.event_id(1), *_open_more(run)]
    typed = _typed(ids)
    type_rows(example, "openpyxl", typed)
    watch = ["watch", "--ticks", "3", "--every", "1m"]
    results = run_at_once([watch, watch, ["sync"], ["due", "--remind"], ["sync"]], tmp_path, process_env())
    for result in results[:2]:
        refused = "another `tracker watch` is running for this workbook" in result.stderr
        assert result.returncode == 0 or (result.returncode == 2 and refused), result.stderr
        assert "Traceback" not in result.stderr, result.stderr
    assert results[2].returncode == 0 and results[4].returncode == 0, [results[2].stderr, results[4].stderr]
    assert "Traceback" not in results[3].stderr, results[3].stderr
    assert run("validate").exit_code == 0
    assert_applied_once(_book(example), typed, tmp_path / "outbox")


# --- workbook-api mode: rows typed in Excel Online, applied through the Excel service -------------------------------


@pytest.fixture
def mode() -> str:
    """The `sp` fixture's write mode: the Excel service (the SharePoint default)."""
    return "workbook-api"


def type_in_excel_online(sp: StandIn, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Another client typing through the Excel service, as Excel Online does: a row added to the sheet's table with
    its values in header order, cells left empty sent as ""."""
    graph = sp.graph_session()
    graph.headers["Authorization"] = "Bearer " + TOKENS["TRACKER_GRAPH_TOKEN"]
    drive = f"{GRAPH_ROOT}/drives/{DRIVE_ID}"
    item = graph.get(f"{drive}/root:/{PATH.rsplit('/', 1)[1]}").json()["id"]
    book = _book(sp.live_copy(PATH))
    for sheet, typed in rows.items():
        headers = [c.value for c in book[sheet][1]]
        values = [[row.get(h, "") for h in headers] for row in typed]
        added = graph.post(f"{drive}/items/{item}/workbook/tables/{sheet}Table/rows/add", json={"values": values})
        assert added.status_code == 200, added.text


def test_rows_typed_in_excel_online_are_applied_through_the_excel_service(
    run: Run, sp: StandIn, event_id: str, at: Any
) -> None:
    """Rows typed through the Excel service by another client (an Updates row with Monitoring, an Events row with
    only a title), then `tracker sync` in workbook-api mode while the service saves late: the event moves to
    Monitoring with Next Update Due a cadence on, the typed row's own Applied cell is filled, the Events row gets
    the next ID; a second sync applies nothing (it sees its own writes before the file shows them)."""
    typed = {
        "Updates": [{"Event ID": event_id, "Status": "Monitoring", "Note": "VPN is back", "Author": "Dana Lee"}],
        "Events": [{"Title": TITLES[0]}],
    }
    type_in_excel_online(sp, typed)
    sp.persist(PATH)  # Excel Online saved what was typed
    sp.save_late(PATH)  # tracker's writes wait in the service's copy
    seen = suite_clock.NOW + timedelta(minutes=4)
    at(seen)
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    book = _book(sp.live_copy(PATH))
    event = next(r for r in _sheet(book, "Events") if r["ID"] == event_id)
    assert event["Status"] == "Monitoring"
    assert event["Next Update Due (UTC)"] == (seen + timedelta(minutes=30)).replace(tzinfo=None)
    updates = _sheet(book, "Updates")
    mine = next(r for r in updates if r["Note"] == "VPN is back")
    assert str(mine["Applied"]).startswith("applied ") and mine["Author"] == "Dana Lee"
    assert all(r["Applied"] for r in updates), "a row tracker wrote has no Applied mark, or the wrong row got it"
    taken = next(r for r in _sheet(book, "Events") if r["Title"] == TITLES[0])
    assert taken["ID"] == suite_clock.event_id(2)
    again = run("sync")
    assert again.exit_code == 0 and again.stdout.strip() == "nothing pending", again.stdout
    sp.persist(PATH)
    assert_applied_once(_book(sp.get_file(PATH)), typed)


def _machines(tmp_path: Path, count: int) -> list[tuple[Path, dict[str, str]]]:
    """`count` machines on the one SharePoint workbook: each its own folder (tracker.toml, outbox), state folder
    (journal, recent writes) and temporary folder (its locks)."""
    out = []
    for n in range(count):
        folder = tmp_path / f"machine-{n}"
        for sub in ("state", "tmp"):
            (folder / sub).mkdir(parents=True)
        (folder / "tracker.toml").write_text((tmp_path / "tracker.toml").read_text())
        out.append((folder, process_env(**TOKENS, TRACKER_STATE_DIR=str(folder / "state"), TMPDIR=str(folder / "tmp"))))
    return out


def _at_once(command: list[str], machines: list[tuple[Path, dict[str, str]]]) -> list[tuple[int, str, str]]:
    procs = [start_process(*command, cwd=folder, env=env) for folder, env in machines]
    ended = [proc.communicate(timeout=180) for proc in procs]
    return [(proc.returncode, out, err) for proc, (out, err) in zip(procs, ended, strict=True)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("write_mode", "late"),
    [("workbook-api", False), ("workbook-api", True), ("upload", False)],
    ids=["saved-at-once", "saved-late", "upload"],
)
def test_two_machines_syncing_at_once_apply_each_typed_row_once(
    run: Run, sp: StandIn, tmp_path: Path, write_mode: str, late: bool
) -> None:
    """Two machines run `tracker sync` at the same moment on one SharePoint workbook, their writes held until both
    have read it (they truly collide; the Excel service adds rows without a condition, an upload is If-Match): each
    typed Updates row is applied once (one timeline line), each typed Events row gets one ID, no two events share
    one, and both commands end well; a later sync on either machine applies nothing more."""
    (tmp_path / "tracker.toml").write_text(_config(sp, write_mode))
    ids = [suite_clock.event_id(1)]
    typed = {
        "Updates": [
            {"Event ID": ids[0], "Status": "Monitoring", "Note": "typed note 0", "Author": "Typist 0"},
            {"Event ID": ids[0], "Status": "Monitoring", "Note": "typed note 1", "Author": "Typist 1"},
        ],
        "Events": [{"Title": title} for title in TITLES[:2]],
    }
    type_in_excel_online(sp, typed)
    if late:
        sp.save_late(PATH)
    machines = _machines(tmp_path, 2)
    sp.hold_writes(2)
    results = _at_once(["sync"], machines)
    assert sp.gate_timeouts == 0
    for code, _out, err in results:
        assert code == 0 and "Traceback" not in err, err
    for code, out, err in _at_once(["sync"], machines):
        assert code == 0 and "applied the row" not in out, out + err
    sp.persist(PATH)
    assert_applied_once(_book(sp.get_file(PATH)), typed)
    checked = run("validate")  # the withdrawn lines are tracker's bookkeeping: no contradiction, no error
    assert checked.exit_code == 0, checked.stdout
    assert json.loads(run("show", suite_clock.event_id(1), "--json").stdout)["event"]["status"] == "Monitoring"


# --- kill -9 at any point of `tracker sync` applying typed rows ---------------------------------------------------

KILLS = int(os.environ.get("TRACKER_TEST_KILLS", "4"))  # as tests/test_kill_matrix.py, with its TRACKER_TEST_SEED
SEED = os.environ.get("TRACKER_TEST_SEED", "")


def _type(where: str, example: Path, sp: StandIn | None, rows: dict[str, list[dict[str, Any]]]) -> None:
    if sp is None:
        type_rows(example, "openpyxl", rows)
    else:
        type_in_excel_online(sp, rows)
        sp.persist(PATH)  # Excel Online saves what people type within seconds (a download shows it)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["local", "workbook-api", "workbook-api-saving-late"])
def test_a_sync_killed_at_any_point_applies_each_typed_row_once(
    run: Run, example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Each trial types new rows (an Updates row for one of three events, an Events row with only a title), starts
    `tracker sync` and kills it with -9 (now and then Ctrl-C) at a random moment of its run; the next trial's sync
    is its re-run, and a last sync is not killed. Then every typed row is applied exactly once, every report has an
    ID of its own, nothing typed is lost, and `tracker validate` passes."""
    ids = [suite_clock.event_id(1), *_open_more(run)]
    chance = random.Random(f"{where}{SEED}")
    typed: dict[str, list[dict[str, Any]]] = {"Updates": [], "Events": []}
    with contextlib.ExitStack() as stack:
        sp = None
        if where != "local":
            sp = stack.enter_context(StandIn())
            sp.put_file(PATH, example.read_bytes())
            example.unlink()
            (tmp_path / "tracker.toml").write_text(_config(sp, "workbook-api"))
            if where.endswith("late"):
                sp.save_late(PATH)  # what tracker writes waits in the service's copy until its session closes
            for name, value in TOKENS.items():
                monkeypatch.setenv(name, value)
        env = process_env(**TOKENS)
        took = 0.0
        for trial in range(KILLS + 1):
            rows = {
                "Updates": [
                    {
                        "Event ID": ids[trial % 3],
                        "Status": "Monitoring",
                        "Note": f"typed {trial}",
                        "Author": f"T{trial}",
                    }
                ],
                "Events": [{"Title": f"reported in trial {trial}"}],
            }
            _type(where, example, sp, rows)
            typed["Updates"] += rows["Updates"]
            typed["Events"] += rows["Events"]
            began = time.monotonic()
            proc = start_process("sync", cwd=tmp_path, env=env)
            if trial:  # the first run is timed, never stopped
                time.sleep(chance.uniform(0.25, 1.0) * took)  # from Python's start-up to the run's last write
                proc.send_signal(signal.SIGINT if trial % 4 == 0 else signal.SIGKILL)
            _, err = proc.communicate(timeout=120)
            took = took or time.monotonic() - began
            assert "Traceback" not in err, err
        for _last in range(2):
            last = start_process("sync", cwd=tmp_path, env=env)
            out, err = last.communicate(timeout=120)
            assert last.returncode == 0 and "Traceback" not in err, out + err
        assert out.strip() == "nothing pending", out
        checked = run("validate")
        assert checked.exit_code == 0, checked.stdout + checked.stderr
        book = _book(example if sp is None else sp.live_copy(PATH))
        if sp is not None:
            assert sp.errors == []
    assert_applied_once(book, typed)


@pytest.mark.slow
@pytest.mark.parametrize("order", ["together", "open-lands-first"])
def test_an_event_taken_in_while_another_machine_opens_one_gets_its_own_id(
    sp: StandIn, tmp_path: Path, order: str
) -> None:
    """One machine takes in an Events row typed without an ID while another opens an event at the same moment
    (both chose the next ID from the same workbook; the writes held until both arrive, or the other machine's
    `open` landing whole just before the sync's write): the two events end with different IDs, each event's first
    timeline line names its own, and the row taken in is told once."""
    typed = {"Events": [{"Title": TITLES[0]}], "Updates": []}
    type_in_excel_online(sp, typed)
    (first, first_env), (second, second_env) = _machines(tmp_path, 2)
    opening = ["open", "--title", "opened at once", "--severity", "Sev 2"]
    outputs: list[tuple[str, str]] = []
    if order == "together":
        sp.hold_writes(2)
        procs = [start_process("sync", cwd=first, env=first_env), start_process(*opening, cwd=second, env=second_env)]
        ended = [proc.communicate(timeout=180) for proc in procs]
        assert [p.returncode for p in procs] == [0, 0], ended
        assert sp.gate_timeouts == 0
    else:

        def other_machine_opens(_sp: StandIn) -> None:
            other = start_process(*opening, cwd=second, env=second_env)
            outputs.append(other.communicate(timeout=180))
            assert other.returncode == 0, outputs

        sp.before_next_write(other_machine_opens)
        synced = start_process("sync", cwd=first, env=first_env)
        ended = [synced.communicate(timeout=180), *outputs]
        assert synced.returncode == 0, ended
    for folder, env in ((first, first_env), (second, second_env)):
        again = start_process("sync", cwd=folder, env=env)
        out, err = again.communicate(timeout=180)
        assert again.returncode == 0, out + err
    sp.persist(PATH)
    book = _book(sp.get_file(PATH))
    assert_applied_once(book, typed)
    events = {str(r["Title"]): str(r["ID"]) for r in _sheet(book, "Events")}
    opened = ended[1][0].strip()
    assert events["opened at once"] == opened and events[TITLES[0]] != opened, events
    firsts = [r for r in _sheet(book, "Updates") if str(r["Note"] or "").startswith(("Event opened", "Taken in"))]
    assert {str(r["Event ID"]) for r in firsts} >= {opened, events[TITLES[0]]}, firsts


def test_a_typed_row_older_than_the_last_update_is_said_and_marked_once(run: Run, example: Path, at: Any) -> None:
    """A row typed with an At before the event's last update does not move the event back (it moved on since): it
    stays on the timeline as typed, sync names its At cell and why once, and marks it so no later write or watch
    tick looks at it again."""
    shown = run("show", suite_clock.event_id(1), "--json")
    last = suite_clock.parse(json.loads(shown.stdout)["event"]["last_update_at"])
    old = {
        "Event ID": suite_clock.event_id(1),
        "At (UTC)": (last - timedelta(minutes=20)).replace(tzinfo=None),
        "Status": "Monitoring",
        "Note": "it looked better for a while",
        "Author": "Dana Lee",
    }
    type_rows(example, "openpyxl", {"Updates": [old]})
    at(suite_clock.NOW + timedelta(minutes=5))
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    row = next(i for i, r in enumerate(_sheet(_book(example), "Updates"), start=2) if r["Note"] == old["Note"])
    assert f"warning: Updates!B{row}:" in synced.stdout and "not after the event's last update" in synced.stdout
    mine = next(r for r in _sheet(_book(example), "Updates") if r["Note"] == old["Note"])
    assert mine["Status"] == "Monitoring" and mine["At (UTC)"] == old["At (UTC)"]  # as typed
    assert str(mine["Applied"]).startswith("not applied ")
    assert json.loads(run("show", suite_clock.event_id(1), "--json").stdout)["event"]["status"] == "Identified"
    assert run("sync").stdout.strip() == "nothing pending"


def _outboxes(folders: list[Path]) -> list[str]:
    return [
        str(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Subject"])  # type: ignore[arg-type]
        for folder in folders
        for p in (folder / "outbox").glob("*.eml")
    ]


@pytest.mark.slow
def test_two_machines_watching_one_sharepoint_workbook_apply_each_typed_row_once(sp: StandIn, tmp_path: Path) -> None:
    """Two machines each run `tracker watch` (three ticks) on one SharePoint workbook in workbook-api mode, started
    together, with Updates rows for the example event and Events rows typed before: every typed row applied once,
    each report one ID of its own, and one [NEW EVENT] message per event taken in across both machines' outboxes."""
    typed = {
        "Updates": [
            {"Event ID": suite_clock.event_id(1), "Status": "Monitoring", "Note": f"typed note {n}", "Author": f"T{n}"}
            for n in range(2)
        ],
        "Events": [{"Title": title} for title in TITLES],
    }
    type_in_excel_online(sp, typed)
    machines = _machines(tmp_path, 2)
    results = _at_once(["watch", "--ticks", "3", "--every", "1m"], machines)
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err, out + err
    sp.persist(PATH)
    book = _book(sp.get_file(PATH))
    assert_applied_once(book, typed)
    taken = {str(r["ID"]) for r in _sheet(book, "Events") if r["Title"] in TITLES}
    told = Counter(s.split(":")[0].removeprefix("[NEW EVENT] ") for s in _outboxes([f for f, _ in machines]))
    assert {k: n for k, n in told.items() if k in taken} == dict.fromkeys(taken, 1), told


def test_a_time_typed_as_text_is_named_and_never_overwritten(run: Run, example: Path, at: Any) -> None:
    """An Updates row whose At or ETA was typed as text (a Text-formatted cell keeps `14:32 yesterday` as text) is not
    applied: sync names the cell and what to type, the text stays as typed (tracker never writes its own time over
    it), the event does not move, and the row is applied once the person types a time."""
    key = suite_clock.event_id(1)
    rows = [
        {"Event ID": key, "At (UTC)": "14:32 yesterday", "Status": "Monitoring", "Note": "at as text", "Author": "D"},
        {"Event ID": key, "ETA (UTC)": "soon", "Status": "Monitoring", "Note": "eta as text", "Author": "E"},
    ]
    type_rows(example, "openpyxl", {"Updates": rows})
    at(suite_clock.NOW + timedelta(minutes=5))
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    numbers = {r["Note"]: i for i, r in enumerate(_sheet(_book(example), "Updates"), start=2)}
    assert f"warning: Updates!B{numbers['at as text']}: '14:32 yesterday' is not a date and time" in synced.stdout
    assert f"warning: Updates!F{numbers['eta as text']}: 'soon' is not a date and time" in synced.stdout
    updates = {r["Note"]: r for r in _sheet(_book(example), "Updates")}
    assert updates["at as text"]["At (UTC)"] == "14:32 yesterday" and updates["at as text"]["Applied"] is None
    assert updates["eta as text"]["ETA (UTC)"] == "soon" and updates["eta as text"]["Applied"] is None
    assert json.loads(run("show", key, "--json").stdout)["event"]["status"] == "Identified"
    book = _book(example)
    book["Updates"][f"B{numbers['at as text']}"] = (suite_clock.NOW + timedelta(minutes=4)).replace(tzinfo=None)
    book["Updates"][f"F{numbers['eta as text']}"] = None
    book.save(example)
    fixed = run("sync")
    assert fixed.stdout.count("applied the row typed in Updates!") == 2, fixed.stdout + fixed.stderr
    assert json.loads(run("show", key, "--json").stdout)["event"]["status"] == "Monitoring"


def test_a_report_whose_detected_time_is_text_waits_with_the_cell_named(run: Run, example: Path) -> None:
    """An Events row typed without an ID whose Detected was typed as text is not taken in with tracker's time written
    over it: sync names the cell, the row stays as typed (no ID) until a time is typed."""
    type_rows(example, "openpyxl", {"Events": [{"Title": TITLES[0], "Detected (UTC)": "this morning"}]})
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    assert "warning: Events!K3: 'this morning' is not a date and time" in synced.stdout, synced.stdout
    row = next(r for r in _sheet(_book(example), "Events") if r["Title"] == TITLES[0])
    assert row["ID"] is None and row["Detected (UTC)"] == "this morning"


def test_each_write_of_typed_rows_fits_one_graph_batch(run: Run, sp: StandIn, event_id: str) -> None:
    """Through the Excel service every write `tracker sync` makes of typed rows goes in one Graph batch (the service
    runs a batch whole, so a stop between two can never leave a row half applied), however many rows wait: here a
    dozen rows typed late (kept as history), two Updates rows to apply and a report to take in."""
    shown = json.loads(run("show", event_id, "--json").stdout)["event"]
    last = suite_clock.parse(shown["last_update_at"]).replace(tzinfo=None)
    late = [
        {"Event ID": event_id, "At (UTC)": f"{last - timedelta(minutes=30 + n):%Y-%m-%d %H:%M}", "Status": "Identified",
         "Note": f"late {n}", "Author": "Dana Lee"}
        for n in range(12)
    ]  # fmt: skip
    now = [{"Event ID": event_id, "Status": "Monitoring", "Note": f"typed {n}", "Author": "Sam"} for n in range(2)]
    typed = {"Updates": late + now, "Events": [{"Title": TITLES[0]}]}
    type_in_excel_online(sp, typed)
    sp.batched.clear()
    synced = run("sync")
    assert synced.exit_code == 0, synced.stderr
    batches: dict[int, list[str]] = {}
    for request in sp.batched:
        batches.setdefault(request["batch"], []).append(str(request["path"]))
    split = [n for n, paths in batches.items() if not paths[-1].endswith("/closeSession")]
    assert split == [], f"a write went in more than one batch: {batches}"
    assert_applied_once(_book(sp.live_copy(PATH)), {"Updates": now, "Events": typed["Events"]})
    marks = [r["Applied"] for r in _sheet(_book(sp.live_copy(PATH)), "Updates") if str(r["Note"]).startswith("late ")]
    assert len(marks) == 12 and all(str(m).startswith("not applied ") for m in marks), marks
