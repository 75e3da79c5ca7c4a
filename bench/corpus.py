"""Where the test corpora are: the public QR photos (`qr/`) and the EU DCC test vectors
and other health-credential test data (`healthpass/`).

They are other projects' data (zxing, zxing-cpp, the EU DCC test data repositories...),
copied unmodified under their own licences with a PROVENANCE.md saying where each file came
from. They are never committed to this repository: they live outside it, by default in
`../shared/corpus` beside the repository root, or wherever the CHECKPOINT_CORPUS
environment variable names. This module is the one place that knows that; tests skip, the
bench leaves out its corpus rows, and scripts stop with one line when a folder is missing.

Standard library only: scripts import it before anything else of the project.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "CHECKPOINT_CORPUS"
REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "corpus"
FIX = (f"set {ENV} to the folder holding qr/ and healthpass/, "
       "or place it at ../shared/corpus beside the repository")


class CorpusMissing(Exception):
    """A corpus folder that is not there; the message is one line saying how to fix it."""


def corpus_dir() -> Path:
    """The corpus folder: $CHECKPOINT_CORPUS if set and not empty, else ../shared/corpus
    beside the repository. Not checked: see corpus_path."""
    value = os.environ.get(ENV, "")
    return Path(value).expanduser() if value else DEFAULT


def corpus_path(*parts: str) -> Path:
    """The folder `parts` inside the corpus, e.g. corpus_path("healthpass", "dgc-testdata");
    raises CorpusMissing when it is not an existing folder."""
    path = corpus_dir().joinpath(*parts)
    if not path.is_dir():
        value = os.environ.get(ENV, "")
        source = f"{ENV}={value}" if value else f"the default, {ENV} is not set"
        raise CorpusMissing(f"no corpus folder at {path} ({source}): {FIX}")
    return path


def given_path(path: Path | None, *parts: str) -> Path:
    """A script's corpus argument: `path` when given on its command line (it must be an
    existing folder), else corpus_path(*parts). Raises CorpusMissing."""
    if path is None:
        return corpus_path(*parts)
    if not path.is_dir():
        raise CorpusMissing(f"no folder at {path} (the path given): name an existing folder, "
                            f"or leave it out to use {corpus_dir().joinpath(*parts)}")
    return path
