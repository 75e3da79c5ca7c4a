"""Open the district store a `[store] url` names: SQLite by default, or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from district.config import PG_SCHEMES
from district.stores.sql import DistrictStoreError, SqlStore


def open_store(url: str) -> SqlStore:
    """`sqlite:////ABSOLUTE/PATH` or `postgresql://...`; DistrictStoreError if it cannot."""
    if url.startswith(PG_SCHEMES):
        from district.stores.postgres import PgDistrictStore

        return PgDistrictStore(url)
    if url.startswith("sqlite:///"):
        from district.stores.sqlite import DistrictStore

        return DistrictStore(Path(url.removeprefix("sqlite:///")))
    raise DistrictStoreError(f"unknown store url {url!r}")
