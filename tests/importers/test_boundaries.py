"""The importers package stays a pure import layer: small public surface, inward imports only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from drawdown import importers

PACKAGE = Path(importers.__file__).parent
ALLOWED_THIRD_PARTY = {"duckdb", "pyarrow"}
ALLOWED_DRAWDOWN = ("drawdown.importers", "drawdown.domain")


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_package_imports_only_the_standard_library_duckdb_pyarrow_and_inner_layers() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        for name in _imported_modules(path):
            top = name.split(".")[0]
            allowed = (
                top in sys.stdlib_module_names
                or top in ALLOWED_THIRD_PARTY
                or name == "drawdown"
                or name.startswith(ALLOWED_DRAWDOWN)
            )
            assert allowed, f"{path.name} imports {name}"


def test_the_public_surface_is_exactly_all() -> None:
    public = {name for name in vars(importers) if not name.startswith("_")}
    submodules = {path.stem for path in PACKAGE.glob("*.py")}

    assert set(importers.__all__) == public - submodules - {"annotations"}
    assert all(getattr(importers, name) is not None for name in importers.__all__)


def test_every_module_states_its_purpose() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path.name} has no module docstring"
