"""Masked-LM pretraining on genomes, and tokenizer training by a family's recipe: the engine behind
`multimolecule pretrain` and `multimolecule train-tokenizer`.

For your own `transformers.Trainer`: `GenomeWindows` (a streamed dataset of token windows over FASTA files),
`DataCollatorForMaskedDNA` (the model cards' 80/10/10 masking) and `MaskedTokenMetrics` (masked-token accuracy,
perplexity and first-base accuracy beside the most-frequent-token baselines) as `compute_metrics`.

The names below are imported from their modules when first used (PEP 562), as in `multimolecule.training`, so
that `multimolecule pretrain --help`, which reads `SETTINGS` from `multimolecule.pretraining.settings` to build
its options, imports no torch.

Example:
    >>> from multimolecule.pretraining import PretrainConfig, DataCollatorForMaskedDNA
    >>> PretrainConfig().mask_probability, DataCollatorForMaskedDNA.__module__
    (0.15, 'multimolecule.pretraining.masking')
"""

from ..utils.lazy import lazy_exports

MODULES = {
    "config": ("PretrainConfig", "check_settings", "resolve_pretrain_config"),
    "settings": ("SETTINGS",),
    "engine": ("build_from_config", "run_pretraining"),
    "genomes": ("GenomeWindows", "HeldOut", "genome_files", "read_contigs", "scan_genomes"),
    "masking": ("DataCollatorForMaskedDNA", "MaskedWindows", "dna_token_ids", "mask_tokens"),
    "metrics": ("MaskedTokenMetrics",),
    "tokenizer": ("recipe_family", "train_bpe_tokenizer", "train_tokenizer"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, MODULES)
