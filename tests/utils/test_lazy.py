"""`utils.lazy.after_import`, and the registration of the models that `import multimolecule` makes with it: in a
fresh process, whatever is imported first, the models are registered by the time transformers can be asked."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ..helpers import subprocess_env

ENV = subprocess_env()


def run_python(code: str, tmp_path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_callback_waits_for_the_trigger_and_for_the_package(tmp_path):
    """A fake package whose module imports the trigger half-way: the callback runs once that module is complete
    (it can import the module's last name), exactly once, and the finder leaves `sys.meta_path`."""
    (tmp_path / "trigger.py").write_text("VALUE = 1\n")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "low.py").write_text("FIRST = 1\nimport trigger\nLAST = 2\n")
    output = run_python(
        """
        import sys
        from multimolecule.utils.lazy import after_import
        calls = []
        def callback():
            from pkg.low import LAST  # fails if called while pkg.low is half-imported
            calls.append((LAST, "trigger" in sys.modules))
        before = len(sys.meta_path)
        after_import("trigger", "pkg", callback)
        assert len(sys.meta_path) == before + 1 and not calls
        import pkg.low
        import trigger, pkg.low
        print(calls, len(sys.meta_path) == before, pkg.low.__loader__.__class__.__name__)
        """,
        tmp_path,
    )
    assert output == "[(2, True)] True SourceFileLoader"


@pytest.mark.parametrize(
    "first",
    [
        "import multimolecule; import transformers",  # the notebook's order
        "import transformers; import multimolecule",
        "import multimolecule.modules.attention",  # a lower layer that imports transformers half-way
        "import multimolecule.integrations.transformers",
        "from multimolecule import api",
        "from multimolecule.models import DnaBert2Model",
    ],
)
def test_whatever_comes_first_the_models_are_registered(tmp_path, first):
    output = run_python(
        f"""
        {first}
        from transformers import AutoConfig, AutoModelForMaskedLM, pipeline
        from transformers.pipelines import PIPELINE_REGISTRY
        config = AutoConfig.for_model("nucleotide_transformer")
        model = AutoModelForMaskedLM.from_config(AutoConfig.for_model("dnabert2", num_hidden_layers=1))
        print(type(config).__name__, type(model).__name__)
        """,
        tmp_path,
    )
    assert output == "NucleotideTransformerConfig DnaBert2ForMaskedLM"


def test_the_package_alone_imports_neither_torch_nor_transformers(tmp_path):
    output = run_python(
        """
        import sys
        import multimolecule
        heavy = sorted({"torch", "transformers", "multimolecule.models"} & set(sys.modules))
        print(heavy, multimolecule.DnaBert2Config.__name__, "transformers" in sys.modules)
        """,
        tmp_path,
    )
    assert output == "[] DnaBert2Config True"  # a public name imports the models on first use
