"""multimolecule: DNA language models as first-class citizens of the transformers ecosystem.

Importing the package registers every model with the transformers Auto classes and pipelines.
"""

from .models import *  # noqa: F403
from .models import __all__ as _models_all
from .tokenisers import DnaTokenizerFast

__version__ = "0.1.0"
__all__ = ["DnaTokenizerFast", *_models_all]
