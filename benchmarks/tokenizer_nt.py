"""Throughput of NucleotideTransformerTokenizer against transformers' slow EsmTokenizer on the same vocabulary.

    python benchmarks/tokenizer_nt.py [--vocab PATH/vocab.txt] [--megabases 1] [--length 1000]

Both tokenize the same random DNA (fixed seed; `--length`-base sequences summing to `--megabases` Mbp), must give
identical ids, and ours must be at least 20 times faster. The slow tokenizer is built as the original's
tokenizer_config.json asks (`eos_token=None`: `<cls>` first, nothing appended). Without `--vocab`, the
standard vocabulary is written to a temporary vocab.txt.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from transformers import EsmTokenizer

from multimolecule import NucleotideTransformerTokenizer
from multimolecule.models.nucleotide_transformer.tokenization_nucleotide_transformer import standard_vocabulary

MIN_SPEEDUP = 20.0


def random_dna(megabases: float, length: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    count = int(megabases * 1_000_000) // length
    return ["".join(rng.choices("ACGT", k=length)) for _ in range(count)]


def timed(function, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=Path, help="an original vocab.txt (default: the standard vocabulary)")
    parser.add_argument("--megabases", type=float, default=1.0)
    parser.add_argument("--length", type=int, default=1000, help="bases per sequence")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as directory:
        vocab = args.vocab
        if vocab is None:
            vocab = Path(directory) / "vocab.txt"
            vocab.write_text("\n".join(standard_vocabulary()))
        slow = EsmTokenizer(str(vocab), eos_token=None)
        fast = NucleotideTransformerTokenizer.from_vocab(vocab)

    sequences = random_dna(args.megabases, args.length)
    bases = sum(map(len, sequences))
    fast(sequences[:8])  # warm up
    fast_batch_s, fast_batch = timed(lambda: fast(sequences)["input_ids"])
    fast_loop_s, fast_loop = timed(lambda: [fast(sequence)["input_ids"] for sequence in sequences])
    backend_s, _ = timed(fast.backend_tokenizer.encode_batch_fast, sequences)  # ids only: the library's ceiling
    slow_s, slow_ids = timed(lambda: [slow(sequence)["input_ids"] for sequence in sequences])
    assert fast_batch == fast_loop == slow_ids, "the tokenizers disagree"

    print(
        f"{len(sequences)} sequences x {args.length} bp = {bases / 1e6:.2f} Mbp, {sum(map(len, slow_ids))} tokens, "
        f"{os.cpu_count()} CPUs"
    )
    for name, seconds in (
        ("EsmTokenizer (slow), one call per sequence", slow_s),
        ("NucleotideTransformerTokenizer, one call per sequence", fast_loop_s),
        ("NucleotideTransformerTokenizer, one batched call", fast_batch_s),
        ("its backend, encode_batch_fast (ids only, no offsets)", backend_s),
    ):
        print(f"{name:<56} {seconds:8.3f} s {bases / seconds / 1e6:8.2f} Mbp/s {slow_s / seconds:8.1f}x")
    speedup = slow_s / fast_batch_s
    if speedup < MIN_SPEEDUP:
        raise SystemExit(f"FAIL: batched speed-up {speedup:.1f}x is below the required {MIN_SPEEDUP:.0f}x")
    print(f"OK: batched speed-up {speedup:.1f}x >= {MIN_SPEEDUP:.0f}x")


if __name__ == "__main__":
    main()
