"""Tiny demo models and an example FASTA bundled with the package, so that the command line works offline.

The models were pre-trained from scratch on E. coli K-12 DNA by `scripts/pretrain_demo.py`; they show how the
tools work and are not the published DNABERT-2, Nucleotide Transformer or NTv3 models.

Example:
    >>> from multimolecule.demo import EXAMPLE_FASTA, demo_model_path
    >>> demo_model_path("dnabert2-demo").name, EXAMPLE_FASTA.name
    ('dnabert2', 'example.fasta')
"""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
EXAMPLE_FASTA = DEMO_DIR / "example.fasta"
DEFAULT_MODEL = "dnabert2-demo"

# alias -> directory under multimolecule/demo/
DEMO_MODELS = {
    "dnabert2-demo": "dnabert2",
    "nt-demo": "nucleotide_transformer",
    "nucleotide-transformer-demo": "nucleotide_transformer",
    "nucleotide_transformer-demo": "nucleotide_transformer",
    "ntv3-demo": "ntv3",
}


def demo_model_path(alias: str) -> Path:
    """The directory of the bundled demo model called `alias` (see `DEMO_MODELS`)."""
    if alias not in DEMO_MODELS:
        raise KeyError(f"no demo model {alias!r}; choose from {', '.join(DEMO_MODELS)}")
    return DEMO_DIR / DEMO_MODELS[alias]
