"""The commands with NTv3, on the published layout of the pre-trained fixture: fill-mask, embed per base,
pretrain --architecture ntv3, score-variants (llr: one masked pass per variant), mutagenesis; a role the family lacks
refused in one line; fill-mask and info on the bundled demo by name."""

from __future__ import annotations

import json

import numpy as np
import torch

import multimolecule
from multimolecule import NucleotideTransformerV3ForMaskedLM, api

from ...helpers import MASKED, cli_error, random_dna, run_cli


def test_fill_mask_gives_the_models_probabilities(capsys, pre):
    code, out, _ = run_cli(capsys, "fill-mask", "-m", pre, "ACGTAC<mask>TTAGCA")
    assert code == 0
    model = NucleotideTransformerV3ForMaskedLM.from_pretrained(pre).eval()
    with torch.no_grad():
        logits = model(torch.tensor([[6, 8, 9, 7, 6, 8, 2, 7, 7, 6, 9, 8, 6]])).logits[0, 6]
    probabilities = logits[[6, 8, 9, 7]].softmax(-1)  # over the four bases, A C G T
    best = int(probabilities.argmax())
    assert f"1. {'ACGT'[best]}" in out and f"{probabilities[best].item():.3f}" in out


def test_the_demo_by_name(capsys):
    code, out, _ = run_cli(capsys, "fill-mask", "-m", "ntv3-demo", MASKED)
    assert code == 0
    model = multimolecule.from_pretrained("ntv3-demo", task="fill-mask").eval()
    tokenizer = multimolecule.tokenizer_from_pretrained("ntv3-demo")
    encoded = tokenizer(MASKED, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits[0, encoded["input_ids"][0] == tokenizer.mask_token_id][0]
    probabilities = logits[[6, 8, 9, 7]].softmax(-1)  # over the four bases, A C G T
    best = int(probabilities.argmax())
    assert f"1. {'ACGT'[best]}" in out and f"{probabilities[best].item():.3f}" in out
    details = api.info("ntv3-demo")
    assert details["model_type"] == "nucleotide_transformer_v3" and details["trained_length"] == 512
    assert details["held_out_accuracy"] > details["baseline_accuracy"]


def test_embed_per_base(capsys, pre, tmp_path):
    fasta = tmp_path / "in.fa"
    fasta.write_text(f">a\n{random_dna(70, 1)}\n>b\n{random_dna(9, 2)}\n")
    code, _, _ = run_cli(capsys, "embed", "-m", pre, fasta, "-o", tmp_path / "out.npz", "--per-base", "-q")
    assert code == 0
    saved = np.load(tmp_path / "out.npz")
    assert saved["per_base.0"].shape == (70, 16) and saved["per_base.1"].shape == (9, 16)
    assert np.allclose(saved["embeddings"][1], saved["per_base.1"].mean(0), atol=1e-5)


def test_variant_scores_and_mutagenesis(capsys, pre, tmp_path):
    sequence = random_dna(600, 3)
    (tmp_path / "ref.fa").write_text(f">chr1\n{sequence}\n")
    ref = sequence[299]
    alt = "A" if ref != "A" else "C"
    (tmp_path / "variants.tsv").write_text(f"chr1\t300\t{ref}\t{alt}\n")
    code, _, _ = run_cli(
        capsys, "score-variants", tmp_path / "variants.tsv", "-r", tmp_path / "ref.fa", "-m", pre, "-o",
        tmp_path / "scores.tsv", "-q",
    )  # fmt: skip
    assert code == 0
    score = float((tmp_path / "scores.tsv").read_text().splitlines()[1].split("\t")[-1])
    assert np.isfinite(score) and score != 0
    code, _, _ = run_cli(capsys, "mutagenesis", f"{tmp_path / 'ref.fa'}:10-12", "-m", pre, "-o", tmp_path / "m.tsv")
    assert code == 0 and len((tmp_path / "m.tsv").read_text().splitlines()) == 1 + 9


def test_pretrain_from_scratch_by_folder_name(capsys, tmp_path):
    (tmp_path / "genome.fa").write_text(f">g\n{random_dna(6000, 4)}\n")
    code, _, err = run_cli(
        capsys, "pretrain", "--data", tmp_path / "genome.fa", "--architecture", "ntv3", "--hidden-size", "32",
        "--num-hidden-layers", "1", "--max-length", "512", "--eval-fraction", "0.2", "--max-steps", "2", "-b", "2",
        "--eval-windows", "2", "--output-dir", tmp_path / "out", "-q", "--device", "cpu",
    )  # fmt: skip
    assert code == 0, err
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["model_type"] == "nucleotide_transformer_v3" and config["hidden_size"] == 32


def test_a_missing_role_is_one_line(capsys, pre, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text('sequence,label\nACGT,"[[0, 3]]"\n')
    (data / "dev.csv").write_text('sequence,label\nACGT,"[[0, 3]]"\n')
    line = cli_error(capsys, "train", "--data", data, "-m", pre, "--output-dir", tmp_path / "out", "-q")
    assert "NTv3 has no contact-prediction head" in line
