"""Careless and hostile input (issue 9): a clear error every time, never a traceback, never silent acceptance."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from tests import suite_clock
from tests.conftest import Run, error_lines, process_env, run_process
from tests.smtp_server import Recorder, smtp_server
from tests.test_cli_notify import _use_smtp
from tests.test_notify_once import ctrl_c_at_message
from tracker.errors import WorkbookError

pytestmark = pytest.mark.dateshift  # CI runs these again at the next 1 January and on 29 February 2028


def add_distribution(path: Path, rows: list[list[object]]) -> None:
    """Append Distribution rows and grow the table over them, as Excel does when someone pastes a list."""
    book = openpyxl.load_workbook(path)
    ws = book["Distribution"]
    for row in rows:
        ws.append(row)
    table = ws.tables["DistributionTable"]
    table.ref = f"{table.ref.split(':')[0]}:{table.ref.split(':')[1].rstrip('0123456789')}{ws.max_row}"
    book.save(path)


def test_a_long_list_goes_out_in_messages_of_at_most_500(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """1,200 Bcc rows for the customer: messages of at most 500 recipients (a server refusing more, like Exchange
    Online, refuses none), each with the same To and Cc, the Bcc spread evenly; each logged; a rerun sends none."""
    add_distribution(
        example, [["customer", f"Reader {n}", f"reader{n}@example.com", "Bcc", "Yes"] for n in range(1200)]
    )
    with smtp_server(Recorder(max_recipients=500)) as (server, port):
        _use_smtp(tmp_path, port)
        result = run("notify", event_id, "--audience", "customer")
        assert result.exit_code == 0, result.stderr
        again = run("notify", event_id, "--audience", "customer")
    assert again.exit_code == 0 and again.stdout.count("already sent") == 1  # one line for the audience
    assert len(server.received) == 3
    envelopes = [sorted(r.rcpt_tos) for r in server.received]
    assert all(len(e) <= 500 for e in envelopes)
    wanted = {f"reader{n}@example.com" for n in range(1200)} | {
        "customer-ops@example.com",
        "account.manager@example.com",
    }
    assert set().union(*envelopes) == wanted
    assert sorted(len(e) for e in envelopes) == [401, 401, 402]  # 1 To + 1,201 Bcc: 401, 400, 400
    visible = {str(r.message["To"]) for r in server.received}
    assert len(visible) == 1 and "customer-ops@example.com" in visible.pop()
    assert all(r.message["Bcc"] is None for r in server.received)
    book = openpyxl.load_workbook(example)
    logged = [row for row in book["Notifications"].iter_rows(min_row=2, values_only=True) if row[0]]
    assert len(logged) == 3 and len({row[7] for row in logged}) == 3


def test_a_stop_after_the_first_part_sends_only_the_rest(
    run: Run, example: Path, event_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after part 1 of 3 went out: the next run sends parts 2 and 3, not part 1 again."""
    from tracker.sending.transports import OutboxTransport

    add_distribution(
        example, [["customer", f"Reader {n}", f"reader{n}@example.com", "Bcc", "Yes"] for n in range(1200)]
    )
    original = ctrl_c_at_message(monkeypatch, 2)
    assert run("notify", event_id, "--audience", "customer").exit_code == 130
    monkeypatch.setattr(OutboxTransport, "send_one", original)
    rest = run("notify", event_id, "--audience", "customer")
    assert rest.exit_code == 1, rest.stderr  # part 2: handed over when stopped, not resent; someone must say
    assert f"{event_id} customer: initial " in rest.stderr and "no answer came" in rest.stderr
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2  # part 1 before the stop, part 3 now
    bccs = [
        {a.addr_spec for a in email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["Bcc"].addresses}  # type: ignore[union-attr]
        for p in files
    ]
    assert (len(bccs[0]), len(bccs[1])) == (401, 400) and not bccs[0] & bccs[1]


