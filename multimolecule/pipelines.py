"""`pipeline("token-classification")` for models that predict per base.

Our token heads give one prediction per base of the text, not per token, which transformers' pipeline cannot
map back (it expects one row of logits per token). Importing multimolecule makes the `"token-classification"`
(and `"ner"`) task build `BaseTokenClassificationPipeline`, which answers per base, for those models only; every
other model gets transformers' own `TokenClassificationPipeline`.
"""

from __future__ import annotations

import numpy as np
from transformers.pipelines import TokenClassificationPipeline
from transformers.pipelines.token_classification import AggregationStrategy

from .integrations.transformers import use_pipeline_for
from .modules.prediction import TokenPredictionMixin

__all__ = ["BaseTokenClassificationPipeline"]


class BaseTokenClassificationPipeline(TokenClassificationPipeline):
    """Token classification at base resolution: one entity per base of the text for our `...ForTokenPrediction`
    models, `word` being the base, `start`/`end` its position in the text and `index` its rank among the bases.
    `aggregation_strategy="simple"` joins runs of bases with the same label (`B-`/`I-` prefixes understood)
    into spans. `pipeline("token-classification")` builds it for those models only; every other model gets
    transformers' `TokenClassificationPipeline`.

    Example:
        >>> from transformers import pipeline
        >>> from multimolecule import AutoModelForTokenPrediction
        >>> from multimolecule.demo import demo_model_path
        >>> path = demo_model_path("nt-demo")
        >>> model = AutoModelForTokenPrediction.from_pretrained(path, id2label={0: "AT", 1: "GC"})
        >>> tagger = pipeline("token-classification", model=model, tokenizer=str(path))
        >>> bases = tagger("ACGTACGTA")
        >>> len(bases), bases[0]["word"], bases[0]["start"], bases[0]["end"], bases[0]["entity"] in ("AT", "GC")
        (9, 'A', 0, 1, True)
    """

    @staticmethod
    def handles(model) -> bool:
        """Whether `model` predicts per base (our `...ForTokenPrediction` models), which this pipeline is for."""
        return isinstance(model, TokenPredictionMixin)

    def gather_pre_entities(
        self,
        sentence: str,
        input_ids: np.ndarray,
        scores: np.ndarray,
        offset_mapping: list[tuple[int, int]] | None,
        special_tokens_mask: np.ndarray,
        aggregation_strategy: AggregationStrategy,
        word_ids: list[int | None] | None = None,
        word_to_chars_map: list[tuple[int, int]] | None = None,
    ) -> list[dict]:
        """One pre-entity per base, with `scores` (bases, num_labels) from the per-base logits."""
        token_lengths = self.model.config.token_lengths
        token_bases = self.model.config.token_bases
        pre_entities = []
        for index, token_id in enumerate(int(token_id) for token_id in input_ids):
            if offset_mapping is not None:
                token_start = int(offset_mapping[index][0])
                if word_ids is not None and word_to_chars_map is not None and word_ids[index] is not None:
                    token_start += word_to_chars_map[word_ids[index]][0]  # pre-split input: offsets are per word
            for offset in range(token_lengths[token_id]):
                start = token_start + offset if offset_mapping is not None else None
                pre_entities.append(
                    {
                        "word": sentence[start] if start is not None else token_bases[token_id][offset],
                        "scores": scores[len(pre_entities)],
                        "start": start,
                        "end": start + 1 if start is not None else None,
                        "index": len(pre_entities),
                        "is_subword": False,
                    }
                )
        return pre_entities


use_pipeline_for("token-classification", BaseTokenClassificationPipeline)
