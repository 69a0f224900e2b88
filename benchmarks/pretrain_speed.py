"""Pretraining throughput: tokens per second of masked-LM training steps (forward, backward, AdamW update), random
weights, on windows cut from a random genome by `GenomeWindows` and masked by `DataCollatorForMaskedDNA`, as
`multimolecule pretrain` runs them.

    python benchmarks/pretrain_speed.py [--device cpu|cuda] [--dtype float32|bfloat16] [--steps 5] [--threads 1]
        [--sizes demo,full] [--json out.json]

Sizes: `demo` is the bundled demo models' shape (4 layers, hidden 128, windows of 128 tokens, batch 32); `full`
is DNABERT-2 117M (windows of 128 tokens, batch 8) and the Nucleotide Transformer v2 100M (windows of 1,000
tokens, batch 2). One warm-up step, then `--steps` timed steps; tokens counted without padding. Reported: tokens
per second of wall time, and per CPU second of this process (with one thread, what a quiet core would give;
on a shared machine the wall-clock rate falls with the load, so say which one is quoted).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import torch

from multimolecule import NucleotideTransformerTokenizer
from multimolecule.models.registry import MODELS
from multimolecule.pretraining import DataCollatorForMaskedDNA, GenomeWindows, HeldOut, train_bpe_tokenizer

DEMO = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 256}
FULL = {
    "dnabert2": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "nucleotide_transformer": {
        "hidden_size": 512, "num_hidden_layers": 22, "num_attention_heads": 16, "intermediate_size": 2048,
    },
}  # fmt: skip
# (window, batch) per size and family
SHAPES = {"demo": {"dnabert2": (128, 32), "nucleotide_transformer": (128, 32)}}
SHAPES["full"] = {"dnabert2": (128, 8), "nucleotide_transformer": (1000, 2)}


def tokenizers(folder: Path, genome: Path, full_vocab: bool) -> dict:
    bpe = train_bpe_tokenizer(genome, folder / f"bpe{full_vocab}", vocab_size=4096 if full_vocab else 512)
    return {"dnabert2": bpe, "nucleotide_transformer": NucleotideTransformerTokenizer.standard()}


def measure(family: str, size: str, tokenizer, genome: Path, device: str, dtype: str, steps: int) -> dict:
    window, batch_size = SHAPES[size][family]
    package = MODELS[family]
    shape = DEMO if size == "demo" else FULL[family]
    config = package.config(
        **shape, vocab_size=len(tokenizer), token_bases=tokenizer.token_bases, hidden_dropout=0.0,
        attention_dropout=0.0, pad_token_id=tokenizer.pad_token_id, mask_token_id=tokenizer.mask_token_id,
    )  # fmt: skip
    model = package.masked_lm(config).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    windows = iter(GenomeWindows([genome], tokenizer, window, "train", HeldOut(fraction=0.0), seed=0))
    collator = DataCollatorForMaskedDNA(tokenizer)
    autocast = torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    tokens, elapsed, cpu = 0, 0.0, 0.0
    for step in range(steps + 1):
        batch = collator([next(windows) for _ in range(batch_size)])
        batch = {k: v.to(device) for k, v in batch.items()}
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start, start_cpu = time.perf_counter(), time.process_time()
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if step:  # the first step warms up
            elapsed += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            tokens += int(batch["attention_mask"].sum())
    parameters = sum(p.numel() for p in model.parameters())
    return {
        "family": family, "size": size, "parameters": parameters, "window": window, "batch": batch_size,
        "device": device, "dtype": dtype, "steps": steps, "tokens_per_second": round(tokens / elapsed, 1),
        "seconds_per_step": round(elapsed / steps, 3), "tokens_per_cpu_second": round(tokens / cpu, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (0: torch's default)")
    parser.add_argument("--sizes", default="demo,full")
    parser.add_argument("--families", default="dnabert2,nucleotide_transformer")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        genome = Path(folder) / "genome.fa"
        genome.write_text(">random\n" + "".join(rng.choice("ACGT") for _ in range(400_000)) + "\n")
        for size in args.sizes.split(","):
            vocabularies = tokenizers(Path(folder), genome, full_vocab=size == "full")
            for family in args.families.split(","):
                result = measure(family, size, vocabularies[family], genome, args.device, args.dtype, args.steps)
                print(json.dumps(result), flush=True)
                results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
