"""DNABERT-2's tokenizer-training recipe (`multimolecule train-tokenizer`), declared in the family's `PACKAGE`.

The layout is DNABERT-2's: a BPE model over the alphabet A/C/G/T, no normalizer, the `Whitespace` pre-tokenizer,
the special tokens `[UNK] [CLS] [SEP] [PAD] [MASK]` at ids 0-4 and the four bases at 5-8, then the merges. It is
trained under the original names and converted with `convert_tokenizer`, exactly as a published DNABERT-2
`tokenizer.json` is, so the result is a `DnaBert2Tokenizer` (`<unk> <cls> <eos> <pad> <mask>`, same ids) that
`multimolecule pretrain --architecture dnabert2 --tokenizer DIR` builds a model for. The generic part (genomes,
options, the atomic output) is `multimolecule.pretraining.tokenizer`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from ..registry import TokenizerRecipe
from .tokenization_dnabert2 import SPECIAL_TOKENS, DnaBert2Tokenizer

ALPHABET = ("A", "C", "G", "T")


def train_bpe(
    pieces: Iterator[str], folder: Path, vocab_size: int, max_token_length: int, model_max_length: int
) -> DnaBert2Tokenizer:
    """Train DNABERT-2's BPE layout on `pieces` and save it as a `DnaBert2Tokenizer` into `folder`.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> tokenizer = train_bpe(iter(["ATGAAACGCATTAGCACCACC" * 50]), folder, 20, 32, 128)
        >>> len(tokenizer), tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4, 5, 6, 7, 8])
        (20, ['<unk>', '<cls>', '<eos>', '<pad>', '<mask>', 'A', 'C', 'G', 'T'])
    """
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=list(ALPHABET),
        limit_alphabet=len(ALPHABET),
        max_token_length=max_token_length,
        show_progress=False,
    )
    tokenizer.train_from_iterator(pieces, trainer=trainer)
    original = folder / "tokenizer.json"  # in the original's layout, then converted as a published one is
    tokenizer.save(str(original))
    converted = DnaBert2Tokenizer.from_original(original, model_max_length=model_max_length)
    converted.save_pretrained(folder)
    return converted


RECIPE = TokenizerRecipe(kind="BPE", special_tokens=tuple(SPECIAL_TOKENS.values()), alphabet=ALPHABET, train=train_bpe)
