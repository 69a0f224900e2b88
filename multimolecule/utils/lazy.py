"""A package's names imported from its modules when first used (PEP 562), so that importing the package itself
stays light (`multimolecule train --help` and `pretrain --help` read their settings tables without torch)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, modules: dict[str, tuple[str, ...]]) -> tuple[list[str], Callable, Callable]:
    """(`__all__`, `__getattr__`, `__dir__`) for the package `package` whose public names (`modules`: module ->
    its names) are imported from their modules when first used.

    Example:
        >>> names, getter, _ = lazy_exports("multimolecule.utils", {"checks": ("check_positive",)})
        >>> names, getter("check_positive").__module__
        (['check_positive'], 'multimolecule.utils.checks')
    """
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return sorted(where), __getattr__, __dir__
