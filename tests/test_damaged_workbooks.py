"""A damaged workbook is a clear error, never "failed unexpectedly": the example workbook's bytes are mutated (cut,
flipped, a part dropped or garbled, a sheet's XML cut short, an .xls in disguise) and every command runs on one.

200 mutated workbooks a run (8 seeds x 25), each command on at least 15 of them; FUZZ_ROUNDS=N runs N per seed.
"""

from __future__ import annotations

import io
import os
import random
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import suite_clock
from tests.conftest import Run, copy_example, soffice

ROUNDS = int(os.environ.get("FUZZ_ROUNDS", "25"))
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # what an .xls (or an encrypted .xlsx) starts with


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(parts: dict[str, bytes]) -> bytes:
    """The parts as a zip, every entry dated 1 January 1980: the same parts make the same bytes on every run."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _settled(data: bytes) -> bytes:
    """The example workbook with the times its build wrote fixed (each zip entry's date, the document's created and
    modified): the same bytes at every run of the suite on one day, so that a seed cuts and flips the same places
    and a failure it finds comes back with it (the real clock's seconds moved every later part by a byte or two)."""
    parts = _parts(data)
    core = "docProps/core.xml"
    if core in parts:
        parts[core] = re.sub(
            rb"(<dcterms:(?:created|modified)\b[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", parts[core]
        )
    return _zip(parts)


def _cut(data: bytes, chance: random.Random) -> bytes:
    return data[: chance.randrange(0, len(data))]


def _flip(data: bytes, chance: random.Random) -> bytes:
    mutable = bytearray(data)
    for _ in range(chance.randint(1, 40)):
        mutable[chance.randrange(len(mutable))] ^= 1 << chance.randrange(8)
    return bytes(mutable)


def _drop_part(data: bytes, chance: random.Random) -> bytes:
    parts = _parts(data)
    parts.pop(chance.choice(sorted(parts)))
    return _zip(parts)


def _garble_part(data: bytes, chance: random.Random) -> bytes:
    parts = _parts(data)
    name = chance.choice(sorted(parts))
    parts[name] = chance.choice(
        [b"", b"<", b"\xff\xfe\x00garbage", parts[name][::-1], parts[name][: len(parts[name]) // 2]]
    )
    return _zip(parts)


def _cut_sheet(data: bytes, chance: random.Random) -> bytes:
    parts = _parts(data)
    name = chance.choice(sorted(n for n in parts if n.startswith("xl/worksheets/sheet")))
    parts[name] = parts[name][: chance.randrange(1, len(parts[name]))]
    return _zip(parts)


def _edit_xml(data: bytes, chance: random.Random) -> bytes:
    """Well-formed XML with wrong content: a tag renamed, an attribute's value changed."""
    parts = _parts(data)
    name = chance.choice(sorted(n for n in parts if n.endswith(".xml") or n.endswith(".rels")))
    text = parts[name]
    swaps = [(b'r="', b'r="ZZ'), (b"<row ", b"<rowx "), (b'ref="', b'ref="A0:'), (b'Target="', b'Target="../x/'),
             (b"<sheetData>", b"<sheetData/><sheetData>"), (b't="s"', b't="z"'), (b"<v>", b"<v>-")]  # fmt: skip
    old, new = chance.choice(swaps)
    parts[name] = text.replace(old, new, chance.randint(1, 3))
    return _zip(parts)


def _xls(data: bytes, chance: random.Random) -> bytes:
    return OLE + chance.randbytes(4096)


MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    _cut,
    _flip,
    _drop_part,
    _garble_part,
    _cut_sheet,
    _edit_xml,
    _xls,
]

COMMANDS: list[list[str]] = [
    ["validate"],
    ["list", "--open"],
    ["show", "{id}"],
    ["update", "{id}", "--note", "still down"],
    ["open", "--title", "VPN down", "--severity", "Sev 2", "--service", "VPN"],
    ["notify", "{id}", "--dry-run"],
    ["notify", "{id}"],
    ["ack", "{id}"],
    ["resolve", "{id}", "--note", "fixed"],
    ["due"],
    ["report", "--json"],
    ["publish"],
    ["sync"],
]


@pytest.mark.parametrize("seed", range(8))
def test_no_command_fails_unexpectedly_on_a_damaged_workbook(
    run: Run, tmp_path: Path, example_template: Path, seed: int
) -> None:
    """Each mutated workbook, given to one command: exit 0, 1 or 2 with its own message, never 3 ("failed
    unexpectedly") nor a traceback; a write that refused left the file as it was."""
    chance = random.Random(f"damaged-{seed}")
    pristine = _settled((example_template / "events.xlsx").read_bytes())
    failures = []
    for round_ in range(ROUNDS):
        folder = tmp_path / f"r{round_}"
        folder.mkdir()
        workbook = copy_example(example_template, folder)
        mutation = MUTATIONS[(seed + round_) % len(MUTATIONS)]
        damaged = mutation(pristine, chance)
        workbook.write_bytes(damaged)
        command = [
            word.format(id=suite_clock.event_id()) for word in COMMANDS[(seed * ROUNDS + round_) % len(COMMANDS)]
        ]
        result = run("--config", str(folder / "tracker.toml"), *command)
        said = result.stderr
        if result.exit_code not in (0, 1, 2) or "Traceback" in said or "unexpectedly" in said:
            failures.append(
                f"{mutation.__name__} then `tracker {' '.join(command)}` -> {result.exit_code}: {said[:300]}"
            )
        elif result.exit_code == 1 and workbook.read_bytes() != damaged and "error:" in said:
            failures.append(f"{mutation.__name__} then `tracker {' '.join(command)}` refused but changed the file")
    assert failures == [], "\n".join(failures)


WRITES = [COMMANDS[3], COMMANDS[4], COMMANDS[6], COMMANDS[8]]


@pytest.mark.libreoffice
@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_an_xls_renamed_xlsx_gets_the_same_line_from_every_command(run: Run, example: Path, tmp_path: Path) -> None:
    """A real Excel 97-2003 file (LibreOffice saves one) named events.xlsx: reads and writes alike say it is an
    .xls and how to save it as .xlsx, exit 1, and the file is left as it was (writes crashed with BadZipFile)."""
    import subprocess

    out = tmp_path / "xls"
    done = subprocess.run(
        [soffice(), f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}", "--headless", "--convert-to", "xls",
         "--outdir", str(out), str(example)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    xls = (out / "events.xls").read_bytes()
    assert xls.startswith(OLE)
    example.write_bytes(xls)
    for command in [["validate"], ["list"], *WRITES]:
        result = run(*[word.format(id=suite_clock.event_id()) for word in command])
        assert result.exit_code == 1, (command, result.stderr)
        assert result.stderr.strip() == (
            "error: events.xlsx is an Excel 97-2003 (.xls) file, not .xlsx; open it in Excel and Save As Excel "
            "Workbook (.xlsx)"
        ), command
    assert example.read_bytes() == xls


@pytest.mark.parametrize("sheet", ["Services", "Events", "Updates", "Notifications"])
def test_a_sheet_cut_short_is_named_by_reads_and_writes(run: Run, example: Path, sheet: str) -> None:
    """A sheet's XML cut in half inside a sound zip: validate, update, open and notify each say which sheet cannot
    be read and how to get the workbook back, exit 1, nothing written (validate and notify crashed with ParseError)."""
    from tracker.store.xlsx import sheet_parts

    with zipfile.ZipFile(example) as archive:
        part = sheet_parts(archive)[sheet]
    parts = _parts(example.read_bytes())
    parts[part] = parts[part][: len(parts[part]) // 2]
    damaged = _zip(parts)
    example.write_bytes(damaged)
    for command in [["validate"], ["notify", "{id}"], *WRITES]:
        result = run(*[word.format(id=suite_clock.event_id()) for word in command])
        if result.exit_code == 0:  # a command that never needs this sheet works on
            continue
        assert result.exit_code == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert f"sheet {sheet!r}" in result.stderr or "a part of it is damaged" in result.stderr, result.stderr
        assert "restore an earlier version" in result.stderr, result.stderr
    assert example.read_bytes() == damaged or run("validate").exit_code == 1
