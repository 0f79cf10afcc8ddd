"""The package's doctests: every example in a docstring of ``analysis`` runs (``make test``, ``make test-quick``).

One test per module that has examples, so a failure names the module and the example.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from analysis.paths import PACKAGE_DIR


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if path.name == "__main__.py" or ">>> " not in path.read_text(encoding="utf-8"):
            continue
        rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        names.append(".".join(part for part in rel.parts if part != "__init__"))
    return names


MODULES = _modules_with_examples()


def test_the_package_has_examples_to_run() -> None:
    assert len(MODULES) >= 10, MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples in {name} failed (output above)"
    )
