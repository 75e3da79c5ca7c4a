"""The architecture's import layers, checked on the source so that a wrong import fails CI.

Every top-level package may import only the packages below it; the device (edge) and the
district meet on the wire, never in code; only cli reaches both sides, lazily. tests/ and
scripts/ are exempt: they are not scanned. Imports under `if TYPE_CHECKING:` count like
any other; relative imports are refused (the codebase uses absolute imports).
"""

from __future__ import annotations

import ast
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.support.paths import REPO

MAY_IMPORT = {
    "models": ("models",),                                  # pure data and wire formats
    "runtime": ("models", "runtime"),                       # threads, logs, SQLite, config, MQTT
    "drivers": ("models", "runtime", "drivers"),
    "edge": ("models", "runtime", "drivers", "edge"),
    "district": ("models", "runtime", "district"),          # meets the device on the wire only
    "bench": ("models", "runtime", "drivers", "edge", "bench"),
    "cli": ("models", "runtime", "drivers", "edge", "district", "cli", "bench"),
}
# The registry is the one door from the real drivers to the simulation. Today it names the
# sim modules as strings for importlib.import_module (not checked here); were it to import
# drivers.sim statically, that must be inside a function.
SIM_DOOR = "drivers/registry.py"
CLI_DISTRICT = "cli/district.py"            # the one cli module reaching the district side
CLI_LAZY = ("edge", "district", "drivers")  # imported inside command functions: --help is fast


STATEMENTS = ast.stmt | ast.excepthandler | ast.match_case


def _module(root: Path, package: str, name: str) -> str:
    """What `from package import name` imports: the submodule package.name if there is one."""
    path = root.joinpath(*package.split("."), name)
    is_module = path.is_dir() or path.with_suffix(".py").is_file()
    return f"{package}.{name}" if is_module else package


def _imports(tree: ast.AST, root: Path):
    """(line, module, lazy) for every import in `tree`; lazy means inside a function."""
    stack = [(tree, False)]
    while stack:
        node, lazy = stack.pop()
        lazy = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            yield node.lineno, "." * node.level + (node.module or ""), lazy
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                yield node.lineno, _module(root, node.module, alias.name), lazy
        stack.extend((child, lazy) for child in ast.iter_child_nodes(node)
                     if isinstance(child, STATEMENTS))  # imports are statements


def _problem(rel: str, layer: str, module: str, lazy: bool) -> str | None:
    """Which rule importing `module` from the file `rel` (in `layer`) breaks, if any."""
    top, allowed = module.split(".")[0], MAY_IMPORT[layer]
    if module.startswith("."):
        return f"relative import from {module} (use the absolute module name)"
    if top not in MAY_IMPORT:
        return None     # the standard library or a dependency
    if top not in allowed:
        return f"{layer} imports {module} ({layer} may import {', '.join(allowed)})"
    is_sim = module == "drivers.sim" or module.startswith("drivers.sim.")
    if layer == "drivers" and is_sim and not rel.startswith("drivers/sim/"):
        if rel != SIM_DOOR:
            return (f"a real driver imports {module} "
                    f"(only drivers/sim/ and, inside a function, {SIM_DOOR} may)")
        if not lazy:
            return f"{SIM_DOOR} imports {module} at module level (only inside a function)"
    if layer == "cli" and top == "district" and rel != CLI_DISTRICT:
        return f"cli imports {module} outside {CLI_DISTRICT} (the one door to the district)"
    if layer == "cli" and top in CLI_LAZY and not lazy:
        return (f"cli imports {module} at module level "
                f"(import {top} inside the command function, so --help stays fast)")
    return None


def layer_violations(root: Path) -> list[str]:
    """One line per import under `root` that breaks the layers, as 'file:line: problem'."""
    found = set()
    for layer in MAY_IMPORT:
        for path in (root / layer).rglob("*.py"):
            rel = path.relative_to(root).as_posix()
            for line, module, lazy in _imports(ast.parse(path.read_text(), rel), root):
                if problem := _problem(rel, layer, module, lazy):
                    found.add((rel, line, problem))
    return [f"{rel}:{line}: {problem}" for rel, line, problem in sorted(found)]


def test_the_rules_cover_every_package():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {pattern.rstrip("*") for pattern in include} == set(MAY_IMPORT)