def test_more_to_and_cc_than_fit_one_message_is_refused(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """600 To rows: nothing is sent, and the error says to make most of them Bcc."""
    add_distribution(example, [["customer", f"Reader {n}", f"reader{n}@example.com", "To", "Yes"] for n in range(600)])
    result = run("notify", event_id, "--audience", "customer")
    assert result.exit_code == 1
    assert "more than fit one message ([mail] max_recipients = 500)" in result.stderr and "Bcc" in result.stderr
    assert not list((tmp_path / "outbox").glob("*.eml"))


def test_an_unexpected_failure_is_one_line_and_a_private_report(
    run: Run, example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (here: the store raising what no code expects) prints one line naming the command and the report file
    under the user's cache folder, exit 3; --verbose prints the report; the report is readable only by the user."""
    from tracker.cli.state import State

    def broken(self, **_options):  # type: ignore[no-untyped-def]
        raise RuntimeError("something no one foresaw")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(State, "store", broken)
    result = run("list")
    assert result.exit_code == 3
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "`tracker list` failed unexpectedly (RuntimeError: something no one foresaw)" in result.stderr
    (report,) = (tmp_path / "cache" / "tracker" / "crash-reports").iterdir()
    assert str(report) in result.stderr
    assert "Traceback" in report.read_text() and "RuntimeError" in report.read_text()
    assert report.stat().st_mode & 0o077 == 0
    verbose = run("--verbose", "list")
    assert verbose.exit_code == 3 and "Traceback" in verbose.stderr


def _mount_tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def test_a_full_disk_during_update_is_one_line_and_loses_nothing(run: Run, tmp_path: Path) -> None:
    """The tracker's folder is a small tmpfs, filled up: `update` says the disk is full in one line, exit 1, and the
    workbook is exactly as it was."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        assert run_process("init", "--example", "--name", "A B", cwd=disk).returncode == 0
        before = (disk / "events.xlsx").read_bytes()
        filler = disk / "filler"
        with filler.open("wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        full = run_process("update", suite_clock.event_id(), "--note", "x" * 5000, cwd=disk)
        assert full.returncode == 1, full.stderr
        assert "Traceback" not in full.stderr and "No space left on device" in full.stderr
        assert len(error_lines(full.stderr)) == 1, full.stderr
        assert (disk / "events.xlsx").read_bytes() == before
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def _set_title(path: Path, event_id: str, title: str) -> None:
    book = openpyxl.load_workbook(path)
    ws = book["Events"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == event_id:
            row[1].value = title
    book.save(path)


def test_control_characters_from_the_workbook_reach_no_header_and_no_terminal(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """A title holding ESC and BEL as Excel stores them (`_x001B_`, `_x0007_`): the email Subject carries neither,
    and `list` and `show` print them as visible escapes, not raw."""
    _set_title(example, event_id, "Email _x001B_[2J_x001B_[31moutage _x0007_now")
    listed = run("list")
    shown = run("show", event_id)
    for output in (listed.stdout, shown.stdout):
        assert "\x1b" not in output and "\x07" not in output and "\\x1b[31moutage" in output
    run("notify", event_id, "--audience", "leadership")
    for path in (tmp_path / "outbox").glob("*.eml"):
        subject = str(email.message_from_bytes(path.read_bytes(), policy=email.policy.default)["Subject"])
        assert not any(ord(ch) < 32 for ch in subject), repr(subject)


def test_a_lock_file_cannot_forge_lines_or_colours(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """A LibreOffice lock file whose owner name holds CR/LF and ESC: one `error:` line, the owner shown escaped."""
    lock = tmp_path / f".~lock.{example.name}#"
    lock.write_bytes(b"M,Mallory\r\nerror: all data deleted\x1b[2J,host,21.11.2026 14:00,file:///x;")
    result = run("update", event_id, "--note", "x")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "\x1b" not in result.stderr
    assert "Mallory\\r\\nerror: all data deleted\\x1b[2J" in result.stderr


def _cells(path: Path, sheet: str, values: dict[str, object]) -> None:
    book = openpyxl.load_workbook(path)
    for ref, value in values.items():
        book[sheet][ref].value = value
    book.save(path)


def _error_cell(path: Path, sheet_part: str, ref: str, error: str) -> None:
    """Make `ref` a formula cell whose cached value is an Excel error, as Excel saves a broken VLOOKUP."""
    import re
    import zipfile

    data = path.read_bytes()
    out_path = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out_path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == sheet_part:
                text = body.decode()
                cell = f'<c r="{ref}" t="e"><f>VLOOKUP(1,Z1:Z2,2,0)</f><v>{error}</v></c>'
                text, count = re.subn(rf'<c r="{ref}"[^>]*?(?:/>|>.*?</c>)', cell, text, count=1, flags=re.S)
                assert count == 1
                body = text.encode()
            out.writestr(info, body)
    assert data != out_path.read_bytes()
    out_path.replace(path)


def test_names_in_email_cells_are_refused_by_validate_and_notify(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """`CEO <evil@evil.test>` or two addresses in one Email cell: validate names the cell; notify sends nothing."""
    _cells(example, "Distribution", {"C2": "CEO <evil@evil.test>", "C3": "a <x@example.com>, b <z@example.com>"})
    checked = run("validate")
    assert checked.exit_code == 1
    assert "Distribution!C2 (Email): 'CEO <evil@evil.test>' is not one bare email address" in checked.stdout
    assert "Distribution!C3 (Email)" in checked.stdout
    sent = run("notify", event_id)
    assert sent.exit_code == 1 and "Distribution!C2" in sent.stderr
    assert not list((tmp_path / "outbox").glob("*.eml"))


def test_control_characters_in_cells_are_errors(run: Run, example: Path, event_id: str) -> None:
    """BEL stored as Excel's `_x0007_` escape in a title: validate reports the cell and the character."""
    _set_title(example, event_id, "Email outage _x0007_ all sites")
    checked = run("validate")
    assert checked.exit_code == 1
    assert "Events!B2 (Title): " in checked.stdout and "control character U+0007" in checked.stdout
    assert "\x07" not in checked.stdout


@pytest.mark.parametrize(
    ("stored", "code"),
    [
        (b"Email outage &#7; all sites", "U+0007"),  # a character reference
        (b"Email outage &#x1B; all sites", "U+001B"),
        (b"Email outage \x07 all sites", "U+0007"),  # the raw byte (not XML 1.0, yet some writers put it)
        (b"Email outage \xc2\x85 all sites", "U+0085"),  # a C1 control in UTF-8
        (b"Email outage _x007F_ all sites", "U+007F"),
        (b"Email outage A&#95;x0007_B all sites", "U+0007"),  # an escape spelt with a reference: _x0007_
    ],
)
def test_control_characters_are_found_however_the_file_stores_them(
    run: Run, example: Path, event_id: str, stored: bytes, code: str
) -> None:
    """validate looks at a sheet's cells for control characters only when its XML may hold one (issue 23: most
    sheets hold none): each way the file can store one is still seen, and named by its cell."""
    _set_title(example, event_id, "MARKER")
    _replace_in_part(example, b"MARKER", stored)
    checked = run("validate")
    assert checked.exit_code == 1
    assert "Events!B2 (Title): " in checked.stdout and f"control character {code}" in checked.stdout


def test_a_control_character_in_the_shared_strings_is_found(run: Run, example: Path, event_id: str) -> None:
    """A file Excel saved keeps the text in its shared strings part, not in the sheet: that part is looked at too."""
    _set_title(example, event_id, "MARKER")
    _replace_in_part(example, b"MARKER", b"Email outage _x0007_ all sites", shared=True)
    checked = run("validate")
    assert checked.exit_code == 1 and "control character U+0007" in checked.stdout


def _replace_in_part(path: Path, old: bytes, new: bytes, shared: bool = False) -> None:
    """Rewrite the text `old` in the Events sheet's XML; with `shared`, move the cell into a shared strings part."""
    import io
    import zipfile

    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    sheet = next(n for n, data in parts.items() if n.startswith("xl/worksheets/sheet") and old in data)
    if not shared:
        parts[sheet] = parts[sheet].replace(old, new)
    else:
        cell = b'<c r="B2"'
        start = parts[sheet].index(cell)
        end = parts[sheet].index(b"</c>", start) + 4
        style = re.search(rb'\ss="\d+"', parts[sheet][start:end])
        parts[sheet] = (
            parts[sheet][:start]
            + b'<c r="B2"'
            + (style[0] if style else b"")
            + b' t="s"><v>0</v></c>'
            + (parts[sheet][end:])
        )
        main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        parts["xl/sharedStrings.xml"] = (
            f'<sst xmlns="{main}" count="1" uniqueCount="1"><si><t>'.encode() + new + b"</t></si></sst>"
        )
        kind = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
        rels = "xl/_rels/workbook.xml.rels"
        parts[rels] = parts[rels].replace(
            b"</Relationships>",
            f'<Relationship Id="rIdSst" Type="{kind}" Target="sharedStrings.xml"/>'.encode() + b"</Relationships>",
        )
        content = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{content}"/>'.encode() + b"</Types>"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())


def test_an_excel_error_in_a_cell_has_one_wording_everywhere(
    run: Run, example: Path, event_id: str, tmp_path: Path
) -> None:
    """#N/A in the event's Severity (a broken lookup): validate, update and notify all name the cell and the error,
    in the same words, and nothing is written or sent."""
    _error_cell(example, "xl/worksheets/sheet1.xml", "C2", "#N/A")
    wording = "Events!C2 (Severity): shows the Excel error #N/A (a formula or reference that no longer works)"
    checked = run("validate")
    assert checked.exit_code == 1 and wording in checked.stdout
    assert checked.stdout.count("Events!C2") == 1  # once: not also "Severity is required"
    before = example.read_bytes()
    updated = run("update", event_id, "--note", "x")
    notified = run("notify", event_id)
    for result in (updated, notified):
        assert result.exit_code == 1 and wording in result.stderr, result.stderr
    assert example.read_bytes() == before and not list((tmp_path / "outbox").glob("*.eml"))


def test_an_audience_with_no_active_recipient_fails_validate(run: Run, example: Path) -> None:
    """Every customer row set inactive: validate says which severity cell names an audience nobody is in."""
    book = openpyxl.load_workbook(example)
    ws = book["Distribution"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "customer":
            row[4].value = "No"
    book.save(example)
    checked = run("validate")
    assert checked.exit_code == 1
    assert "audience 'customer' has no active recipient on the Distribution sheet" in checked.stdout
    assert "Severities!F2 (Audiences Notified)" in checked.stdout


def test_small_messages_say_what_they_mean(run: Run, example: Path, tmp_path: Path) -> None:
    """validate's verdict on stdout; whoami on a local tracker exits 0; --config FOLDER finds its tracker.toml;
    JSON Yes/No columns are booleans; init without --example says what to fill before `open` can work."""
    assert "events.xlsx: ok" in run("validate").stdout
    who = run("whoami")
    assert who.exit_code == 0 and "no sign-in needed" in who.stdout
    assert run("--config", str(tmp_path), "list").exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    folder = run("--config", str(empty), "list")
    assert folder.exit_code == 2 and "is a folder with no tracker.toml" in folder.stderr
    import json

    shown = json.loads(run("show", suite_clock.event_id(), "--json").stdout)
    assert {e["internal"] for e in shown["timeline"] if e["kind"] == "update"} == {False}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    made = run_process("init", "--name", "A B", cwd=fresh)
    assert "fill the Severities, Services and Distribution sheets" in made.stdout


def test_a_dropdown_refusal_says_where_the_allowed_values_are(run: Run, example: Path) -> None:
    """Excel's popup for a value not in the Severity dropdown names the Severities sheet, not 'Allowed: text'."""
    book = openpyxl.load_workbook(example)
    messages = {dv.errorTitle: dv.error for dv in book["Events"].data_validations.dataValidation}
    assert messages["Severity: not allowed"] == "Allowed: a value listed on the Severities sheet (the dropdown's list)"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[workbook]\nlock_timout = 5\n", "[workbook] has an unknown key 'lock_timout'; did you mean 'lock_timeout'?"),
        ("[workbook]\nbakups = 3\n", "[workbook] has an unknown key 'bakups'; did you mean 'backups'?"),
        ('[workbok]\npath = "x.xlsx"\n', "unknown section [workbok]; did you mean 'workbook'?"),
        ("[mail]\nbackups = 3\n", "[mail] has an unknown key 'backups'; backups belongs in [workbook]"),
        ('[mail]\noutbox = ["a"]\n', "[mail] outbox must be a text, not ['a']"),
        ("[mail]\nmax_recipients = true\n", "[mail] max_recipients must be a whole number, not True"),
        ('[workbook]\npath = "ev\\u0000.xlsx"\n', "[workbook] path 'ev\\x00.xlsx' holds a control character"),
        ('[mail.smtp]\npassword = "hunter2"\n', "must not hold secrets: remove [mail.smtp] password"),
        ('[mail.smtp]\nPASSWORD = "hunter2"\n', "must not hold secrets: remove [mail.smtp] PASSWORD"),
        ('[mail]\npassword = "hunter2"\n', "must not hold secrets: remove [mail] password"),
        ('[sharepoint]\nclient_secret = "s"\n', "must not hold secrets: remove [sharepoint] client_secret"),
        ('[extra]\napi_token = "t"\n', "must not hold secrets: remove [extra] api_token"),
    ],
)
def test_tracker_toml_is_read_strictly(run: Run, example: Path, tmp_path: Path, toml: str, message: str) -> None:
    """Typos, wrong types, control characters in paths and secrets: exit 2 naming the key, for every command
    (validate and --dry-run included), before anything is read or sent."""
    config = tmp_path / "tracker.toml"
    header, body = toml.split("\n", 1)
    text = config.read_text()
    key = body.split("=")[0].strip()
    lines = [line for line in text.splitlines(keepends=True) if line.split("=")[0].strip() != key]
    if header + "\n" in lines:  # a key in a section the file has: under that header
        index = lines.index(header + "\n") + 1
        config.write_text("".join(lines[:index]) + body + "".join(lines[index:]))
    else:
        config.write_text(text + "\n" + toml)
    for args in (("validate",), ("notify", suite_clock.event_id(), "--dry-run"), ("list",)):
        result = run(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr


def test_init_writes_any_workbook_name_as_valid_toml(run: Run, tmp_path: Path) -> None:
    """Quotes, backslashes and non-ASCII in --workbook and --name round-trip; a second init with another
    --workbook is refused instead of ignored."""
    import tomllib

    name = 'Dana "DW" Whitfield \\ Ops'
    made = run("init", "--workbook", 'we"ird\\name ü.xlsx', "--name", name)
    assert made.exit_code == 0, made.stderr
    parsed = tomllib.loads((tmp_path / "tracker.toml").read_text())
    assert parsed["workbook"]["path"] == 'we"ird\\name ü.xlsx' and parsed["user"]["name"] == name
    assert (tmp_path / 'we"ird\\name ü.xlsx').exists()
    again = run("init", "--workbook", "other.xlsx")
    assert again.exit_code == 2 and "--workbook 'other.xlsx' would be ignored" in again.stderr


def test_a_read_only_workbook_is_not_replaced(run: Run, example: Path, event_id: str) -> None:
    """events.xlsx made read-only (mode 444): update is refused saying so, and the file keeps its mode and bytes."""
    before = example.read_bytes()
    example.chmod(0o444)
    try:
        result = run("update", event_id, "--note", "x")
        assert result.exit_code == 1 and "events.xlsx is read-only" in result.stderr
        assert example.read_bytes() == before and example.stat().st_mode & 0o777 == 0o444
    finally:
        example.chmod(0o644)


def test_validate_fix_corrects_what_has_one_reading_only(run: Run, example: Path, event_id: str) -> None:
    """A date and a number typed as text, a status with stray spaces, a severity in another case: --fix corrects
    each, naming the cell; the file then holds a real date and number (LibreOffice-independent: openpyxl reads
    the types); a value with two readings stays a problem."""
    from datetime import datetime

    _cells(example, "Events", {"K2": "2026-11-21 14:32", "I2": "4,200", "D2": "  identified ", "C2": "sev 1"})
    _cells(example, "Updates", {"D2": "monitoring"})
    _cells(example, "Events", {"G2": "Teleporter"})  # not a fix: a service no one can guess
    fixed = run("validate", "--fix")
    assert fixed.exit_code == 1 and "Events!G2 (Services Affected): 'Teleporter' is not listed" in fixed.stdout
    for line in (
        "fixed Events!K2 (Detected (UTC)): '2026-11-21 14:32' -> 21 Nov 2026 1432Z",
        "fixed Events!I2 (Users Affected): '4,200' -> 4200",
        "fixed Events!D2 (Status): '  identified ' -> Identified",
        "fixed Events!C2 (Severity): 'sev 1' -> Sev 1",
        "fixed Updates!D2 (Status): 'monitoring' -> Monitoring",
    ):
        assert line in fixed.stdout, fixed.stdout
    book = openpyxl.load_workbook(example)
    assert book["Events"]["K2"].value == datetime(2026, 11, 21, 14, 32) and book["Events"]["I2"].value == 4200
    assert book["Events"]["C2"].value == "Sev 1" and book["Updates"]["D2"].value == "Monitoring"
    assert "nothing to fix" in run("validate", "--fix").stdout


def test_validate_fix_leaves_a_whole_number_excel_could_not_hold_and_fixes_the_rest(run: Run, example: Path) -> None:
    """A whole number typed as text with more digits than Excel keeps (15), in a column with no maximum (the Watch
    sheet's; a team's own schema may have more): --fix leaves it as typed, validate says why, and the other cells
    are fixed. With separators, --fix planned the number, which the write then refused, so nothing was fixed at
    all; without, it read as a valid whole number that no write could keep."""
    _cells(example, "Watch", {"B2": "12345678901234567890", "F2": "1,000,000,000,000,000"})
    _cells(example, "Events", {"I2": "4,200"})
    fixed = run("validate", "--fix")
    assert "fixed Events!I2 (Users Affected): '4,200' -> 4200" in fixed.stdout, fixed.output
    for cell, typed in (
        ("Watch!B2 (Term)", "12345678901234567890"),
        ("Watch!F2 (Every (min))", "1,000,000,000,000,000"),
    ):
        assert (
            f"{cell}: '{typed}' is not a whole number: it has more than 15 digits, which Excel would change, so it "
            "stays text"
        ) in fixed.stdout, fixed.output  # (the first one, without separators, read as a valid whole number)
    book = openpyxl.load_workbook(example)
    assert book["Watch"]["F2"].value == "1,000,000,000,000,000" and book["Events"]["I2"].value == 4200
    assert book["Watch"]["B2"].value == "12345678901234567890"


def test_a_date_typed_as_text_is_named_as_such(run: Run, example: Path) -> None:
    """Text in a date column is not reported with the very example it matches: the message says it is text."""
    _cells(example, "Events", {"K2": "2026-11-21 14:32"})
    checked = run("validate")
    assert "'2026-11-21 14:32' is text that looks like a date and time" in checked.stdout
    assert "validate --fix" in checked.stdout


def test_absurd_numbers_are_refused_by_the_schema(run: Run, example: Path, event_id: str) -> None:
    """An update interval of 999,999,999,999 minutes: validate names the cell and the range; update says the
    same instead of overflowing."""
    _cells(example, "Severities", {"C2": 999999999999})
    checked = run("validate")
    assert checked.exit_code == 1
    assert "Severities!C2 (Update Every (min)): 999999999999 is too large" in checked.stdout
    assert "a whole number from 1 to 10,080" in checked.stdout
    updated = run("update", event_id, "--note", "x")
    assert updated.exit_code == 1 and "Traceback" not in updated.stderr and "10,080" in updated.stderr


def test_a_password_protected_workbook_is_named_as_such(run: Run, example: Path) -> None:
    """An encrypted workbook (as Excel saves one with a password): said so, with the fix, not 'damaged'."""
    import io

    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    with example.open("rb") as plain:
        OOXMLFile(plain).encrypt("secret", out)
    example.write_bytes(out.getvalue())
    result = run("list")
    assert result.exit_code == 1
    assert "events.xlsx is password-protected (encrypted)" in result.stderr and "damaged" not in result.stderr


def test_a_date_far_out_of_range_is_a_cell_problem_not_a_panic(example: Path, tmp_path: Path) -> None:
    """-10^15 in a date cell makes the fast reader (python-calamine) panic in Rust: tracker reads that sheet another
    way and names the cell; nothing of the panic reaches the terminal (a real process, so its stderr is seen)."""
    _cells(example, "Events", {"K2": -1e15})
    result = run_process("validate", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Events!K2 (Detected (UTC)): '#VALUE!' is not a date and time" in result.stdout
    assert "panicked" not in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_while_tracker_loads_is_one_line(example: Path, tmp_path: Path) -> None:
    """Ctrl-C while the command line is still importing, or once the command runs: exit 130 and one line, no
    traceback. The signal is raised by the process itself at a chosen import, so the moment is exact."""
    import subprocess
    import sys

    script = (
        "import importlib.abc, os, signal, sys\n"
        "chosen = sys.argv[1]\n"
        "class Stop(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == chosen:\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Stop())\n"
        "sys.argv = ['tracker', sys.argv[2]]\n"
        "from tracker.entry import main\n"
        "main()\n"
    )
    # decimal: jsonschema_rs (Rust) imports it as it starts; interrupted there it panicked, Rust traceback and all.
    # It is imported when a command first checks a row (tracker.native): `validate` does, `list` never does.
    for module, command, words in (
        ("tracker.text", "list", "while starting"),
        ("tracker.store", "list", "nothing was written"),
        ("decimal", "validate", "interrupted (Ctrl-C)"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", script, module, command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=process_env(),
        )
        assert done.returncode == 130, (module, done.stderr)
        assert "Traceback" not in done.stderr and len(error_lines(done.stderr)) == 1, done.stderr
        assert words in done.stderr


def test_a_list_that_grows_past_the_limit_is_not_news(run: Run, example: Path, event_id: str, tmp_path: Path) -> None:
    """Sent whole to 3 customer recipients with max_recipients = 3; two more Bcc rows make it two parts: nothing is
    sent again (the state did not change), and raising the limit back resends nothing either."""
    config = tmp_path / "tracker.toml"
    config.write_text(config.read_text().replace('outbox = "outbox"', 'outbox = "outbox"\nmax_recipients = 3', 1))
    add_distribution(example, [["customer", "Reader 1", "reader1@example.com", "Bcc", "Yes"]])
    assert run("notify", event_id, "--audience", "customer").exit_code == 0
    add_distribution(example, [["customer", f"Reader {n}", f"reader{n}@example.com", "Bcc", "Yes"] for n in (2, 3)])
    grown = run("notify", event_id, "--audience", "customer")
    assert grown.exit_code == 0 and "already sent" in grown.stdout
    config.write_text(config.read_text().replace("max_recipients = 3", "max_recipients = 500"))
    assert "already sent" in run("notify", event_id, "--audience", "customer").stdout
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[mail.smtp]\ntimeout = nan\n", "[mail.smtp] timeout must be a number, not nan"),
        ("[mail.smtp]\ntimeout = -5\n", "[mail.smtp] timeout must be seconds from 0 to 86400, not -5"),
        ("[workbook]\nlock_timeout = nan\n", "[workbook] lock_timeout must be a number, not nan"),
        ('[user]\nname = "Alex\\u001b[31m Morgan"\n', "[user] name 'Alex\\x1b[31m Morgan' holds a control character"),
    ],
)
def test_values_that_would_break_later_are_refused_now(
    run: Run, example: Path, tmp_path: Path, toml: str, message: str
) -> None:
    """A NaN or negative timeout, a user name with ESC: exit 2 naming the key, before anything runs."""
    test_tracker_toml_is_read_strictly(run, example, tmp_path, toml, message)


def test_output_cut_short_by_a_pipe_is_not_an_error(example: Path, tmp_path: Path) -> None:
    """`tracker show ID | head -1`: exit 0 and nothing on stderr (the reader had all it wanted)."""
    import subprocess

    from tests.conftest import tracker_command

    line = " ".join(f"'{part}'" for part in tracker_command())
    done = subprocess.run(
        f"{line} show {suite_clock.event_id()} | head -1; echo rc=${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        cwd=tmp_path,
        env=process_env(),
        capture_output=True,
        text=True,
    )
    assert "rc=0" in done.stdout and "error" not in done.stderr, done.stderr


def test_validate_fix_leaves_a_cell_with_a_waiting_edit_alone(run: Run, example: Path, tmp_path: Path) -> None:
    """Edits waiting in the journal: --fix asks for `tracker sync` first instead of planning on a stale file."""
    from tracker.config import load_config
    from tracker.store.backends import journal_for
    from tracker.workbook.edits import SetCells

    journal = journal_for(load_config(tmp_path / "tracker.toml"))
    assert journal is not None
    journal.add([SetCells("Events", suite_clock.event_id(), {"status": "Monitoring"})], "test: the workbook was open")
    fixed = run("validate", "--fix")
    assert fixed.exit_code == 2 and "run `tracker sync` first" in fixed.stderr


def test_audience_names_cannot_be_schema_keywords(run: Run, example: Path) -> None:
    """A Distribution audience named 'internal' would read every internal field: validate refuses the name."""
    add_distribution(example, [["internal", "Someone", "someone@example.com", "To", "Yes"]])
    checked = run("validate")
    assert checked.exit_code == 1 and "'internal' is a word the schema uses for groups of audiences" in checked.stdout


def test_a_bad_severity_cell_is_named_by_update_and_notify(run: Run, example: Path, event_id: str) -> None:
    """'Sev 9' typed into the event's Severity: update and notify name the cell, as validate does, and do not
    pretend a --severity option was given."""
    _cells(example, "Events", {"C2": "Sev 9"})
    for args in (("update", event_id, "--note", "x"), ("notify", event_id)):
        result = run(*args)
        assert result.exit_code == 1, (args, result.stderr)
        assert "Events!C2 (Severity): 'Sev 9' is not listed on the Severities sheet" in result.stderr, result.stderr


def test_a_severity_that_notifies_nobody_is_noted(run: Run, example: Path) -> None:
    """An empty Audiences Notified: validate notes that notify would send nothing for that severity."""
    _cells(example, "Severities", {"F5": None})
    checked = run("validate")
    assert "Sev 4 notifies no audience: `tracker notify` sends nothing for its events" in checked.stdout


def _change_is_in(event_id: str) -> str:
    """What tracker adds to an error once the change of `update EVENT --note ...` is in the workbook."""
    return (
        f"the workbook was written before it: it has this command's change (Events {event_id}, a new Updates row); "
        "do not run the command again (`tracker show ID` shows it)"
    )


@pytest.mark.parametrize(
    ("stop", "said", "code"),
    [
        (KeyboardInterrupt(), "interrupted (Ctrl-C)", 130),
        (WorkbookError("the workbook is locked by someone"), "the workbook is locked by someone", 1),
    ],
    ids=["ctrl-c", "an error in tracker's words"],
)
def test_a_stop_after_the_workbook_was_replaced_says_it_was_written(
    run: Run, example: Path, event_id: str, monkeypatch: pytest.MonkeyPatch, stop: BaseException, said: str, code: int
) -> None:
    """Ctrl-C, or an error in tracker's own words, arriving just after `update` replaced the workbook: the message
    says the change is in it and not to run the command again (it said "nothing more was done", or only what went
    wrong, and the re-run added the note twice)."""
    import openpyxl

    import tracker.store.local

    original = tracker.store.local.replace_file

    def replaced_then_stopped(tmp: Path, path: Path) -> None:
        original(tmp, path)
        raise stop

    monkeypatch.setattr(tracker.store.local, "replace_file", replaced_then_stopped)
    stopped = run("update", event_id, "--note", "router swapped")
    assert stopped.exit_code == code
    assert error_lines(stopped.stderr) == [f"error: {said}; {_change_is_in(event_id)}"]
    notes = [r[4] for r in openpyxl.load_workbook(example)["Updates"].iter_rows(min_row=2, values_only=True)]
    assert notes.count("router swapped") == 1


def test_ctrl_c_as_tracker_exits_prints_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C after the command has finished, while Python waits for its threads to end (the sheet parsers run in
    threads), printed "Exception ignored in threading ... Traceback ... KeyboardInterrupt" (seen in CI's kill
    matrix): once the command is done, tracker exits quietly with the command's own exit code."""

    script = (
        "import os, signal, sys, threading, time\n"
        "finished = threading.Event()\n"
        "def late():\n"
        "    finished.wait(60)  # the command has finished: Python waits for this thread as it exits\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.5)\n"
        "threading.Thread(target=late).start()\n"
        "sys.argv = ['tracker', '--version']\n"
        "from tracker.entry import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    finished.set()\n"
    )
    done = _python(script, tmp_path)
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert done.returncode == 0 and "tracker" in done.stdout


@pytest.mark.parametrize("typed", ["¹", "²³", "12⁵"])
def test_a_superscript_digit_in_a_number_cell_is_an_error_not_a_crash(
    run: Run, example: Path, event_id: str, typed: str
) -> None:
    """A superscript digit typed as text in a whole-number column (Users Affected) is reported by validate as not a
    whole number, and `--set` refuses it in one line: Python calls "¹" a digit but int() refuses it, which crashed
    validate ("failed unexpectedly"; found by the fuzz suite)."""
    book = openpyxl.load_workbook(example)
    sheet = book["Events"]
    column = next(c.column for c in sheet[1] if c.value == "Users Affected")
    sheet.cell(2, column, typed)
    book.save(example)
    checked = run("validate")
    assert checked.exit_code == 1, checked.stderr
    assert "(Users Affected): " in checked.stdout and repr(typed) in checked.stdout
    refused = run("update", event_id, "--note", "x", "--set", f"users_affected={typed}")
    assert refused.exit_code == 2 and f"--set users_affected: {typed!r} is not a whole number" in refused.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device every write to fails)")
def test_a_write_whose_output_cannot_be_printed_says_its_change_is_in_the_workbook(
    example: Path, event_id: str
) -> None:
    """`tracker update ... > /dev/full`: the change was written, then printing it failed; the message said "nothing
    was written", and a retry added the note twice. It now says the change is in, as after a Ctrl-C there."""
    import subprocess

    import openpyxl

    from tests.conftest import tracker_command

    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [*tracker_command(), "update", event_id, "--note", "printed nowhere"],
            cwd=example.parent,
            env=process_env(),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert error_lines(result.stderr) == [f"error: No space left on device; {_change_is_in(event_id)}"]
    notes = [r[4] for r in openpyxl.load_workbook(example)["Updates"].iter_rows(min_row=2, values_only=True)]
    assert notes.count("printed nowhere") == 1


def test_ctrl_c_in_a_finalizer_stops_the_command_without_a_traceback(tmp_path: Path) -> None:
    """A Ctrl-C that lands while Python frees an object runs in that object's finalizer (CI's kill matrix caught one
    in zipfile's `__del__` during `notify`), where Python printed "Exception ignored in ... Traceback ...
    KeyboardInterrupt" and dropped it: the command went on. The console script delivers it again once the finalizer
    is over, so the command stops as at any other moment, without a traceback."""

    script = (
        "import signal, sys\n"
        "sys.argv = ['tracker', '--version']\n"
        "from tracker.entry import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)  # (ignored once a command is done: as mid-command)\n"
        "class Freed:\n"
        "    def __del__(self):\n"
        "        raise KeyboardInterrupt  # a Ctrl-C landing in its finalizer\n"
        "import time\n"
        "try:\n"
        "    Freed()\n"
        "    time.sleep(20)  # the command's work goes on: the Ctrl-C ends it\n"
        "    print('went on')\n"
        "except KeyboardInterrupt:\n"
        "    print('stopped')\n"
    )
    done = _python(script, tmp_path)
    assert done.stdout.splitlines()[-1] == "stopped", done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr


def _python(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """`script` run by a fresh interpreter in `folder`, as a user's shell runs tracker; its output captured."""
    return subprocess.run(
        [sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, env=process_env(), check=False
    )
