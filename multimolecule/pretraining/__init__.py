"""Masked-LM pretraining on genomes, and DNABERT-2-style tokenizer training: the engine behind
`multimolecule pretrain` and `multimolecule train-tokenizer`.

For your own `transformers.Trainer`: `GenomeWindows` (a streamed dataset of token windows over FASTA files),
`DataCollatorForMaskedDNA` (the model cards' 80/10/10 masking) and `MaskedTokenMetrics` (masked-token accuracy,
perplexity and first-base accuracy beside the most-frequent-token baselines) as `compute_metrics`.
"""

from .config import OPTIONS, PretrainConfig, resolve_pretrain_config
from .engine import build_from_config, run_pretraining
from .genomes import GenomeWindows, HeldOut, genome_files, read_contigs, scan_genomes
from .masking import DataCollatorForMaskedDNA, MaskedWindows, dna_token_ids, mask_tokens
from .metrics import MaskedTokenMetrics
from .tokenizer import train_bpe_tokenizer

__all__ = [
    "OPTIONS",
    "DataCollatorForMaskedDNA",
    "GenomeWindows",
    "HeldOut",
    "MaskedTokenMetrics",
    "MaskedWindows",
    "PretrainConfig",
    "build_from_config",
    "dna_token_ids",
    "genome_files",
    "mask_tokens",
    "read_contigs",
    "resolve_pretrain_config",
    "run_pretraining",
    "scan_genomes",
    "train_bpe_tokenizer",
]
