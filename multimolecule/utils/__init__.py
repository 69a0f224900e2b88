"""What every layer may use: errors and small helpers that import nothing else of multimolecule."""
