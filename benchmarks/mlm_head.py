"""Masked-LM pre-training step time with the prediction head everywhere and only at the masked positions.

`config.sparse_prediction` (ModernBERT's name) runs the masked-LM head only where `labels != -100`, as the
original DNABERT-2 pre-training does: with 15% of tokens masked the head's dense layer, LayerNorm and the
(hidden x vocab) decoder see 15% of the rows. Both settings give the same loss. Random weights, random token
ids with the model cards' masking (15% of tokens labelled), AdamW; run by hand:

    python benchmarks/mlm_head.py --size demo full --steps 5

Prints one line per size and setting: milliseconds per step (median; the two settings take turns step by
step) and training tokens per second.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from multimolecule import DnaBert2Config, DnaBert2ForMaskedLM

SIZES = {
    "demo": {
        "hidden_size": 128,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 512,
        "vocab_size": 512,
    },
    "full": {},  # the DNABERT-2 defaults: 768 wide, 12 layers, 4096 tokens
}


class PretrainingStep:
    """One model of `size` with its optimizer and a fixed masked batch; `run()` times one training step."""

    def __init__(self, size: str, sparse: bool, batch_size: int, length: int):
        torch.manual_seed(0)
        config = DnaBert2Config(**SIZES[size], sparse_prediction=sparse)
        self.model = DnaBert2ForMaskedLM(config).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        input_ids = torch.randint(5, config.vocab_size, (batch_size, length))
        self.labels = torch.where(torch.rand(batch_size, length) < 0.15, input_ids, -100)
        self.input_ids = input_ids.masked_fill(self.labels != -100, config.mask_token_id)

    def run(self) -> float:
        start = time.perf_counter()
        self.model(self.input_ids, labels=self.labels).loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--length", type=int, default=128, help="tokens per sequence")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size} x {args.length}")
    for size in args.size:
        steps = {sparse: PretrainingStep(size, sparse, args.batch_size, args.length) for sparse in (False, True)}
        times = {False: [], True: []}
        for index in range(args.steps + 1):  # the two settings take turns, so that a busy machine slows both alike
            for sparse, step in steps.items():
                elapsed = step.run()
                if index:  # the first step warms up
                    times[sparse].append(elapsed)
        for sparse in (False, True):
            median = statistics.median(times[sparse])
            tokens_per_second = args.batch_size * args.length / median
            head = "masked positions" if sparse else "every position"
            print(f"{size:>4}  head at {head:<16}  {1000 * median:8.1f} ms/step  {tokens_per_second:9.0f} tokens/s")


if __name__ == "__main__":
    main()
