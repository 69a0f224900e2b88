"""multimolecule: DNA language models as first-class citizens of the transformers ecosystem.

Importing the package registers every model with the transformers Auto classes and pipelines: at once when
transformers is already imported, else as soon as it is (`utils.lazy.after_import`; nothing can look a model up
before). A process that never uses transformers, such as `multimolecule --help`, therefore loads neither
it nor torch. The public names (`DnaBert2Model`, `AutoModelForTokenPrediction`, ...) are imported on first use.

Example:
    >>> import multimolecule
    >>> from transformers import AutoConfig
    >>> type(AutoConfig.for_model("dnabert2")).__name__
    'DnaBert2Config'
"""

import importlib
import importlib.util

from .utils.lazy import after_import

__version__ = "0.1.0"

_EXPORTING = ("models", "pipelines")  # the subpackages whose `__all__` is the package's


def _register_models() -> None:
    """Import the model families (which register themselves with transformers) and the pipelines."""
    for name in _EXPORTING:
        importlib.import_module(f"{__name__}.{name}")


def __getattr__(name: str):
    """The public names of `models` and `pipelines` (and `__all__`), imported on first use (PEP 562); submodules
    are left to the import system."""
    if (name.startswith("_") and name != "__all__") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    modules = [importlib.import_module(f"{__name__}.{module}") for module in _EXPORTING]
    if name == "__all__":
        return [exported for module in modules for exported in module.__all__]
    for module in modules:
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


after_import("transformers", __name__, _register_models)
