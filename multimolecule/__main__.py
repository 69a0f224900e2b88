"""`python -m multimolecule`: the same as the `multimolecule` command."""

import sys

from .cli import main

sys.exit(main())
