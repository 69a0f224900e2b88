"""A griffe extension for the documentation site: read `Example:` in a docstring as an examples section.

The docstrings here use Google style with a singular `Example:` heading (as Napoleon accepts); griffe only knows
`Examples:` and would otherwise render the doctest as prose. Used by `mkdocs.yml`; the code is not changed.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

EXAMPLE_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = EXAMPLE_HEADING.sub(r"\1Examples:", obj.docstring.value)
