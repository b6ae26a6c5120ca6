"""The import graph runs one way: ingest (types, text, readers, chunks) → rag (index, retrieval, answers) →
evals → ui (CLI, HTTP API, chat). No module imports a package above its own, at module level or inside a
function, and no module is longer than ~300 lines without saying why in its docstring."""

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

LAYERS = ["ingest", "rag", "evals", "ui"]
MODULES = sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_from_a_higher_layer(path):
    own = LAYERS.index(path.relative_to(ROOT).parts[0])
    above = {pkg for pkg in _imported_packages(path) if LAYERS.index(pkg) > own}
    assert not above, f"{path.relative_to(ROOT)} imports {sorted(above)}, a layer above its own"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_short_or_say_why(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert lines <= 330 or "Longer than" in docstring, f"{path.name}: {lines} lines and no reason given"
