"""A package's names imported from its modules when first used (PEP 562), so that importing the package itself
stays light (`multimolecule train --help` and `pretrain --help` read their settings tables without torch)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
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


def after_import(trigger: str, package: str, callback: Callable[[], None]) -> None:
    """Call `callback` once the module `trigger` is imported and no module of `package` is half-imported: now if
    that already holds, else right after the import that makes it hold (a finder at the front of `sys.meta_path`
    that wraps the loaders of `trigger` and of `package`'s modules, and steps aside once it has called back).

    Waiting for `package`'s imports to finish lets `callback` import any module of `package`: when one of them
    imports `trigger`, the callback runs once the outermost of them is complete, not half-way through it.

    Example:
        >>> calls = []
        >>> after_import("json", "multimolecule", lambda: calls.append("json"))  # json is imported: at once
        >>> calls
        ['json']
    """
    finder = _AfterImport(trigger, package, callback)
    if trigger in sys.modules:
        callback()
    else:
        sys.meta_path.insert(0, finder)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it lets the other finders find `trigger` and `package`'s modules, wraps their
    loaders, and counts how many of `package`'s modules are executing."""

    def __init__(self, trigger: str, package: str, callback: Callable[[], None]):
        self.trigger, self.package, self.callback = trigger, package, callback
        self.executing = 0

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.trigger and not fullname.startswith(f"{self.package}."):
            return None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        spec.loader = _Watched(spec.loader, self)
                    return spec
        return None

    def executed(self) -> None:
        """After each watched module has run (or failed): call back when it is time."""
        if self.executing == 0 and self.trigger in sys.modules and self in sys.meta_path:
            sys.meta_path.remove(self)
            self.callback()


class _Watched(importlib.abc.Loader):
    """The real loader, with the watching finder told when the module has run; anything else (`get_code`,
    `get_resource_reader`, ...) is the real loader's."""

    def __init__(self, loader, finder: _AfterImport):
        self.loader, self.finder = loader, finder

    def __getattr__(self, name: str):
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__spec__.loader = module.__loader__ = self.loader  # the module keeps its own loader
        inside = module.__name__ != self.finder.trigger
        self.finder.executing += inside
        try:
            self.loader.exec_module(module)
        finally:
            self.finder.executing -= inside
        self.finder.executed()
