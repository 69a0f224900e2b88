"""transformers' own entry points on the published originals: native classes in place of their remote code.

After `import multimolecule`, `AutoConfig`, `AutoTokenizer`, every `AutoModel...` class and so `pipeline(...)`, given
a published original (`zhihan1996/DNABERT-2-117M`, `InstaDeepAI/nucleotide-transformer-v2-*`, ...) by Hub id or
directory, with or without `trust_remote_code=True`, return our native classes, with the numbers of
`multimolecule.from_pretrained`; the checkpoint's Python files are never imported, executed or downloaded. A bundled
demo name (`"nt-demo"`) loads the same way.

Only what we know is replaced. A checkpoint is an original we know when its `config.json` is in an original layout
(`OriginalLayout.matches`) that transformers cannot load by itself (it names remote code in `auto_map`, or no
`model_type` transformers has), and every remote-code file it carries (the modules `auto_map` names, and the `.py`
files of a directory) is one the layout lists as published (`OriginalLayout.remote_code`, by sha256). A checkpoint
with other remote code (a fork) is left to transformers, untouched; one without any is recognised by its config
alone. Checkpoints in transformers' own layouts (Nucleotide Transformer v1: `model_type: "esm"`) stay transformers'.

`MULTIMOLECULE_NATIVE_REMOTE_CODE=0` (or `false`, `no`, `off`) switches the replacement off.

Example:
    >>> import multimolecule
    >>> from transformers import AutoModelForMaskedLM
    >>> type(AutoModelForMaskedLM.from_pretrained("nt-demo")).__name__
    'NucleotideTransformerForMaskedLM'
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import try_to_load_from_cache
from transformers import AutoConfig, AutoTokenizer, PretrainedConfig
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
from transformers.utils import logging

from ..integrations.transformers import redirect_from_pretrained, registered_model_class
from .loading_utils import Checkpoint
from .registry import MODELS, ModelPackage

logger = logging.get_logger(__name__)

SWITCH = "MULTIMOLECULE_NATIVE_REMOTE_CODE"
# What only transformers' Auto classes take: the remote code, which native classes never run.
REMOTE_CODE_KWARGS = ("trust_remote_code", "code_revision", "use_fast", "_from_auto", "_from_pipeline")


def enabled() -> bool:
    """Whether the replacement is on (`MULTIMOLECULE_NATIVE_REMOTE_CODE` unset, or not `0`/`false`/`no`/`off`)."""
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def remote_code_files(checkpoint: Checkpoint) -> dict[str, str]:
    """{file name: local path} of the remote code the checkpoint carries, never downloading: every `.py` file of a
    directory, and the modules `auto_map` names, from the directory or the local Hub cache (of the repository a
    reference names, `"InstaDeepAI/ntv3_base_model--modeling_ntv3_pretrained.NTv3PreTrained"`, else the
    checkpoint's own)."""
    modules = set()  # (repository or None, file name)
    for references in (checkpoint.config_dict.get("auto_map") or {}).values():
        for reference in references if isinstance(references, list) else [references]:
            if reference:
                repository, _, module = reference.rpartition("--")
                modules.add((repository or None, module.rsplit(".", 1)[0] + ".py"))
    directory = Path(checkpoint.path)
    files = {path.name: str(path) for path in directory.glob("*.py")} if directory.is_dir() else {}
    for repository, name in sorted(modules, key=str):
        if directory.is_dir() and repository is None:
            continue  # a directory's own code is every .py file in it
        cached = try_to_load_from_cache(
            repository or checkpoint.path,
            name,
            cache_dir=checkpoint.download.get("cache_dir"),
            revision=None if repository else checkpoint.download.get("revision"),
        )
        if isinstance(cached, str):
            files[name] = cached
    return files


def sha256(path: str) -> str:
    """The sha256 of a file's bytes."""
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def recognise(checkpoint: Checkpoint) -> str | None:
    """How `checkpoint` is recognised as an original we load natively (`"by its remote code"`, `"by its config"`,
    `"as a bundled demo"`), or None to leave it to transformers.

    Example:
        >>> recognise(Checkpoint.resolve("dnabert2-demo"))
        'as a bundled demo'
    """
    layout = checkpoint.layout
    if layout is None:
        return "as a bundled demo" if checkpoint.model_type in MODELS and checkpoint.path != checkpoint.name else None
    config = checkpoint.config_dict
    if "auto_map" not in config and config.get("model_type") in CONFIG_MAPPING_NAMES:
        return None  # transformers' own layout (Nucleotide Transformer v1 is an `esm` model)
    files = remote_code_files(checkpoint)
    unknown = sorted(name for name, path in files.items() if sha256(path) not in layout.remote_code)
    if unknown:
        logger.info(
            f"{checkpoint.name} carries remote code that is not the published {layout.name} code "
            f"({', '.join(unknown)}): left to transformers"
        )
        return None
    return "by its remote code" if files else "by its config"


def native_loader(auto_class: type, name_or_path: Any, kwargs: Mapping[str, Any]) -> Callable | None:
    """What `redirect_from_pretrained` asks: the native loader of `auto_class` for the checkpoint `name_or_path`
    (`loader(*args, **kwargs)`), or None to leave the call to transformers."""
    if not enabled() or not isinstance(name_or_path, (str, os.PathLike)) or kwargs.get("gguf_file"):
        return None
    try:
        checkpoint = Checkpoint.resolve(name_or_path, kwargs)
        how = recognise(checkpoint)
    except Exception:  # not a checkpoint we can read: transformers says why
        return None
    if how is None:
        return None
    package = MODELS[checkpoint.model_type]
    target = native_class(auto_class, package, checkpoint)
    if target is None:
        return None
    logger.info_once(
        f"{checkpoint.name}: loaded by multimolecule's native {target.__name__} (recognised {how}); no remote code "
        f"runs. Set {SWITCH}=0 to leave it to transformers."
    )

    def load(*args, **call_kwargs):
        call_kwargs = {key: value for key, value in call_kwargs.items() if key not in REMOTE_CODE_KWARGS}
        config = call_kwargs.get("config")
        if isinstance(config, PretrainedConfig) and not isinstance(config, package.config):
            # the DNABERT-2 README passes transformers' BertConfig of the original: ours is read instead
            del call_kwargs["config"]
        return target.from_pretrained(checkpoint, *args, **call_kwargs)

    return load


def native_class(auto_class: type, package: ModelPackage, checkpoint: Checkpoint) -> type | None:
    """Our class that `auto_class` gives for `package`: its config, its tokenizer, the class of the role the family
    declares for the original class the checkpoint's `auto_map` names for `auto_class` (`original_classes`), or the
    model class registered with that Auto class (None if none is, e.g. `AutoModelForCausalLM`)."""
    if issubclass(auto_class, AutoConfig):
        return package.config
    if issubclass(auto_class, AutoTokenizer):
        return package.tokenizer
    reference = (checkpoint.config_dict.get("auto_map") or {}).get(auto_class.__name__)
    role = package.original_classes.get(reference.rsplit(".", 1)[-1]) if isinstance(reference, str) else None
    if role is not None and role in package.model_classes:
        return package.model_classes[role]
    return registered_model_class(auto_class, package.config)


def install() -> None:
    """Make transformers' Auto classes (and so `pipeline`) load the originals natively (see the module)."""
    redirect_from_pretrained(native_loader)
