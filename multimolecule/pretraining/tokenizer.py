"""Training a tokenizer on genomes by a family's recipe (`ModelPackage.tokenizer_recipe`): the generic part.

This module reads the genomes (FASTA files or folders) as pieces of A/C/G/T, checks the options, bounds the
vocabulary by what the bases can give, and writes the output atomically; the family's `TokenizerRecipe` trains and
saves the tokenizer itself (DNABERT-2's: its BPE layout, `multimolecule/models/dnabert2/tokenizer_recipe.py`).
Nothing here names a family: the recipe is read from the registry.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from ..models import MODELS, ModelPackage, get_model
from ..utils import InputError, OptionError, atomic_output, check_apart, check_positive
from .genomes import SEGMENTS, HeldOut, genome_files, read_contigs, scan_genomes

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


def recipe_family(architecture: str | None = None) -> ModelPackage:
    """The family whose tokenizer recipe `train-tokenizer` uses: `architecture` (a `model_type` or folder name), or
    the first registered family that declares one.

    Example:
        >>> recipe_family().tokenizer_recipe.kind
        'BPE'
        >>> recipe_family("ntv3")
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: NTv3 has no tokenizer recipe; train-tokenizer trains: dnabert2
    """
    having = [package for package in MODELS.values() if package.tokenizer_recipe is not None]
    if architecture is None:
        if not having:
            raise InputError("no registered model family declares a tokenizer recipe")
        return having[0]
    try:
        package = get_model(architecture)
    except KeyError as error:
        raise OptionError(error.args[0], "architecture") from None
    if package.tokenizer_recipe is None:
        names = ", ".join(p.folder for p in having) or "none"
        message = f"{package.title} has no tokenizer recipe; train-tokenizer trains: {names}"
        raise OptionError(message, "architecture")
    return package


def train_tokenizer(
    data,
    output: str | os.PathLike,
    vocab_size: int = 4096,
    max_token_length: int = 32,
    max_bases: int | None = 100_000_000,
    model_max_length: int | None = None,
    overwrite: bool = False,
    architecture: str | None = None,
):
    """Train a vocabulary of `vocab_size` tokens (the specials and bases included) by the recipe of
    `architecture` (default: the first family that declares one, DNABERT-2's BPE) on the genomes `data` (FASTA files
    or folders; the first `max_bases` A/C/G/T bases, None for all), tokens at most `max_token_length` bases long,
    and save it in `output` (`model_max_length`: the family's trained length when None). A genome with fewer
    distinct merges than asked for gives a smaller vocabulary (its `len`, with a warning); `vocab_size` is bounded
    by what the bases can give (N bases, at most N - 1 merges).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "genome.fa").write_text(">chr1\\n" + "ATGAAACGCATTAGCACCACC" * 50 + "\\n")
        >>> tokenizer = train_tokenizer(folder / "genome.fa", folder / "bpe", vocab_size=20)
        >>> type(tokenizer).__name__, len(tokenizer), tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4, 5, 6, 7, 8])
        ('DnaBert2Tokenizer', 20, ['<unk>', '<cls>', '<eos>', '<pad>', '<mask>', 'A', 'C', 'G', 'T'])
    """
    package = recipe_family(architecture)
    recipe = package.tokenizer_recipe
    smallest = recipe.smallest
    if vocab_size is None or check_positive("vocab_size", vocab_size) < smallest:
        message = (
            f"vocab_size must be at least {smallest} ({len(recipe.special_tokens)} special tokens and the "
            f"{len(recipe.alphabet)} bases), got {vocab_size!r}"
        )
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
    length = model_max_length or package.trained_length
    with atomic_output(output, overwrite=overwrite, directory=True) as staging:
        tokenizer = recipe.train(chunks(files, max_bases), Path(staging), vocab_size, max_token_length, length)
    if len(tokenizer) < asked:
        warnings.warn(
            f"{len(tokenizer):,} tokens, fewer than the {asked:,} asked for: {few_merges(bases)}", stacklevel=2
        )
    return tokenizer


train_bpe_tokenizer = train_tokenizer  # the earlier name


def few_merges(bases: int) -> str:
    return f"the genomes ({bases:,} A/C/G/T bases) give no more distinct merges"