@pytest.fixture(scope="module")
def today() -> list[str]:
    """The repository's violations as it stands, which a copy of it shares."""
    return layer_violations(REPO)


def test_the_repository_keeps_its_layers(today):
    assert today == [], "\n".join(["imports breaking the layers:", *today])


def _copy_packages(to: Path) -> None:
    for layer in MAY_IMPORT:
        shutil.copytree(REPO / layer, to / layer, ignore=shutil.ignore_patterns("__pycache__"))


def _append(path: Path, snippet: str) -> int:
    """Add `snippet` at the end of `path`; the line number of its last line."""
    text = path.read_text()
    path.write_text(text + snippet + "\n")
    return len((text + snippet).splitlines())


LAZY = "def later():\n    "      # the import that follows is inside a function
WRONG_IMPORTS = {
    "models": ("models/passes.py", "from edge.agent import Agent",
               "models imports edge.agent (models may import models)"),
    "models-type-checking": (
        "models/records.py", "if TYPE_CHECKING:\n    from runtime.logs import log",
        "models imports runtime.logs (models may import models)"),
    "runtime": ("runtime/logs.py", "from drivers.base import Gate",
                "runtime imports drivers.base (runtime may import models, runtime)"),
    "drivers": ("drivers/gate.py", "from edge.store import Store",
                "drivers imports edge.store (drivers may import models, runtime, drivers)"),
    "drivers-sim": (
        "drivers/camera_opencv.py", "from drivers.sim.camera import SimCamera",
        "a real driver imports drivers.sim.camera "
        "(only drivers/sim/ and, inside a function, drivers/registry.py may)"),
    "drivers-sim-package": (
        "drivers/thermal/face.py", LAZY + "from drivers import sim",
        "a real driver imports drivers.sim "
        "(only drivers/sim/ and, inside a function, drivers/registry.py may)"),
    "drivers-registry-top": (
        "drivers/registry.py", "import drivers.sim.gate",
        "drivers/registry.py imports drivers.sim.gate at module level (only inside a function)"),
    "edge": ("edge/policy.py", "import district.receiver",
             "edge imports district.receiver (edge may import models, runtime, drivers, edge)"),
    "district": ("district/validate.py", "from edge.store import Store",
                 "district imports edge.store (district may import models, runtime, district)"),
    "bench": ("bench/corpus.py", LAZY + "from district.validate import record_problem",
              "bench imports district.validate "
              "(bench may import models, runtime, drivers, edge, bench)"),
    "cli-district-elsewhere": (
        "cli/run.py", "from district.receiver import Receiver",
        "cli imports district.receiver outside cli/district.py (the one door to the district)"),
    "cli-district-lazily-elsewhere": (
        "cli/config.py", LAZY + "import district.config",
        "cli imports district.config outside cli/district.py (the one door to the district)"),
    "cli-district-top": (
        "cli/district.py", "from district.receiver import Receiver",
        "cli imports district.receiver at module level "
        "(import district inside the command function, so --help stays fast)"),
    "cli-edge-top": (
        "cli/scan.py", "from edge.agent import Agent",
        "cli imports edge.agent at module level "
        "(import edge inside the command function, so --help stays fast)"),
    "cli-drivers-top": (
        "cli/calibrate.py", "from drivers import registry",
        "cli imports drivers.registry at module level "
        "(import drivers inside the command function, so --help stays fast)"),
    "relative": ("models/cp1.py", "from . import cose",
                 "relative import from . (use the absolute module name)"),
}


@pytest.mark.parametrize(("file", "snippet", "problem"), WRONG_IMPORTS.values(),
                         ids=WRONG_IMPORTS.keys())
def test_a_wrong_import_is_caught(tmp_path, today, file, snippet, problem):
    _copy_packages(tmp_path)
    line = _append(tmp_path / file, snippet)
    added = [v for v in layer_violations(tmp_path) if v not in today]
    assert added == [f"{file}:{line}: {problem}"]


@pytest.mark.parametrize("snippet", [LAZY + "from drivers.sim import gate",
                                     LAZY + "import drivers.sim.camera"])
def test_the_registry_may_reach_the_simulation_inside_a_function(tmp_path, today, snippet):
    _copy_packages(tmp_path)
    _append(tmp_path / SIM_DOOR, snippet)
    assert layer_violations(tmp_path) == today
