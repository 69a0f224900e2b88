"""transformers' own common tests (`tests/` of its source distribution), fetched with pip for the installed version.

The source distribution of transformers holds `tests/test_*.py` but not the sub-packages those files import
(`tests/exporters/`, `tests/generation/`, `tests/utils/`) nor `tests/fixtures/`. `import_mixins` unpacks the files
into a cache outside the clone (`$MULTIMOLECULE_CACHE`, default `~/.cache/multimolecule`,
`/transformers-tests/<version>/transformers_tests/`) and writes what is left out:
- `exporters/test_export.py`: `ExportTesterMixin` without tests (export is tested on its own);
- `generation/test_utils.py`: `GenerationTesterMixin`, which `ModelTesterMixin` only checks a tester against
  (these encoders do not generate);
- `utils/test_configuration_utils.py`: `config_common_kwargs`, the common config arguments `ConfigTester` sets;
- `fixtures/sample_text.txt`, which `TokenizerTesterMixin.setUpClass` reads.

With `CI` set a failed fetch is an error; otherwise the test module is skipped with one line.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
import transformers

from ..helpers import in_ci

PACKAGE = "transformers_tests"  # not `tests`, which is ours; it must end with "tests" (`get_tests_dir`)
LEFT_OUT = {
    "exporters/test_export.py": '''
class ExportTesterMixin:
    """Left out of the source distribution; export is tested on its own."""
''',
    "generation/test_utils.py": '''
class GenerationTesterMixin:
    """Left out of the source distribution; ModelTesterMixin only checks testers against it."""
''',
    "utils/test_configuration_utils.py": """
config_common_kwargs = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["BertModel"],
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
    "problem_type": "regression",
}
""",
    "fixtures/sample_text.txt": "ACGTACGTAC GGTTAACC\nTTGACAGCTAGCTCAGTCCTAGGTATAATGCTAGC\n",
}


def cache_dir(version: str) -> Path:
    root = Path(os.environ.get("MULTIMOLECULE_CACHE", Path.home() / ".cache" / "multimolecule"))
    return root / "transformers-tests" / version


def fetch(version: str) -> Path:
    """The directory holding the `transformers_tests` package of `version`, downloaded and unpacked if needed."""
    directory = cache_dir(version)
    if (directory / PACKAGE / "test_modeling_common.py").is_file():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*command, f"transformers=={version}", "-d", scratch], check=True, capture_output=True)
        (archive,) = Path(scratch).glob("transformers-*.tar.gz")
        package = Path(scratch) / PACKAGE
        package.mkdir()
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts  # transformers-X/tests/test_x.py
                if len(parts) == 3 and parts[1] == "tests" and member.isfile() and parts[2].endswith(".py"):
                    (package / parts[2]).write_bytes(tar.extractfile(member).read())
        for name, text in LEFT_OUT.items():
            path = package / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.lstrip())
        for folder in {package, *(path.parent for path in package.rglob("*.py"))}:
            (folder / "__init__.py").touch()
        shutil.rmtree(directory / PACKAGE, ignore_errors=True)
        package.rename(directory / PACKAGE)
    return directory


def import_mixins(*modules: str) -> list[ModuleType]:
    """The named modules of transformers' tests for the installed version (`test_modeling_common`, ...)."""
    version = transformers.__version__
    try:
        directory = fetch(version)
    except (OSError, subprocess.CalledProcessError, ValueError) as error:
        detail = (
            error.stderr.decode().strip().splitlines()[-1:]
            if isinstance(error, subprocess.CalledProcessError)
            else error
        )
        message = f"transformers {version}'s tests could not be fetched with pip: {detail}"
        if in_ci():
            pytest.fail(f"{message}; CI is set, so they cannot be skipped", pytrace=False)
        pytest.skip(message, allow_module_level=True)
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    return [importlib.import_module(f"{PACKAGE}.{module}") for module in modules]
