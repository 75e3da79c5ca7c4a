"""Where the repository is, and how tests start the `checkpoint` command."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The command line as the installed console script runs it, from this interpreter.
CHECKPOINT = [sys.executable, "-m", "cli.main"]
# The console script itself, where a test is about what a technician types.
CHECKPOINT_SCRIPT = str(Path(sys.executable).parent / "checkpoint")
