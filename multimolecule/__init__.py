"""multimolecule: DNA language models as first-class citizens of the transformers ecosystem.

Importing the package registers every model with the transformers Auto classes and pipelines.

The `multimolecule` command (and `python -m multimolecule`) imports the package without the models, so that
`--help`, `--version` and argument errors answer without loading torch; the models are imported when a command
runs (or when one of their names is first used).
"""

import sys

__version__ = "0.1.0"


def _command_line_is_starting() -> bool:
    """True while the `multimolecule` command or `python -m multimolecule` imports the package (before parsing)."""
    if sys.argv[:1] == ["-m"]:  # `python -m ...` has not yet found its module
        argv = getattr(sys, "orig_argv", [])
        return "-m" in argv and argv.index("-m") + 1 < len(argv) and argv[argv.index("-m") + 1] == __name__
    script = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    return script.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0].removesuffix("-script") == __name__


if _command_line_is_starting():

    def __getattr__(name: str):
        """The public names, imported on first use (PEP 562); submodules are left to the import system."""
        import importlib
        import importlib.util

        if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is None:
            for module in (
                importlib.import_module(f"{__name__}.models"),
                importlib.import_module(f"{__name__}.pipelines"),
            ):
                if name in module.__all__:
                    return getattr(module, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

else:
    from .models import *  # noqa: F403
    from .models import __all__ as _models_all
    from .pipelines import BaseTokenClassificationPipeline

    __all__ = ["BaseTokenClassificationPipeline", *_models_all]
