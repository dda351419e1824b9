"""The layout of arbitrage/ by domain: execution, accounting, persistence, market data, engine.

Each package's `__init__.py` is a docstring saying what lives where and imports nothing (an import
there runs on every import of any module in the package: the easy way to a circular import), its
docstring names every module the package holds, and the flat modules they replaced are gone for
good (no module left behind re-exporting an old path).
"""
import ast
import importlib.util
from pathlib import Path

import pytest

ARBITRAGE = Path(__file__).resolve().parent.parent / "arbitrage"
PACKAGES = ["execution", "accounting", "persistence", "marketdata", "engine"]
# the flat modules of round 1 that now live in the packages above
OLD_MODULES = ["chase_executor", "race_executor", "orders", "order_events", "pair_watch", "paper",
               "ws_lanes", "ledger", "tradelog", "sweep", "sweep_cadence", "unsaved", "state",
               "reconcile", "locks", "book", "bookcheck", "capture", "trader", "evaluation",
               "queueing", "start_balances"]


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


@pytest.mark.parametrize("old", OLD_MODULES)
def test_an_old_flat_module_is_gone(old):
    assert importlib.util.find_spec(f"arbitrage.{old}") is None, f"arbitrage/{old}.py is back"


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_replaces_its_flat_module(package):
    # arbitrage/execution.py, accounting.py, marketdata.py were modules: now each is a package only
    assert not (ARBITRAGE / f"{package}.py").exists()
    spec = importlib.util.find_spec(f"arbitrage.{package}")
    assert spec is not None and spec.submodule_search_locations, f"arbitrage.{package} is not a package"
