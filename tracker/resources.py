"""Where the default templates and workbook schema live (checkout or installed wheel)."""

from __future__ import annotations

from collections.abc import Callable
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


def has_templates(override: Path | None) -> Callable[[str], bool]:
    """A test of whether all three templates of an audience exist (team folder or defaults)."""
    folders = [override / "email"] if override else []
    folders.append(data_dir("templates") / "email")

    def check(audience: str) -> bool:
        return all(
            any((folder / f"{audience}.{part}.j2").is_file() for folder in folders)
            for part in ("subject", "txt", "html")
        )

    return check
