"""The two modes that fit a logistic regression (scikit-learn): `kmer`, on the 1- to 6-mer frequencies of each
sequence (the floor every number of the benchmark is read against), and `probe`, on the model's frozen
embeddings, mean-pooled over each sequence's tokens (`multimolecule.embedding.embed`), the linear probe of BEND
and of embedding-probe papers.

Both standardise the features on the training split, fit an L2-regularised logistic regression (lbfgs; several
classes: multinomial) for each regularisation strength of `STRENGTHS`, keep the one with the best dev score (the
task's metric), and score it on the test split. lbfgs is deterministic: a seed changes nothing here.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..utils import InputError

KMER_SIZES = (1, 2, 3, 4, 5, 6)
STRENGTHS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # scikit-learn's C: the inverse of the L2 strength
CODES = np.full(256, -1, dtype=np.int64)
for _index, _base in enumerate(b"ACGT"):
    CODES[_base] = CODES[_base + 32] = _index  # upper and lower case


def sklearn():
    """scikit-learn's modules used here, or an `InputError` saying how to install it."""
    try:
        import sklearn.exceptions
        import sklearn.linear_model
        import sklearn.metrics
        import sklearn.preprocessing
    except ImportError as error:
        message = "the kmer and probe modes need scikit-learn: pip install 'multimolecule[benchmark]'"
        raise InputError(message) from error
    return sklearn


def kmer_frequencies(sequences: list[str], sizes: tuple[int, ...] = KMER_SIZES):
    """Frequencies of every k-mer of each size in each sequence, concatenated: a sparse (sequences, 4 + 16 + ...
    + 4^6) matrix. k-mers with a base other than A, C, G, T are not counted.

    Example:
        >>> kmer_frequencies(["ACGT", "AAAN"], (1,)).toarray()
        array([[0.25, 0.25, 0.25, 0.25],
               [1.  , 0.  , 0.  , 0.  ]], dtype=float32)
    """
    from scipy.sparse import csr_matrix

    offsets = np.cumsum([0, *(4**k for k in sizes)])
    rows, columns, values = [], [], []
    for row, sequence in enumerate(sequences):
        codes = CODES[np.frombuffer(sequence.encode(), dtype=np.uint8)]
        for offset, k in zip(offsets, sizes):
            if len(codes) < k:
                continue
            windows = np.lib.stride_tricks.sliding_window_view(codes, k)  # (positions, k)
            ids = (windows * 4 ** np.arange(k - 1, -1, -1)).sum(1)[(windows >= 0).all(1)]
            if len(ids) == 0:
                continue
            found, counts = np.unique(ids, return_counts=True)
            rows.append(np.full(len(found), row))
            columns.append(found + offset)
            values.append(counts / counts.sum())
    join = (lambda parts, dtype: np.concatenate(parts).astype(dtype)) if rows else (lambda _, d: np.zeros(0, d))
    shape = (len(sequences), int(offsets[-1]))
    return csr_matrix((join(values, np.float32), (join(rows, np.int64), join(columns, np.int64))), shape=shape)


def score(metric: str, truth, predicted) -> float:
    """`mcc`, `f1` (macro, as the DNABERT-2 code computes it) or `accuracy` of integer class predictions."""
    metrics = sklearn().metrics
    if metric == "mcc":
        return float(metrics.matthews_corrcoef(truth, predicted))
    if metric == "f1":
        return float(metrics.f1_score(truth, predicted, average="macro"))
    return float(metrics.accuracy_score(truth, predicted))


def all_scores(truth, predicted) -> dict[str, float]:
    return {name: round(score(name, truth, predicted), 6) for name in ("mcc", "f1", "accuracy")}


def fit_logistic_regression(features: dict, targets: dict, metric: str = "mcc", seed: int = 0, max_iter: int = 1000):
    """Standardise `features["train"]` (sparse ones scaled only), fit a logistic regression at each strength of
    `STRENGTHS`, and keep the best on `features["dev"]` by `metric`. Returns (predict function, chosen C, dev score).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = {s: rng.normal(size=(200, 3)) for s in ("train", "dev")}
        >>> y = {s: (x[s][:, 0] > 0).astype(int) for s in x}
        >>> predict, strength, dev = fit_logistic_regression(x, y)
        >>> dev > 0.9
        True
    """
    library = sklearn()
    sparse = hasattr(features["train"], "tocsr")
    scaler = library.preprocessing.StandardScaler(with_mean=not sparse).fit(features["train"])
    train, dev = scaler.transform(features["train"]), scaler.transform(features["dev"])
    best = None
    for strength in STRENGTHS:
        model = library.linear_model.LogisticRegression(C=strength, max_iter=max_iter, random_state=seed)
        with warnings.catch_warnings():  # an unconverged fit at a weak penalty is still scored, like any other
            warnings.simplefilter("ignore", category=library.exceptions.ConvergenceWarning)
            model.fit(train, targets["train"])
        value = score(metric, targets["dev"], model.predict(dev))
        if best is None or value > best[0]:
            best = (value, strength, model)
    value, strength, model = best
    return (lambda x: model.predict(scaler.transform(x))), strength, value


def fit_and_score(features: dict, targets: dict, metric: str, seed: int, threads: int = 0) -> tuple[dict, dict]:
    """Fit on train, choose on dev, score on test: (`{"mcc", "f1", "accuracy"}` on test, `{"C", "dev_<metric>"}`),
    with at most `threads` BLAS/OpenMP threads (0: the libraries' default)."""
    sklearn()
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    with threadpool_limits(threads or None):
        predict, strength, dev = fit_logistic_regression(features, targets, metric, seed)
    return all_scores(targets["test"], predict(features["test"])), {"C": strength, f"dev_{metric}": round(dev, 6)}
