"""The last downloaded bytes of a SharePoint workbook, kept in this user's cache folder under the ETag they belong to.

Every read and every write asks SharePoint for the file's properties first; when its ETag is still the one the bytes
here were downloaded at, they are the file, and the download is skipped: a read command on an unchanged workbook
costs one request (`watch` reads every minute). A write trusts them no more than a read does (the ETag is always
asked for), and an upload goes back with If-Match on that ETag all the same.

One file per workbook (site origin + server-relative path), replaced whole (`files.write_atomic`), private (0600):
a header line (the ETag, the URL, the size and SHA-256 of the bytes) then the bytes. A file that does not match its
header is ignored. Nothing here must be kept: losing it costs one download.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from tracker import files
from tracker.store.journal import url_digest


def cache_dir() -> Path:
    """This user's folder for what tracker can fetch again: under TRACKER_STATE_DIR when that is set (one variable
    moves all of tracker's files), else the platform's cache folder (~/.cache/tracker, %LOCALAPPDATA%\\tracker\\cache,
    ~/Library/Caches/tracker)."""
    override = os.environ.get("TRACKER_STATE_DIR")
    if override:
        return Path(override).expanduser() / "cache"
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")) / "tracker" / "cache"
    if sys.platform == "darwin":
        return Path(home) / "Library" / "Caches" / "tracker"
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")) / "tracker"


class ReadCache:
    """The cached bytes of the workbook at `url`."""

    def __init__(self, url: str, folder: Path | None = None) -> None:
        self.url = url
        self.path = (folder or cache_dir()) / "sharepoint" / url_digest(url) / "workbook.cache"

    def load(self) -> tuple[str, bytes] | None:
        """(ETag, bytes) as last saved, or None (nothing saved, or a file that does not match its header)."""
        try:
            raw = self.path.read_bytes()
        except OSError:
            return None
        head, newline, data = raw.partition(b"\n")
        try:
            meta = json.loads(head) if newline else None
        except ValueError:
            return None
        if not isinstance(meta, dict) or not meta.get("etag") or meta.get("url") != self.url:
            return None
        if meta.get("size") != len(data) or meta.get("sha256") != hashlib.sha256(data).hexdigest():
            return None
        return str(meta["etag"]), data

    def save(self, etag: str, data: bytes) -> None:
        """Keep `data` as the file at `etag` (a cache that cannot be written costs the next read a download only)."""
        if not etag:
            return
        meta = {"etag": etag, "url": self.url, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            files.write_atomic(self.path, json.dumps(meta).encode() + b"\n" + data, mode=0o600)
        except OSError:
            pass
