"""DNABERT-2's byte-pair-encoding tokenizer, with `<unk> <cls> <eos> <pad> <mask>` at the original ids 0-4."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from tokenizers import Tokenizer, processors

from ..tokenization_utils import DnaTokenizerFast, dna_decoder, dna_normalizer

# The original's special tokens and ours, at the same ids.
SPECIAL_TOKENS = {"[UNK]": "<unk>", "[CLS]": "<cls>", "[SEP]": "<eos>", "[PAD]": "<pad>", "[MASK]": "<mask>"}


def convert_tokenizer(original: dict) -> Tokenizer:
    """The original `tokenizer.json` (parsed) -> our backend: same BPE model and ids, renamed special tokens,
    DNA normalizer (upper case, U as T), a decoder that joins tokens without spaces, `<cls> $A <eos>`.
    """
    if original.get("model", {}).get("type") != "BPE":
        raise ValueError("not a DNABERT-2 tokenizer.json: its model is not BPE")
    converted = json.loads(json.dumps(original))
    model = converted["model"]
    model["vocab"] = {SPECIAL_TOKENS.get(token, token): index for token, index in model["vocab"].items()}
    model["unk_token"] = SPECIAL_TOKENS.get(model["unk_token"], model["unk_token"])
    for added in converted["added_tokens"]:
        added["content"] = SPECIAL_TOKENS.get(added["content"], added["content"])
    missing = set(SPECIAL_TOKENS.values()) - set(model["vocab"])
    if missing:
        raise ValueError(f"not a DNABERT-2 tokenizer.json: missing special tokens {sorted(missing)}")
    converted["post_processor"] = None
    converted["normalizer"] = None
    converted["decoder"] = None
    tokenizer = Tokenizer.from_str(json.dumps(converted))
    tokenizer.normalizer = dna_normalizer()
    tokenizer.decoder = dna_decoder()
    cls_id, eos_id = model["vocab"]["<cls>"], model["vocab"]["<eos>"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<cls> $A <eos>",
        pair="<cls> $A <eos> $B:1 <eos>:1",
        special_tokens=[("<cls>", cls_id), ("<eos>", eos_id)],
    )
    return tokenizer


class DnaBert2Tokenizer(DnaTokenizerFast):
    """DNABERT-2's tokenizer: the original BPE vocabulary and ids, reading lower case and RNA as DNA.

    Differences from the original, on purpose: lower-case bases are upper-cased (the original gives `[UNK]`),
    `U` reads as `T`, special tokens are named `<unk> <cls> <eos> <pad> <mask>` (same ids 0-4), and `decode`
    returns plain DNA without spaces. Whitespace still separates words, as in the original.

    Example:
        >>> from multimolecule import DnaBert2Tokenizer
        >>> tokenizer = DnaBert2Tokenizer.from_pretrained("multimolecule/dnabert2")  # doctest: +SKIP
        >>> tokenizer("ACGT")["input_ids"]  # doctest: +SKIP
        [1, 5, 6, 1049, 2]
    """

    @classmethod
    def from_original(cls, path: str | os.PathLike, **kwargs) -> DnaBert2Tokenizer:
        """Build from the original `tokenizer.json` of `zhihan1996/DNABERT-2-117M`."""
        with open(path) as file:
            original = json.load(file)
        special_tokens = {
            "unk_token": "<unk>",
            "cls_token": "<cls>",
            "eos_token": "<eos>",
            "sep_token": "<eos>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
        }
        return cls(tokenizer_object=convert_tokenizer(original), **{**special_tokens, **kwargs})

    @classmethod
    def from_original_files(cls, fetch: Callable[[str], str | None], **kwargs) -> DnaBert2Tokenizer | None:
        """Build from the original `tokenizer.json` that `fetch` finds; None without one."""
        path = fetch("tokenizer.json")
        return cls.from_original(path, **kwargs) if path is not None else None
