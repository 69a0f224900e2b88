"""Fixtures shared by the test modules, and the run's last line: how many tests were skipped for want of
../shared (see tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from .helpers import BENCHMARK_LIMIT, MISSING, ROOT, SHARED, fixture_dir, load_script


@pytest.fixture(scope="module")
def original(request) -> Path:
    """The original checkpoint named by the test module's `FIXTURE` (parts of a path under ../shared/fixtures)."""
    return fixture_dir(*request.module.FIXTURE)


@pytest.fixture(scope="module")
def reference(original) -> dict[str, torch.Tensor]:
    """The original implementation's outputs on the fixture's reference batch."""
    return load_file(original / "reference.safetensors")


@pytest.fixture(scope="module")
def tokenizer(converted):
    """The tokenizer of the test module's `converted` directory."""
    return AutoTokenizer.from_pretrained(converted)


@pytest.fixture(scope="session")
def benchmark_suite(tmp_path_factory) -> dict[str, Path]:
    """The small benchmark suite of real sequences (scripts/benchmark_data.py) in every layout: {layout: folder};
    for tests/benchmark/ and tests/cli/test_benchmark.py."""
    root = tmp_path_factory.mktemp("suite")
    script = load_script("benchmark_data")
    layouts = ("folder", "gue", "nt", "genomic-benchmarks")
    return {layout: script.write(root / layout, layout, BENCHMARK_LIMIT) for layout in layouts}


def pytest_terminal_summary(terminalreporter) -> None:
    """One line at the end: how many tests were skipped for want of ../shared, and why."""
    skipped = [report for report in terminalreporter.stats.get("skipped", []) if MISSING in str(report.longrepr)]
    if skipped:
        terminalreporter.write_line(
            f"{len(skipped)} tests against the original implementations were skipped: {MISSING} "
            f"(expected at {SHARED}); set CI=true to make this an error",
            yellow=True,
            bold=True,
        )


# The model, loading and contract tests, which .ci/run also runs on the declared minimum versions (`-m minimum`):
# every file of tests/models/<model_type>/, and these, by file stem; test_metrics and test_config (danling, chanfig:
# training/ and pretraining/) and test_progress (tqdm) are there so that each pinned dependency is exercised.
MINIMUM_VERSION_TESTS = {"test_common", "test_loading_utils", "test_load_report", "test_heads"}
MINIMUM_VERSION_TESTS |= {"test_metrics", "test_config", "test_progress"}


# The slow tier (`-m slow`; the edit-test loop runs `-m "not slow"`): whole files, then single tests (all their
# parameters with them), as paths from the root of the clone. Each took more than 2 s on a busy 2-core machine (the
# docs' snippets, export and compilation, training runs, subprocesses, Hypothesis); transformers' own model tests
# are 600 quick ones that add up.
SLOW = {
    "tests/docs/test_docs.py",
    "tests/models/test_export.py",
    "tests/models/test_transformers_common.py",
    "tests/training/test_engine.py",
    "tests/pretraining/test_engine.py",
    "tests/utils/test_lazy.py",
    "tests/test_conftest.py",
    "tests/modules/test_flex_attention.py",
    # single tests
    "tests/cli/test_common.py::test_embed_refuses_to_overwrite",
    "tests/cli/test_common.py::test_import_registers_the_models",
    "tests/cli/test_common.py::test_interrupted_embed_command",
    "tests/cli/test_embed.py::test_a_full_disk_is_one_error_line",
    "tests/cli/test_embed.py::test_embed_npy_npz_gzip_and_order",
    "tests/cli/test_embed.py::test_embed_safetensors_per_base",
    "tests/cli/test_fill_mask.py::test_fill_mask_file_keeps_ids_and_does_not_echo",
    "tests/cli/test_fill_mask.py::test_missing_model_directory_subprocess",
    "tests/models/dnabert2/test_configuration_dnabert2.py::test_config_defaults_are_117m",
    "tests/models/nucleotide_transformer/test_tokenization_nucleotide_transformer.py::test_trainer_takes_the_tokenizer_output_as_a_batch",
    "tests/models/test_common.py::test_half_precision_stays_finite_on_long_inputs",
    "tests/models/test_loading_utils.py::test_hub_ids_load_offline_from_the_cache",
    "tests/models/test_tokenization_utils.py::test_batch_encoding_equals_one_at_a_time",
    "tests/models/test_tokenization_utils.py::test_decoding_returns_the_normalised_input",
    "tests/modules/test_bases.py::test_expand_to_bases_matches_a_plain_loop",
    "tests/models/test_tokenization_utils.py::test_token_lengths_sum_to_the_bases",
    "tests/modules/test_attention.py::test_long_input_runs_in_query_chunks",
    "tests/modules/test_attention.py::test_torch_compile_gives_the_same_numbers",
    "tests/modules/test_heads.py::test_every_head_trains_with_trainer",
    "tests/embedding/test_engine.py::test_resume_skips_finished_shards",
    "tests/embedding/test_engine.py::test_two_processes_equal_one_and_resume_skips_finished_shards",
    "tests/embedding/test_engine.py::test_two_processes_refusing_a_resume_both_fail_with_the_reason",
    "tests/variants/test_engine.py::test_resume_keeps_finished_shards",
    "tests/cli/test_mutagenesis.py::test_mutagenesis_command_writes_table_and_picture",
    "tests/variants/test_plot.py::test_rows_of_a_hundred_bases_set_the_size",
    "tests/variants/test_track_scores.py::test_command_writes_the_chosen_tracks_and_the_summary",
    "tests/variants/test_track_scores.py::test_resume_and_shards_as_for_the_other_scores",
    "tests/variants/test_scores.py::test_head_scores_equal_predict_on_the_two_windows",
    "tests/variants/test_scores.py::test_llr_is_the_masked_base_marginal",
    "tests/variants/test_scores.py::test_no_dependence_on_batch_company_or_attention_backend",
    "tests/variants/test_scores.py::test_per_base_head_at_the_changed_base",
    "tests/variants/test_scores.py::test_pll_is_the_difference_over_differing_tokens",
    "tests/models/test_remote_code.py::test_client_flows_by_offline_hub_id",
    "tests/models/test_remote_code.py::test_lora_on_query_value_trains_the_same_layers",
    "tests/models/test_loading_utils.py::test_a_load_reads_each_file_once",
    "tests/models/dnabert2/test_dnabert_s.py::test_loads_by_offline_hub_id",
    "tests/models/ntv3/test_commands.py::test_pretrain_from_scratch_by_folder_name",
    "tests/models/ntv3/test_commands.py::test_variant_scores_and_mutagenesis",
    "tests/benchmark/test_engine.py::test_finetune_and_lora_write_the_train_output",
    "tests/benchmark/test_engine.py::test_torchrun_ranks_take_their_own_tasks",
    "tests/benchmark/test_engine.py::test_resume_skips_finished_units_and_merges",
    "tests/benchmark/test_engine.py::test_lora_units_resume",
    "tests/variants/test_engine.py::test_resume_resumes_only_the_same_job",
}


def is_slow(item) -> bool:
    path = item.path.resolve().relative_to(ROOT).as_posix() if item.path.resolve().is_relative_to(ROOT) else ""
    name = getattr(item, "originalname", None) or item.name
    return path in SLOW or f"{path}::{name}" in SLOW


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        family = item.path.parents[1].name == "models" and item.path.parents[2].name == "tests"
        if item.path.stem in MINIMUM_VERSION_TESTS or family:
            item.add_marker(pytest.mark.minimum)
        if is_slow(item):
            item.add_marker(pytest.mark.slow)
