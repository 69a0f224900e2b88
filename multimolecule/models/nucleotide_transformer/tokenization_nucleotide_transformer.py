"""The Nucleotide Transformer's 6-mer tokenizer, with the original vocabulary and ids, on the `tokenizers` library."""

from __future__ import annotations

import functools
import itertools
import os
import re
from collections.abc import Callable

import numpy as np
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
from transformers.tokenization_utils_base import BatchEncoding, PaddingStrategy, TruncationStrategy

from ..tokenization_utils import DnaTokenizerFast, dna_decoder, dna_normalizer

SPECIAL_TOKENS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]
ONE_BASE_TOKENS = {"<unk>", "<mask>"}  # special tokens that stand for one base of the text
SINGLE_BASES = ["A", "T", "C", "G", "N"]
# What dna_normalizer does, as a str.translate table for the fast path.
NORMALIZE = str.maketrans({"a": "A", "c": "C", "g": "G", "t": "T", "n": "N", "u": "T", "U": "T"})
# Encoding options the fast path supports at these values; any other value takes the backend.
FAST_PATH_DEFAULTS = {
    "is_split_into_words": False,
    "return_token_type_ids": None,
    "return_overflowing_tokens": False,
    "return_special_tokens_mask": False,
    "return_offsets_mapping": False,
    "return_length": False,
    "split_special_tokens": None,
    "sanitize_control_tokens": None,
}
# Unicode White_Space, what the backend splits on (Python's `\s` also matches \x1c-\x1f, which the backend reads
# as characters: `<unk>`).
WHITESPACE = r"\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
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


def standard_token_bases(k: int = 6) -> list[str]:
    """The bases each id of `standard_vocabulary(k)` spells: `N` for `<unk>` and `<mask>`, other specials none.

    Example:
        >>> bases = standard_token_bases()
        >>> len(bases), bases[:7], bases[-5:]
        (4107, ['N', '', 'N', '', '', '', 'AAAAAA'], ['A', 'T', 'C', 'G', 'N'])
    """
    return [
        "N" if token in ONE_BASE_TOKENS else "" if token in SPECIAL_TOKENS else token
        for token in standard_vocabulary(k)
    ]


def standard_token_lengths(k: int = 6) -> list[int]:
    """Bases covered by each id of `standard_vocabulary(k)`: `<unk>` and `<mask>` one, other specials none.

    Example:
        >>> lengths = standard_token_lengths()
        >>> len(lengths), lengths[:7], lengths[-5:]
        (4107, [1, 0, 1, 0, 0, 0, 6], [1, 1, 1, 1, 1])
    """
    return [len(bases) for bases in standard_token_bases(k)]


STANDARD_VOCAB_SIZE = len(standard_vocabulary())


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


class _KmerTables:
    """Token ids of normalised ASCII text without special tokens, as the backend gives them.

    Runs of A/C/G/T, the common case, are cut with numpy: base codes, k at a time, as base-4 numbers into a
    table of k-mer ids. Anything else goes through `[ACGT]{k}|[^WHITESPACE]` and a dict (unknown pieces give
    `<unk>`).
    """

    def __init__(self, vocab: dict[str, int], unk_id: int):
        self.k = max(len(token) for token in vocab if token[0] != "<")
        self.unk_id = unk_id
        self.vocab = vocab
        self.pieces = re.compile(f"[ACGT]{{{self.k}}}|[^{WHITESPACE}]")
        self.bases_only = re.compile("[ACGT]*")
        self.base_codes = np.zeros(256, dtype=np.int64)
        self.base_codes[[ord(base) for base in "ACGT"]] = np.arange(4)
        self.powers = 4 ** np.arange(self.k - 1, -1, -1)  # (k,)
        kmers = ("".join(kmer) for kmer in itertools.product("ACGT", repeat=self.k))
        self.kmer_ids = np.array([vocab.get(kmer, unk_id) for kmer in kmers])  # (4 ** k,)
        self.base_ids = np.array([vocab.get(base, unk_id) for base in "ACGT"])  # (4,)

    def encode(self, text: str) -> list[int]:
        if not self.bases_only.fullmatch(text):
            return [self.vocab.get(piece, self.unk_id) for piece in self.pieces.findall(text)]
        codes = self.base_codes[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]  # (length,)
        whole = len(codes) // self.k * self.k
        kmers = codes[:whole].reshape(-1, self.k) @ self.powers  # (length // k,)
        return [*self.kmer_ids[kmers].tolist(), *self.base_ids[codes[whole:]].tolist()]


