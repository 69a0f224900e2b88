"""Where multimolecule relies on internals of the libraries it builds on, one module per library."""
