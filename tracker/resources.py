"""Where the default templates and workbook schema live (checkout or installed wheel)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `templates` or `workbook_schema` shipped with tracker.

    A wheel carries them inside the package; a checkout (or editable install) has them
    beside the package.
    """
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tracker's {name}/ folder is missing from the installation")
