"""The installed version of Checkpoint, read once from the package metadata (pyproject.toml)."""

from __future__ import annotations

from importlib import metadata


def _installed() -> str:
    try:
        return metadata.version("checkpoint")
    except metadata.PackageNotFoundError:    # run from a source tree that was never installed
        return "0+unknown"


VERSION = _installed()
