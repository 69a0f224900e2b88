from .dna import DnaTokenizerFast, dna_normalizer

__all__ = ["DnaTokenizerFast", "dna_normalizer"]