class LazyEncodings(BatchEncoding):
    """A `BatchEncoding` of ids made without the backend, whose `encodings` the backend makes on first use.

    `.tokens()`, `.word_ids()`, `.sequence_ids()`, `.char_to_token()` and the other alignment methods then work
    as on any fast tokenizer's output, at no cost to callers that only read the ids.

    Example:
        >>> from multimolecule import NucleotideTransformerTokenizer
        >>> encoded = NucleotideTransformerTokenizer.standard()("ACGTACGTAC")
        >>> type(encoded).__name__, encoded.tokens(), encoded.char_to_token(7)
        ('LazyEncodings', ['<cls>', 'ACGTAC', 'G', 'T', 'A', 'C'], 3)
    """

    _encode: Callable[[], BatchEncoding] | None = None
    _made: list | None = None

    def __init__(self, data: dict | None = None, encode: Callable[[], BatchEncoding] | None = None):
        # BatchEncoding.__init__ without its copy and tensor conversion: `data` is a padded, converted batch.
        # `type(batch)(mapping)`, as `Trainer` rebuilds a batch it moves, gives one without encodings, as
        # `BatchEncoding(mapping)` does.
        self.data, self._n_sequences, self._encode = {} if data is None else data, 1, encode

    @property
    def _encodings(self) -> list | None:
        if self._made is None and self._encode is not None:
            self._made, self._encode = self._encode().encodings, None
        return self._made

    @_encodings.setter
    def _encodings(self, encodings: list | None) -> None:
        if encodings is not None or self._encode is None:
            self._made = encodings


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

    def encode_without_backend(self, text: str | list[str], **options) -> LazyEncodings | None:
        """Tokenize with one regular expression in Python where the backend's per-token overhead would dominate.

        Plain ASCII DNA without special tokens, pairs, truncation or offsets is cut by `[ACGT]{k}|[^WHITESPACE]`
        after the same normalisation as the backend's: exactly the backend's ids (tested), about ten times faster.
        The backend makes the `encodings` (for `.tokens()`, `.word_ids()`, ...) only when they are first read.
        Any other input gives None: the `tokenizers` backend encodes it.

        Example:
            >>> tokenizer = NucleotideTransformerTokenizer.standard()
            >>> tokenizer.encode_without_backend("ACGTACGT")["input_ids"]
            [3, 728, 4105, 4103]
            >>> tokenizer.encode_without_backend("ACGT<mask>") is None
            True
        """
        texts = [text] if isinstance(text, str) else text
        truncation = options.get("truncation_strategy", TruncationStrategy.DO_NOT_TRUNCATE)
        if (
            not isinstance(texts, (list, tuple))
            or not all(isinstance(item, str) for item in texts)
            or truncation != TruncationStrategy.DO_NOT_TRUNCATE
            or any(options.get(name, default) not in (default, False) for name, default in FAST_PATH_DEFAULTS.items())
        ):
            return None
        joined = "".join(texts)
        if not joined.isascii() or "<" in joined or "[" in joined or "{" in joined:  # specials, or look-alikes
            return None

        tables = self._fast_path_tables()
        prefix = [self.cls_token_id] if options.get("add_special_tokens", True) else []
        input_ids = [[*prefix, *tables.encode(item.translate(NORMALIZE))] for item in texts]
        max_length, verbose = options.get("max_length"), options.get("verbose", True)
        for ids in input_ids:
            self.warn_if_too_long(ids, max_length, verbose)
        return_tensors = options.get("return_tensors")
        padded = self.pad(
            {"input_ids": input_ids if isinstance(text, (list, tuple)) or return_tensors else input_ids[0]},
            padding=options.get("padding_strategy", PaddingStrategy.DO_NOT_PAD),
            max_length=max_length,
            pad_to_multiple_of=options.get("pad_to_multiple_of"),
            padding_side=options.get("padding_side"),
            return_attention_mask=options.get("return_attention_mask"),
            return_tensors=return_tensors,
        )
        data = padded.data if isinstance(padded, BatchEncoding) else padded  # `pad` hands an empty input back as it is
        return LazyEncodings(data, functools.partial(self.encode_with_backend, text, **options))

    def _fast_path_tables(self) -> _KmerTables:
        """The fast path's lookup tables, rebuilt if tokens were added."""
        if getattr(self, "_fast_path_cache", (None,))[0] != len(self):
            self._fast_path_cache = (len(self), _KmerTables(self.get_vocab(), self.unk_token_id))
        return self._fast_path_cache[1]

    @classmethod
    def from_vocabulary(cls, vocab: list[str], **kwargs) -> NucleotideTransformerTokenizer:
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
    def from_vocab(cls, path: str | os.PathLike, **kwargs) -> NucleotideTransformerTokenizer:
        """Build from an original `vocab.txt` (one token a line, in id order)."""
        return cls.from_vocabulary(read_vocabulary(path), **kwargs)

    @classmethod
    def standard(cls, k: int = 6, **kwargs) -> NucleotideTransformerTokenizer:
        """Build the standard vocabulary (4107 tokens for k = 6) without any file."""
        return cls.from_vocabulary(standard_vocabulary(k), **kwargs)

    @classmethod
    def from_original_files(cls, fetch: Callable[[str], str | None], **kwargs) -> NucleotideTransformerTokenizer | None:
        """Build from the original `vocab.txt` that `fetch` finds (None without one); `from_pretrained` then caps
        its `model_max_length` as the converter does for the `config.json` beside it."""
        vocab_path = fetch("vocab.txt")
        if vocab_path is None:
            return None
        return cls.from_vocab(vocab_path, **kwargs)
