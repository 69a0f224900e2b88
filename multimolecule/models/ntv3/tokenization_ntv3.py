"""The NTv3 tokenizer: one token per base, with the original vocabulary and ids, on the `tokenizers` library."""

from __future__ import annotations

import json
from collections.abc import Callable

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

from ..tokenization_utils import DnaTokenizerFast, dna_decoder

SPECIAL_TOKENS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
VOCABULARY = [*SPECIAL_TOKENS, "A", "T", "C", "G", "N"]


def build_backend(vocab: dict[str, int]) -> Tokenizer:
    """A `tokenizers` backend cutting every character into one token after upper-casing `a c g t n`.

    Any other character (IUPAC codes, `U`, whitespace, newlines) is one `<unk>`, as in the original; literal
    special tokens (`<mask>`) are matched first. Nothing is added around a sequence.
    """
    missing = [token for token in VOCABULARY if token not in vocab]
    if missing:
        raise ValueError(f"not an NTv3 vocabulary: missing {missing}")
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Replace(base, base.upper()) for base in "acgtn"])
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = dna_decoder()
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    return tokenizer


class NucleotideTransformerV3Tokenizer(DnaTokenizerFast):
    """NTv3's tokenizer: one token per base, the original's vocabulary and ids for every text.

    As the original, lower-case `a c g t n` read as upper case, any other character (IUPAC codes, `U`,
    whitespace) is one `<unk>`, literal special tokens such as `<mask>` are recognised, and no special token is
    added. Unlike the original, it returns an `attention_mask` and decodes to plain DNA.

    Example:
        >>> from multimolecule import NucleotideTransformerV3Tokenizer
        >>> tokenizer = NucleotideTransformerV3Tokenizer.standard()
        >>> tokenizer("ACGTn")["input_ids"]
        [6, 8, 9, 7, 10]
        >>> tokenizer.convert_ids_to_tokens(tokenizer("AC<mask>GU")["input_ids"])
        ['A', 'C', '<mask>', 'G', '<unk>']
        >>> tokenizer.decode(tokenizer("acgtn")["input_ids"])
        'ACGTN'
    """

    @classmethod
    def from_vocabulary(cls, vocab: dict[str, int], **kwargs) -> NucleotideTransformerV3Tokenizer:
        """Build from a token -> id table (the original `vocab.json`)."""
        special_tokens = {
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
            "cls_token": "<cls>",
            "eos_token": "<eos>",
            "bos_token": "<bos>",
        }
        return cls(tokenizer_object=build_backend(dict(vocab)), **{**special_tokens, **kwargs})

    @classmethod
    def standard(cls, **kwargs) -> NucleotideTransformerV3Tokenizer:
        """The published vocabulary (11 tokens), without any file."""
        return cls.from_vocabulary({token: index for index, token in enumerate(VOCABULARY)}, **kwargs)

    @classmethod
    def from_original_files(
        cls, fetch: Callable[[str], str | None], **kwargs
    ) -> NucleotideTransformerV3Tokenizer | None:
        """Build from the original `vocab.json` that `fetch` finds (None without one)."""
        vocab_path = fetch("vocab.json")
        if vocab_path is None:
            return None
        with open(vocab_path) as file:
            return cls.from_vocabulary(json.load(file), **kwargs)
