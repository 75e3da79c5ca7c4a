"""Reading a TOML config file against its schema: one loader for the device and the district.

Every problem is collected (key, bad value, what is allowed) and reported at once in a
ConfigError, so a technician fixes a file in one pass; a file that cannot be read or is
not UTF-8 is one error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.configschema import Key, validate_toml


class ConfigError(Exception):
    """The config cannot be used; `errors` lists every problem found."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.path = path
        self.errors = errors
        super().__init__(f"config {path}: " + "; ".join(errors))


def read_text(path: Path) -> tuple[Path, str]:
    """The file's absolute path and its text; ConfigError when it cannot be read."""
    path = Path(path).resolve()
    try:
        return path, path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(path, ["not UTF-8 text"]) from None


def validated(text: str, path: Path, schema: dict[str, dict[str, Key]]
              ) -> dict[str, dict[str, Any]]:
    """The values of config text read from `path` (relative paths resolved from its
    folder); ConfigError naming every problem."""
    values, errors = validate_toml(text, schema, Path(path).parent)
    if errors:
        raise ConfigError(Path(path), errors)
    return values
