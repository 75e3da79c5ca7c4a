"""The test corpora outside the repository (see bench/corpus.py): a folder of it, or a skip
saying where it was looked for and how to provide it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.corpus import CorpusMissing, corpus_path


def corpus_or_skip(*parts: str) -> Path:
    """corpus_path(*parts), or skip the calling test (or fixture) with CorpusMissing's
    one-line message when that folder is not there."""
    __tracebackhide__ = True        # the skip is reported at the test's line, not here
    try:
        return corpus_path(*parts)
    except CorpusMissing as missing:
        pytest.skip(str(missing))
