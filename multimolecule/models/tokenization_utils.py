"""The base of our DNA tokenizers: a `tokenizers`-backed fast tokenizer that reads DNA as biologists write it.

Every DNA tokenizer here
- upper-cases `a c g t n` and reads `U`/`u` as `T` (the originals turn lower case into `<unk>`);
- recognises literal special tokens such as `<mask>` inside the text;
- decodes to plain DNA, without spaces between tokens;
- offers `token_bases` (the bases each id spells) and `token_lengths` (how many), which the base-resolution
  heads use;
- keeps `batch_encode_plus`, which transformers 5 removed, for the code of published model cards;
- warns (once per spelling) when the text spells a mask another way (`[MASK]`, `<MASK>`), which it reads as
  letters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from tokenizers import Regex, decoders, normalizers
from transformers.utils import logging

from ..integrations.transformers import TokenizerEncodingHook
from .loading_utils import DOWNLOAD_KWARGS, Checkpoint

logger = logging.get_logger(__name__)
MASK_LOOKALIKE = re.compile(r"[\[<{]mask[\]>}]", re.IGNORECASE)
# Set by transformers' `from_pretrained` in `init_kwargs`, which `save_pretrained` writes out (transformers 5.x).
LOADING_FACTS = ("is_local", "local_files_only")


def dna_normalizer() -> normalizers.Normalizer:
    """Upper-case the bases and read U as T; one character in, one character out, so offsets stay exact."""
    replacements = [normalizers.Replace(base, base.upper()) for base in "acgtn"]
    replacements.append(normalizers.Replace(Regex("[Uu]"), "T"))
    return normalizers.Sequence(replacements)


def dna_decoder() -> decoders.Decoder:
    """Join tokens with nothing in between: `["ACG", "TTA"]` decodes to `"ACGTTA"`."""
    return decoders.Fuse()


class DnaTokenizerFast(TokenizerEncodingHook):
    """Shared behaviour of the DNA tokenizers; subclasses only say how their backend is built."""

    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "right"

    @property
    def token_bases(self) -> list[str]:
        """The bases each id spells: the token's text, `""` for special tokens, `"N"` for `<unk>` and `<mask>`
        (one base, which the input does not name).

        Example:
            >>> from multimolecule import NucleotideTransformerTokenizer
            >>> tokenizer = NucleotideTransformerTokenizer.standard()
            >>> bases = tokenizer.token_bases
            >>> bases[tokenizer.convert_tokens_to_ids("ACGTAC")], bases[tokenizer.mask_token_id], bases[0:2]
            ('ACGTAC', 'N', ['N', ''])
        """
        vocab = self.get_vocab()
        bases = [""] * max(len(vocab), max(vocab.values()) + 1)
        one_base = {self.unk_token, self.mask_token}
        special = set(self.all_special_tokens) - one_base
        for token, index in vocab.items():
            bases[index] = "" if token in special else "N" if token in one_base else token
        return bases

    @property
    def token_lengths(self) -> list[int]:
        """Bases covered by each id: the length of the token's text, 0 for special tokens, 1 for `<unk>`/`<mask>`.

        Example:
            >>> from multimolecule import NucleotideTransformerTokenizer
            >>> tokenizer = NucleotideTransformerTokenizer.standard()
            >>> tokenizer.token_lengths[tokenizer.convert_tokens_to_ids("ACGTAC")]
            6
        """
        return [len(bases) for bases in self.token_bases]

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *init_inputs, **kwargs):
        """Also loads a bundled demo name, a `Checkpoint` already resolved, and an original checkpoint's tokenizer
        files (a directory or Hub id whose `tokenizer_config.json` names another class), converted as the model's
        converter converts them and fitted to the original `config.json` beside them
        (`OriginalLayout.fit_tokenizer`)."""
        if os.path.isfile(str(pretrained_model_name_or_path)):
            return super().from_pretrained(pretrained_model_name_or_path, *init_inputs, **kwargs)
        checkpoint = Checkpoint.resolve(pretrained_model_name_or_path, kwargs, require_config=False)
        tokenizer_config = checkpoint.json("tokenizer_config.json") or {}
        if tokenizer_config.get("tokenizer_class") != cls.__name__:
            init_kwargs = {
                key: value
                for key, value in kwargs.items()
                if key not in (*DOWNLOAD_KWARGS, "trust_remote_code", "use_fast") and not key.startswith("_")
            }
            # built once per checkpoint (the config conversion reads its token bases) unless options are given
            original = (
                cls.from_original_files(checkpoint.fetch, name_or_path=checkpoint.path, **init_kwargs)
                if init_kwargs
                else checkpoint.original_tokenizer(cls)
            )
            if original is not None:
                original.name_or_path = checkpoint.path
                checkpoint.fit_tokenizer(original)
                return original
        tokenizer = super().from_pretrained(checkpoint.path, *init_inputs, **kwargs)
        for key in LOADING_FACTS:  # where this machine found the files: not a setting to save with the tokenizer
            tokenizer.init_kwargs.pop(key, None)
        checkpoint.tokenizers.setdefault(cls, tokenizer)  # the model of this load checks its config's ids against it
        return tokenizer

    @classmethod
    def from_original_files(cls, fetch: Callable[[str], str | None], **kwargs) -> DnaTokenizerFast | None:
        """Our tokenizer built from an original checkpoint's files (`fetch(filename)` gives a local path or None);
        None when the files are not there. Subclasses say how."""
        return None

    def check_text(self, text: str) -> None:
        """Called on every text encoded: warns about spellings of the mask that are not the mask token."""
        if "[" in text or "<" in text or "{" in text:
            self.warn_mask_lookalikes(text)

    def warn_mask_lookalikes(self, text: str) -> None:
        """Warn, once per spelling, about `[MASK]`, `<MASK>` and the like: they are not the mask token, and are
        read as letters (`<unk>`s and an `A`).

        Example:
            >>> from multimolecule import NucleotideTransformerTokenizer
            >>> NucleotideTransformerTokenizer.standard().warn_mask_lookalikes("ACGT[MASK]ACGT")  # logs a warning
        """
        for spelling in {match.group() for match in MASK_LOOKALIKE.finditer(text)} - {self.mask_token}:
            logger.warning_once(f"{spelling!r} is not the mask token ({self.mask_token}): it is read as letters")

    def batch_encode_plus(self, batch_text_or_text_pairs, **kwargs):
        """Encode a batch of texts; the same as calling the tokenizer on a list (kept for older code)."""
        return self(list(batch_text_or_text_pairs), **kwargs)
