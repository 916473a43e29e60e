"""The clock of the workbook's red "overdue" highlight.

Times are stored in UTC, but Excel's NOW() is the clock of the computer showing the workbook.
For a display timezone other than UTC, a new workbook gets the defined name `TrackerUtcNow`:
NOW() less the timezone's UTC offset, looked up in a table of the zone's offsets (daylight
saving included) for the years ahead, worked out from the tz database when the workbook is
built. The overdue rule compares with it, so the highlight is right for a viewer whose
computer is in the display timezone; a viewer elsewhere sees it shifted by the difference
between the two offsets.

Office does not allow array constants in a conditional format's formula but does allow a
name there ([MS-OI29500] 3.2.3.1.2), and a name may hold array constants; LibreOffice
evaluates such a name in a conditional format too. `TrackerTimezone` records the zone the
table is for, so `tracker validate` can say when tracker.toml's timezone has moved on.

Clocks going back repeat an hour that NOW() cannot tell apart; the table reads it with the
offset that follows the change, so in that hour the highlight comes at most an hour early,
never late.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from tracker.cells import sheet_parts, unescape

if TYPE_CHECKING:
    from openpyxl import Workbook

UTC_NOW_NAME = "TrackerUtcNow"
TIMEZONE_NAME = "TrackerTimezone"
YEARS = 30  # how far ahead a new workbook's table reaches; `tracker validate` notes when it runs short
PLAIN_NOW = "NOW()"
# The tz database's names of UTC itself: offset 0 at every moment (links to Etc/UTC and Etc/GMT)
ALWAYS_UTC = frozenset(
    {
        *("UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"),
        *("GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0", "Greenwich"),
        "Etc/Greenwich",
    }
)
_EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)
_STEP = 24 * 3600  # seconds between samples when looking for a change of offset (changes are weeks apart)
_TABLE = re.compile(r"LOOKUP\(\s*NOW\(\)\s*\*\s*1440\s*[,;]\s*\{([-\d,;\s]+)\}\s*[,;]\s*\{([-\d,;\s]+)\}\s*\)", re.I)

Table = tuple[tuple[int, int], ...]
"""(local minute since Excel's day 0 from which it holds, UTC offset in minutes), ascending."""


def _offset(zone: ZoneInfo, seconds: int) -> int:
    delta = datetime.fromtimestamp(seconds, tz=zone).utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else 0


def offset_table(timezone: str, start: datetime, end: datetime) -> Table:
    """The UTC offsets of `timezone` from `start` to `end` (aware datetimes), as the workbook looks them up.

    The first entry starts at minute 0 (any clock reading before the table holds the
    offset at `start`); each change of offset after it starts at the first local minute
    a clock can read with the new offset: the end of the skipped hour when clocks go
    forward, the start of the repeated hour when they go back.
    """
    if timezone in ALWAYS_UTC:
        return ((0, 0),)  # offset 0 at every moment: what the look-ups below find, without 30 years of them (~12 ms)
    zone = ZoneInfo(timezone)
    first, last = int(start.timestamp()), int(end.timestamp())
    entries = [(0, _offset(zone, first))]
    at, after = first, entries[0][1]
    while at < last:
        ahead = min(at + _STEP, last)
        before, after = after, _offset(zone, ahead)  # (the offset at `at` is the last step's: looked up once)
        if before != after:
            low, high = at, ahead  # the offset changes in (low, high]: find the first second of the new one
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == before:
                    low = middle
                else:
                    high = middle
            new = _offset(zone, high)
            local_seconds = high + 60 * min(before, new) - int(_EXCEL_EPOCH.timestamp())
            entries.append((math.ceil(local_seconds / 60), new))
        at = ahead
    return tuple(entries)


def table_for(timezone: str, now: datetime, years: int = YEARS) -> Table:
    """The table a workbook built at `now` gets: from the start of `now`'s year, `years` ahead."""
    return _years(timezone, now.year, years)


@functools.lru_cache(maxsize=16)
def _years(timezone: str, year: int, years: int) -> Table:
    start = datetime(year, 1, 1, tzinfo=UTC)
    return offset_table(timezone, start, start.replace(year=year + years))


def is_utc(table: Table) -> bool:
    """Whether the zone is UTC all along (the rule then keeps plain NOW())."""
    return all(offset == 0 for _, offset in table)


def local_minute(moment: datetime, timezone: str) -> float:
    """What NOW()*1440 reads at `moment` (aware) on a computer whose clock is in `timezone`."""
    wall = moment.astimezone(ZoneInfo(timezone)).replace(tzinfo=UTC)
    return (wall - _EXCEL_EPOCH) / timedelta(minutes=1)


def offset_at(table: Table, minute: float) -> int:
    """The offset LOOKUP(minute, thresholds, offsets) gives: the last entry starting at or before `minute`."""
    index = bisect.bisect_right([start for start, _ in table], minute) - 1
    return table[max(index, 0)][1]


def utc_now_formula(table: Table, now: str = PLAIN_NOW) -> str:
    """The formula of `TrackerUtcNow` (`now` replaces NOW(), e.g. a cell, to evaluate it at a chosen time)."""
    if is_utc(table):
        return now
    starts = ",".join(str(start) for start, _ in table)
    offsets = ",".join(str(offset) for _, offset in table)
    return f"{now}-LOOKUP({now}*1440,{{{starts}}},{{{offsets}}})/1440"


def parse_table(formula: str) -> Table | None:
    """The table inside a `TrackerUtcNow` formula; () for plain NOW(); None when it is neither."""
    text = formula.strip().lstrip("=").strip()
    if text.upper() == PLAIN_NOW:
        return ()
    match = _TABLE.search(text)
    if not match:
        return None
    try:
        starts = [int(item) for item in re.split(r"[,;]", match[1])]
        offsets = [int(item) for item in re.split(r"[,;]", match[2])]
    except ValueError:
        return None
    if len(starts) != len(offsets) or not starts:
        return None
    return tuple(zip(starts, offsets, strict=True))


def add_names(book: Workbook, timezone: str, now: datetime) -> str:
    """Define `TrackerUtcNow` and `TrackerTimezone` in a new workbook; return what the overdue rule compares with.

    For a zone that is UTC all along nothing is defined and the rule keeps NOW().
    """
    from openpyxl.workbook.defined_name import DefinedName

    table = table_for(timezone, now)
    if is_utc(table):
        return PLAIN_NOW
    book.defined_names[UTC_NOW_NAME] = DefinedName(
        UTC_NOW_NAME,
        attr_text=utc_now_formula(table),
        comment=f"UTC now on a computer whose clock is in {timezone} (tracker; the overdue highlight)"[:255],
    )
    book.defined_names[TIMEZONE_NAME] = DefinedName(TIMEZONE_NAME, attr_text=_quoted(timezone))
    return UTC_NOW_NAME


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


# --- what `tracker validate` says about an existing workbook -----------------------------


@dataclass(frozen=True)
class Rule:
    """The overdue rule found on a column: its formula, and what it compares with."""

    formula: str
    clock: str  # "NOW()" or the name


@dataclass(frozen=True)
class Names:
    """The two names as the workbook holds them (None: absent)."""

    utc_now: str | None
    timezone: str | None


def read_rules(content: bytes | Path, columns: dict[str, list[str]]) -> tuple[Names, dict[tuple[str, str], Rule]]:
    """The names, and the overdue rules on `columns` (sheet title -> column letters) found in the .xlsx."""

    with zipfile.ZipFile(BytesIO(content) if isinstance(content, bytes) else content) as archive:
        names = book_names(archive)
        parts = sheet_parts(archive)
        rules: dict[tuple[str, str], Rule] = {}
        for title, letters in columns.items():
            part = parts.get(title)
            if part is not None:
                rules.update(overdue_rules(title, archive.read(part), letters))
    return names, rules


def book_names(archive: zipfile.ZipFile) -> Names:
    """The workbook's defined names the overdue rules read (the time now in UTC, the viewer's timezone)."""
    book = _book_xml(archive)
    return Names(_defined(book, UTC_NOW_NAME), _defined(book, TIMEZONE_NAME))


def overdue_rules(title: str, xml: bytes, letters: list[str]) -> dict[tuple[str, str], Rule]:
    """The overdue rules on these columns of one sheet's XML. Conditional formats follow the cells in a sheet's
    XML (the order the file format fixes), so only what follows </sheetData> is decoded and searched."""
    if not letters:
        return {}
    end = xml.rfind(b"sheetData")  # </sheetData> (</x:sheetData> with a prefix), or an empty <sheetData/>
    tail = (xml[end:] if end >= 0 else xml).decode("utf-8")
    rules = {}
    for letter in letters:
        rule = _overdue_rule(tail, letter)
        if rule is not None:
            rules[(title, letter)] = rule
    return rules


def _book_xml(archive: zipfile.ZipFile) -> str:
    part = "xl/workbook.xml"
    try:
        rels = archive.read("_rels/.rels").decode("utf-8")
        for match in re.finditer(r"<(?:\w+:)?Relationship\b([^>]*)>", rels):
            kind = re.search(r'Type\s*=\s*"([^"]+)"', match[1])
            target = re.search(r'Target\s*=\s*"([^"]+)"', match[1])
            if kind and target and kind[1].endswith("/officeDocument"):
                part = target[1].lstrip("/")
    except KeyError:
        pass
    try:
        return archive.read(part).decode("utf-8")
    except KeyError:
        return ""


def _defined(book: str, name: str) -> str | None:
    for match in re.finditer(r"<(?:\w+:)?definedName\b([^>]*)>(.*?)</(?:\w+:)?definedName>", book, re.S):
        attrs = match[1]
        found = re.search(r'\bname\s*=\s*"([^"]*)"', attrs)
        if found and found[1].casefold() == name.casefold() and "localSheetId" not in attrs:
            return unescape(match[2])
    return None


def _overdue_rule(xml: str, letter: str) -> Rule | None:
    compare = re.compile(rf"(?<![A-Za-z])\$?{letter}\$?\d+\s*<\s*(NOW\(\)|{UTC_NOW_NAME})(?![\w(])", re.I)
    for block in re.finditer(
        r"<(?:\w+:)?conditionalFormatting\b([^>]*)>(.*?)</(?:\w+:)?conditionalFormatting>", xml, re.S
    ):
        sqref = re.search(r'\bsqref\s*=\s*"([^"]*)"', block[1])
        if not sqref or not re.match(rf"\$?{letter}\$?\d", sqref[1]):
            continue
        for formula in re.findall(r"<(?:\w+:)?formula>(.*?)</(?:\w+:)?formula>", block[2], re.S):
            text = unescape(formula)
            found = compare.search(text)
            if found:
                clock = PLAIN_NOW if found[1].upper() == PLAIN_NOW else UTC_NOW_NAME
                return Rule(text, clock)
    return None


def _shift(minutes: int) -> str:
    """When a highlight whose clock runs `minutes` behind UTC now turns red."""
    if minutes == 0:
        return "turns red on time now, but not at every daylight saving change"
    return f"turns red {abs(minutes) / 60:g} h {'late' if minutes > 0 else 'early'}"


def _in_window(table: Table, now: datetime, days: int = 366) -> list[tuple[int, int]]:
    """What a table gives for the local minutes of the coming `days` (with a day and more either side): the offset
    at the window's first minute, then each change of offset in it, as (minute, offset). Two tables that give the
    same here disagree with the tz database at the same moments of that year (`_first_disagreement`), or at none."""
    low = math.floor((now - _EXCEL_EPOCH) / timedelta(minutes=1)) - 1_600
    high = low + days * 1_440 + 3_200
    starts = [start for start, _ in table]
    first = max(bisect.bisect_right(starts, low) - 1, 0)
    out = [(low, table[first][1])] if table else []
    for start, offset in table[first + 1 : bisect.bisect_right(starts, high)]:
        if offset != out[-1][1]:
            out.append((start, offset))
    return out


def _first_disagreement(table: Table, timezone: str, now: datetime, days: int = 366) -> tuple[datetime, int] | None:
    """The first moment of the coming year at which the table gives another offset than the tz database,
    and by how many minutes the highlight's clock then runs behind UTC now. Looked at every 3 hours and at each
    moment either changes its offset (and an hour and two after, past a repeated hour): a table that changes an
    hour late disagrees for an hour only."""
    zone = ZoneInfo(timezone)
    end = now + timedelta(days=days)
    for moment in sorted(
        {*(now + timedelta(hours=hour) for hour in range(0, days * 24, 3)), *_changes(table, now, end, timezone)}
    ):
        wall = moment.astimezone(zone)
        if wall.replace(fold=1 - wall.fold).utcoffset() != wall.utcoffset():
            continue  # a time the clock shows twice: the table's reading of it is documented
        delta = wall.utcoffset()
        actual = int(delta.total_seconds() // 60) if delta is not None else 0
        got = offset_at(table, local_minute(moment, timezone))
        if got != actual:
            return moment, got - actual
    return None


def _changes(table: Table, now: datetime, end: datetime, timezone: str) -> set[datetime]:
    """The moments in [now, end) at which the table's offset or the tz database's may change (read by a clock at
    any offset either gives), each with the minute after it and the hours after a repeated hour."""
    fresh = table_for(timezone, now)
    offsets = {offset for _, offset in (*table, *fresh)}
    out = set()
    for start, _ in (*table, *fresh):
        for offset in offsets:
            moment = _EXCEL_EPOCH + timedelta(minutes=start - offset)
            for after in (0, 1, 61, 121):
                when = moment + timedelta(minutes=after)
                if now <= when < end:
                    out.add(when)
    return out


FORMULAS_COMMAND = "tracker validate --formulas"


def names_to_paste(timezone: str, now: datetime) -> list[tuple[str, str]]:
    """(name, formula) of each defined name the overdue highlight needs for viewers in `timezone`, as typed in
    Excel's Name Manager (the UTC-offset table covers the coming years from `now`)."""
    return [(TIMEZONE_NAME, f"={_quoted(timezone)}"), (UTC_NOW_NAME, f"={utc_now_formula(table_for(timezone, now))}")]


def findings(names: Names, rule: Rule, timezone: str, now: datetime) -> list[str]:
    """What is wrong with an overdue rule's clock for viewers in `timezone` (empty: nothing)."""
    expected = table_for(timezone, now)
    fix_name = (
        f"in Excel (Formulas > Name Manager) set the names {TIMEZONE_NAME} and {UTC_NOW_NAME} to what "
        f"`{FORMULAS_COMMAND}` prints"
    )
    zone = ZoneInfo(timezone)
    current = now.astimezone(zone).utcoffset()
    offset_now = int(current.total_seconds() // 60) if current is not None else 0
    if rule.clock == PLAIN_NOW:
        if is_utc(expected):
            return []
        return [
            f"the red overdue highlight (rule {rule.formula}) compares UTC times with NOW(), the viewer's own clock, "
            f"so for a viewer in "
            f"{timezone} (the display timezone) it {_shift(-offset_now)} (the workbook was made for UTC, or before "
            f"tracker knew the display timezone); to fix it, run `tracker init` in an empty folder holding this "
            f"tracker.toml and move the rows to the new workbook, or do in Excel what `{FORMULAS_COMMAND}` says"
        ]
    built_for = (names.timezone or "").strip().strip('"').replace('""', '"') or None
    table = parse_table(names.utc_now) if names.utc_now is not None else None
    if names.utc_now is None or table is None:
        return [
            f"the red overdue highlight (rule {rule.formula}) uses the name {UTC_NOW_NAME}, which is "
            + ("missing" if names.utc_now is None else f"not a formula tracker can read ({names.utc_now})")
            + f"; to fix it, {fix_name}"
        ]
    table = table or ((0, 0),)
    if built_for is not None and built_for != timezone:
        then = offset_at(table, local_minute(now, timezone))
        return [
            f"the red overdue highlight is set for viewers in {built_for} (names {UTC_NOW_NAME} and "
            f"{TIMEZONE_NAME}), but tracker.toml's display timezone is {timezone}: for a viewer there it "
            f"{_shift(then - offset_now)}; to fix it, {fix_name}"
        ]
    same = _in_window(table, now) == _in_window(expected, now)  # (what a fresh table says: it agrees, tested)
    wrong = None if same else _first_disagreement(table, timezone, now)
    if wrong is not None:
        moment, minutes = wrong
        return [
            f"the red overdue highlight's table of UTC offsets for {timezone} (name {UTC_NOW_NAME}) disagrees with "
            f"the tz database from {moment:%Y-%m-%d} on (the table ends there, or the zone's rules changed): "
            f"from then it {_shift(minutes)}; to fix it, {fix_name}"
        ]
    return []
