"""Tiny demo models and an example FASTA bundled with the package, so that the command line works offline.

The models were pre-trained from scratch on E. coli K-12 DNA by `scripts/pretrain_demo.py`; they show how the
tools work and are not the published models. Each family's bundled demo is the folder `multimolecule/demo/<family>/`
(the family's folder name under `multimolecule/models/`); its names are declared by the family
(`ModelPackage.demo`) and registered here by `multimolecule.models.register_model`, so that this folder names no
family: `demo_model_path` is the one lookup.

Example:
    >>> import multimolecule.models  # registers the families and their demos
    >>> from multimolecule.demo import EXAMPLE_FASTA, demo_model_path
    >>> demo_model_path("dnabert2-demo").name, EXAMPLE_FASTA.name
    ('dnabert2', 'example.fasta')
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
EXAMPLE_FASTA = DEMO_DIR / "example.fasta"
DEFAULT_MODEL = "dnabert2-demo"  # the commands' model when none is given: the project's choice, not a family's

# demo name -> folder under multimolecule/demo/, filled from the families' declarations (`register_demo`)
DEMO_MODELS: dict[str, str] = {}


def register_demo(names: Iterable[str], folder: str) -> None:
    """Make the bundled demo in `multimolecule/demo/<folder>/` loadable under each of `names` (a family's
    `ModelPackage.demo`, registered by `register_model`); a name another folder already has is an error."""
    for name in names:
        if DEMO_MODELS.get(name, folder) != folder:
            raise ValueError(f"demo name {name!r} is already the demo of {DEMO_MODELS[name]}")
        DEMO_MODELS[name] = folder


def demo_model_path(name: str) -> Path:
    """The directory of the bundled demo model called `name` (see `DEMO_MODELS`)."""
    if name not in DEMO_MODELS:
        raise KeyError(f"no demo model {name!r}; choose from {', '.join(DEMO_MODELS)}")
    return DEMO_DIR / DEMO_MODELS[name]
