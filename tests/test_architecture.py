"""The package's architecture, checked: layers, sizes, complexity, and the moved module paths.

docs/ARCHITECTURE.md describes the layers (errors -> core -> format -> live | overview -> model ->
backends -> query -> store -> analysis -> batch -> app | testing); setup.cfg declares them as
import-linter contracts. These tests make the README's test command fail when the code drifts
from what the document says: an import against the layers, an import cycle between packages, a
module too long to hold in one's head, a function over the complexity limit, an import hidden
inside a function without its reason, another module's private name imported, or an old (0.2)
module path that stops working.
"""

from __future__ import annotations

import ast
import importlib
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import cldata
from cldata.core.moved import MOVED

PACKAGE = Path(cldata.__file__).resolve().parent
REPO = PACKAGE.parent
MAX_LINES = 600


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_the_layer_contracts_hold():
    """`lint-imports` with setup.cfg's contracts: data walks one way, format knows no store, ..."""
    pytest.importorskip("importlinter", reason="import-linter is in the test extra: pip install '.[test]'")
    setup_cfg = REPO / "setup.cfg"
    if not setup_cfg.exists():
        pytest.skip(f"no setup.cfg beside the installed package ({REPO}): run from a checkout")
    beside = Path(sys.executable).with_name("lint-imports")
    lint = str(beside) if beside.exists() else shutil.which("lint-imports")
    if lint is None:
        pytest.skip("lint-imports (import-linter) is in the test extra: pip install '.[test]'")
    done = subprocess.run([lint, "--no-cache"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


def _package_of(module: str, packages: set[str]) -> str:
    return module if module in packages else module.rpartition(".")[0]


# The one dependency back up a package tree that is allowed, and why: RecordingView.segment() (the
# reader's public neo view) builds its segment with cldata.format.neo_io, which is built on the
# reader; the reader imports it only when segment() is called (neo takes ~40 ms to import).
ALLOWED_BACK_EDGES = {
    # RecordingView.segment() imports neo_io (built on the reader, and neo is slow to import)
    ("cldata.format", "cldata.format.neo_io"),
    # the toolkit's drop-in methods and results reach the analyses and plots that sit above them
    # (criticality, plots) inside the method called: scipy and matplotlib load on first use only
    ("cldata.toolkit", "cldata.toolkit.criticality"),
    ("cldata.toolkit", "cldata.toolkit.plots"),
    ("cldata.toolkit.criticality", "cldata.toolkit.plots"),
    # rec.viewer(), handle.viewer() and store.viewer() open the viewer (cldata.viz, above them) when
    # called: the entry points on the objects people hold (setup.cfg's ignore_imports says the same)
    ("cldata.format", "cldata.viz"),
    ("cldata.store", "cldata.viz"),
}


def test_no_import_cycle_between_packages():
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the test extra)")
    graph = grimp.build_graph("cldata")
    packages = {_name(p) for p in _modules() if p.name == "__init__.py"}
    edges: dict[str, set[str]] = {p: set() for p in packages}
    for module in graph.modules:
        source = _package_of(module, packages)
        if module in packages:
            continue  # a package's __init__ re-exporting its modules' names is its interface, not a dependency
        for imported in graph.find_modules_directly_imported_by(module):
            target = _package_of(imported, packages)
            if source != target and (source, target) not in ALLOWED_BACK_EDGES:
                edges[source].add(target)
    # depth-first search for a cycle, reporting it
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for package in sorted(edges):
        if package not in state:
            cycle = visit(package)
            assert cycle is None, "packages import each other: " + " -> ".join(cycle)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_fits_in_ones_head(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines: split it by idea (docs/ARCHITECTURE.md)"


def test_no_function_is_too_complex():
    """ruff's C901 with max-complexity 15 (ruff.toml), on the library."""
    # the ruff beside this interpreter (a virtual environment's, even when it is not activated)
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is in the test extra: pip install '.[test]'")
    done = subprocess.run([str(ruff), "check", "--select", "C901", "--config", "lint.mccabe.max-complexity=15",
                           "--output-format", "concise", "--no-cache", str(PACKAGE)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:]


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_imports_inside_functions_say_why():
    """Imports inside functions are for start-up time only, each with a one-line reason."""
    silent = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for function in _functions(ast.parse(text)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    here = lines[node.lineno - 1]
                    # the reason sits on the import, or just above it (its comment line, the
                    # `try:` that guards an optional import, the import it goes with)
                    above = lines[max(node.lineno - 4, function.lineno):node.lineno - 1]
                    if "#" not in here and not any("#" in line for line in above):
                        silent.append(f"{path.relative_to(REPO)}:{node.lineno}: {here.strip()}")
    assert not silent, "imports inside functions without a reason:\n" + "\n".join(silent)


def test_no_module_imports_another_modules_private_names():
    reached = []
    for path in _modules():
        module = _name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cldata"):
                if node.module == module:
                    continue
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        reached.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.module}.{alias.name}")
    assert not reached, "private names used across modules:\n" + "\n".join(reached)


def test_views_are_values_not_patched_objects():
    """No ``object.__setattr__``: immutable things are built immutable (docs/ARCHITECTURE.md)."""
    found = [f"{p.relative_to(REPO)}:{i}" for p in _modules()
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if "object.__setattr__" in line and not line.lstrip().startswith("#")]
    assert not found, found


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_module_path_still_imports_with_a_warning(old: str):
    new = MOVED[old]
    sys.modules.pop(old, None)  # imported by an earlier test: import it afresh, as a user's first import
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught), \
        [str(w.message) for w in caught]
    target = importlib.import_module(new)
    if old == "cldata.simulate":
        # the function stays callable as cldata.simulate; the old module path forwards to the new module
        assert callable(cldata.simulate) and module.simulate_recording is target.simulate_recording
    else:
        assert module is target
        assert module.__spec__.name == new


def test_a_submodule_of_a_moved_package_is_the_same_module():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = importlib.import_module("cldata.queries.predicates")
    new = importlib.import_module("cldata.query.predicates")
    assert old is new and old.Range is cldata.Range


def test_the_package_still_offers_simulate_as_a_function():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        importlib.import_module("cldata.simulate")
    # (importing the 0.2 module path sets the package attribute to a stand-in that calls the function)
    assert callable(cldata.simulate)
    with pytest.raises(cldata.errors.CldataError):
        cldata.simulate(str(REPO / "nowhere" / "x.h5"), seconds=-1)
