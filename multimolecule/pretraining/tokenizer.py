"""Training a DNABERT-2-style BPE tokenizer on genomes, with the `tokenizers` library.

The layout is DNABERT-2's: a BPE model over the alphabet A/C/G/T, no normalizer, the `Whitespace`
pre-tokenizer, the special tokens `[UNK] [CLS] [SEP] [PAD] [MASK]` at ids 0-4 and the four bases at 5-8, then
the merges. It is trained under the original names and converted with `convert_tokenizer`, exactly as a published
DNABERT-2 `tokenizer.json` is, so the result is a `DnaBert2Tokenizer` (`<unk> <cls> <eos> <pad> <mask>`, same
ids) that `multimolecule pretrain --architecture dnabert2 --tokenizer DIR` builds a model for.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from ..models.dnabert2 import PACKAGE
from ..models.dnabert2.tokenization_dnabert2 import SPECIAL_TOKENS, DnaBert2Tokenizer
from ..utils import OptionError, atomic_output, check_apart, check_positive
from .genomes import SEGMENTS, HeldOut, genome_files, read_contigs, scan_genomes

ALPHABET = list("ACGT")
CHUNK = 1000  # bases per training "word" (the BPE trainer counts words; merges never cross a word boundary)


def chunks(files: list[Path], max_bases: int | None) -> Iterator[str]:
    """The A/C/G/T segments of every contig, in pieces of `CHUNK` bases, up to `max_bases` bases in all."""
    seen = 0
    for path in files:
        for _, sequence in read_contigs(path):
            for segment in SEGMENTS.finditer(sequence):
                dna = segment.group()
                for start in range(0, len(dna), CHUNK):
                    piece = dna[start : start + CHUNK]
                    if max_bases is not None and seen + len(piece) > max_bases:
                        piece = piece[: max_bases - seen]
                    if piece:
                        yield piece
                    seen += len(piece)
                    if max_bases is not None and seen >= max_bases:
                        return


def train_bpe_tokenizer(
    data,
    output: str | os.PathLike,
    vocab_size: int = 4096,
    max_token_length: int = 32,
    max_bases: int | None = 100_000_000,
    model_max_length: int | None = None,
    overwrite: bool = False,
) -> DnaBert2Tokenizer:
    """Train a BPE vocabulary of `vocab_size` tokens (the 5 specials and 4 bases included) on the genomes `data`
    (FASTA files or folders; the first `max_bases` A/C/G/T bases, None for all), tokens at most
    `max_token_length` bases long, and save it as a `DnaBert2Tokenizer` in `output` (`model_max_length`: the
    family's trained length when None). A genome with fewer distinct merges than asked for gives a smaller
    vocabulary (its `len`, with a warning); `vocab_size` is bounded by what the bases can give (N bases, at most
    N - 1 merges).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "genome.fa").write_text(">chr1\\n" + "ATGAAACGCATTAGCACCACC" * 50 + "\\n")
        >>> tokenizer = train_bpe_tokenizer(folder / "genome.fa", folder / "bpe", vocab_size=20)
        >>> len(tokenizer), tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4, 5, 6, 7, 8])
        (20, ['<unk>', '<cls>', '<eos>', '<pad>', '<mask>', 'A', 'C', 'G', 'T'])
    """
    smallest = len(SPECIAL_TOKENS) + len(ALPHABET)
    if vocab_size is None or check_positive("vocab_size", vocab_size) < smallest:
        message = f"vocab_size must be at least {smallest} (5 special tokens and the 4 bases), got {vocab_size!r}"
        raise OptionError(message, "vocab_size")
    check_positive("max_token_length", max_token_length)
    check_positive("max_bases", max_bases)
    files = genome_files(data)
    given = str(data).split(",") if isinstance(data, str) else [data] if isinstance(data, os.PathLike) else data
    check_apart(output, [*files, *given])
    bases = scan_genomes(files, [], HeldOut(fraction=0.0), require_eval=False).bases
    # each merge joins two tokens of the data into one, so N bases give at most N - 1 merges: a larger vocab_size
    # asks the trainer to reserve room it can never fill (a billion aborts the process)
    asked, vocab_size = vocab_size, min(vocab_size, smallest + max(0, min(bases, max_bases or bases) - 1))
    with atomic_output(output, overwrite=overwrite, directory=True) as staging:
        tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=ALPHABET,
            limit_alphabet=len(ALPHABET),
            max_token_length=max_token_length,
            show_progress=False,
        )
        tokenizer.train_from_iterator(chunks(files, max_bases), trainer=trainer)
        original = staging / "tokenizer.json"  # in the original's layout, then converted as a published one is
        tokenizer.save(str(original))
        tokenizer = DnaBert2Tokenizer.from_original(
            original, model_max_length=model_max_length or PACKAGE.trained_length
        )
        tokenizer.save_pretrained(staging)
    if len(tokenizer) < asked:
        warnings.warn(
            f"{len(tokenizer):,} tokens, fewer than the {asked:,} asked for: {few_merges(bases)}", stacklevel=2
        )
    return tokenizer


def few_merges(bases: int) -> str:
    return f"the genomes ({bases:,} A/C/G/T bases) give no more distinct merges"
