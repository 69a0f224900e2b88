"""griffe extensions for the documentation site (used by `mkdocs.yml`; the code is not changed).

- `ExampleSections`: read `Example:` in a docstring as an examples section. The docstrings use Google style
  with a singular `Example:` heading (as Napoleon accepts); griffe only knows `Examples:` and would otherwise
  render the doctest as prose.
- `DataclassConfigs`: give configuration classes the signature transformers gives them at run time. transformers 5
  turns every `PretrainedConfig` subclass into a dataclass (`dataclass_transform` and `__init_subclass__`), which
  static analysis cannot see; without this, the configs' `Args:` sections would name parameters that no
  signature has.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

EXAMPLE_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
CONFIG_BASE = "PretrainedConfig"


class ExampleSections(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = EXAMPLE_HEADING.sub(r"\1Examples:", obj.docstring.value)


def config_lineage(class_: griffe.Class) -> list[griffe.Class] | None:
    """The class and its analysed ancestors, base first, if one of them derives from `PretrainedConfig`."""
    if any(str(base).split(".")[-1] == CONFIG_BASE for base in class_.bases):
        return [class_]
    try:
        bases = class_.resolved_bases
    except Exception:  # an ancestor outside the analysed packages
        return None
    for base in bases:
        lineage = config_lineage(base)
        if lineage is not None:
            return [*lineage, class_]
    return None


class DataclassConfigs(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for class_ in self.classes(pkg):
            lineage = config_lineage(class_)
            if lineage is None or "__init__" in class_.members:
                continue
            fields: dict[str, griffe.Parameter] = {}
            for ancestor in lineage:
                for member in ancestor.members.values():
                    if member.is_attribute and not member.is_alias and member.annotation is not None:
                        fields[member.name] = griffe.Parameter(
                            member.name,
                            annotation=member.annotation,
                            kind=griffe.ParameterKind.keyword_only,
                            default=member.value,
                        )
            parameters = griffe.Parameters(
                griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword),
                *fields.values(),
                griffe.Parameter("kwargs", kind=griffe.ParameterKind.var_keyword),
            )
            init = griffe.Function("__init__", lineno=0, endlineno=0, parent=class_, parameters=parameters)
            class_.set_member("__init__", init)

    def classes(self, module: griffe.Module | griffe.Class):
        for member in module.members.values():
            if member.is_alias:
                continue
            if member.is_class:
                yield member
                yield from self.classes(member)
            elif member.is_module:
                yield from self.classes(member)
