"""The Nucleotide Transformer's 6-mer tokenizer, with the original vocabulary and ids, on the `tokenizers` library."""

from __future__ import annotations

import itertools
import os

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

from ...tokenisers.dna import DnaTokenizerFast, dna_decoder, dna_normalizer

SPECIAL_TOKENS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
SINGLE_BASES = ["A", "T", "C", "G", "N"]
# The original trained on 1,000-token sequences (its tokenizer_config.json says 2048, which the model never saw).
MODEL_MAX_LENGTH = 1000


def standard_vocabulary(k: int = 6) -> list[str]:
    """The NT vocabulary in id order: the specials, the k-mers in `product("ATCG")` order, then A T C G N.

    Example:
        >>> vocab = standard_vocabulary()
        >>> len(vocab), vocab[6], vocab[369], vocab[4101], vocab[-5:]
        (4107, 'AAAAAA', 'ATTCCG', 'GGGGGG', ['A', 'T', 'C', 'G', 'N'])
    """
    return SPECIAL_TOKENS + ["".join(kmer) for kmer in itertools.product("ATCG", repeat=k)] + SINGLE_BASES


def read_vocabulary(path: str | os.PathLike) -> list[str]:
    """The tokens of an original `vocab.txt`, one a line, in id order."""
    with open(path) as file:
        return file.read().splitlines()


def build_backend(vocab: list[str]) -> Tokenizer:
    """A `tokenizers` backend cutting non-overlapping k-mers left to right, single characters elsewhere.

    `[ACGT]{k}|.` after splitting on whitespace: a k-mer wherever k bases A/C/G/T follow, else one character
    (a base, `N`, or anything else, which becomes `<unk>`). Literal special tokens are matched before it.
    `<cls>` is prepended and nothing appended, as in the original.
    """
    missing = [token for token in SPECIAL_TOKENS[:4] + SINGLE_BASES if token not in vocab]
    if missing:
        raise ValueError(f"not a Nucleotide Transformer vocabulary: missing {missing}")
    k = max(len(token) for token in vocab if token not in SPECIAL_TOKENS)
    ids = {token: index for index, token in enumerate(vocab)}
    tokenizer = Tokenizer(models.WordLevel(ids, unk_token="<unk>"))
    tokenizer.normalizer = dna_normalizer()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(f"[ACGT]{{{k}}}|."), behavior="isolated")]
    )
    tokenizer.decoder = dna_decoder()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<cls> $A", pair="<cls> $A $B:1", special_tokens=[("<cls>", ids["<cls>"])]
    )
    tokenizer.add_special_tokens([token for token in SPECIAL_TOKENS if token in ids])
    return tokenizer


class NucleotideTransformerTokenizer(DnaTokenizerFast):
    """The Nucleotide Transformer's tokenizer: non-overlapping 6-mers, single bases where six do not follow.

    Same vocabulary and ids as the original, and the same ids for every upper-case DNA text. Differences, on
    purpose: lower-case bases are upper-cased (the original gives `<unk>` and shifts the 6-mer frame), `U` reads
    as `T`, any other character is one `<unk>` after which the frame restarts, and `decode` returns plain DNA.
    `<cls>` comes first and no `<eos>` is appended; padding is on the right with `<pad>`.

    Example:
        >>> from multimolecule import NucleotideTransformerTokenizer
        >>> tokenizer = NucleotideTransformerTokenizer.standard()
        >>> tokenizer("ATTCCGATTCCGATTCCGAT")["input_ids"]
        [3, 369, 369, 369, 4102, 4103]
        >>> tokenizer.convert_ids_to_tokens(tokenizer("ACCTGA<mask>TTCTGAGTC")["input_ids"])
        ['<cls>', 'ACCTGA', '<mask>', 'TTCTGA', 'G', 'T', 'C']
        >>> tokenizer.decode(tokenizer("acgtanacg")["input_ids"], skip_special_tokens=True)
        'ACGTANACG'
    """

    @classmethod
    def from_vocabulary(cls, vocab: list[str], **kwargs) -> "NucleotideTransformerTokenizer":
        """Build from a list of tokens in id order."""
        special_tokens = {
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
            "cls_token": "<cls>",
            "eos_token": "<eos>" if "<eos>" in vocab else None,
            "bos_token": "<bos>" if "<bos>" in vocab else None,
            "model_max_length": MODEL_MAX_LENGTH,
        }
        return cls(tokenizer_object=build_backend(vocab), **{**special_tokens, **kwargs})

    @classmethod
    def from_vocab(cls, path: str | os.PathLike, **kwargs) -> "NucleotideTransformerTokenizer":
        """Build from an original `vocab.txt` (one token a line, in id order)."""
        return cls.from_vocabulary(read_vocabulary(path), **kwargs)

    @classmethod
    def standard(cls, k: int = 6, **kwargs) -> "NucleotideTransformerTokenizer":
        """Build the standard vocabulary (4107 tokens for k = 6) without any file."""
        return cls.from_vocabulary(standard_vocabulary(k), **kwargs)
