"""The layout of arbitrage/ by domain: execution, accounting, persistence, market data, engine.

Each package's `__init__.py` is a docstring saying what lives where and imports nothing (an import
there runs on every import of any module in the package: the easy way to a circular import), and
its docstring names every module the package holds (a module added without a word there fails).
"""
import ast
from pathlib import Path

import pytest

ARBITRAGE = Path(__file__).resolve().parent.parent / "arbitrage"
PACKAGES = ["execution", "accounting", "persistence", "marketdata", "engine"]


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_init_is_a_docstring_naming_each_of_its_modules(package):
    init = ARBITRAGE / package / "__init__.py"
    tree = ast.parse(init.read_text())
    doc = ast.get_docstring(tree)
    assert doc, f"{init}: no docstring"
    assert len(tree.body) == 1, f"{init}: holds more than its docstring (imports go to the modules)"
    modules = sorted(p.name for p in init.parent.glob("*.py") if p.name != "__init__.py")
    assert modules, f"{init.parent}: an empty package"
    missing = [m for m in modules if m not in doc]
    assert not missing, f"{init}: the docstring does not say what {missing} are for"
