"""The in-silico mutagenesis picture: a logo of per-position importance over a positions x bases heatmap.

Long regions wrap into rows of `PER_ROW` bases, so 100 bp and 1,000 bp are both readable: every row has its own
logo and heatmap, all on one colour scale (centred on 0). Under each heatmap the reference bases are written
(rows of at most `LETTERS_UP_TO` bases; longer rows show positions only). The logo draws the reference base at
each position with height = importance: for `llr` and `pll` the mean over the three alternatives of `-score`
(how much less likely the model finds the alternatives), for the distances the mean score. Needs matplotlib and
logomaker (`pip install multimolecule[variants]`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..seqio import DNA
from ..utils import InputError, atomic_output
from .engine import VariantScores

PER_ROW = 100
LETTERS_UP_TO = 100
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def check_plot(path: str | os.PathLike) -> None:
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(f"the plot is written as .png, .svg or .pdf, not {Path(path).name}")


def score_matrix(result: VariantScores, column: str) -> tuple[list[int], str, list[list[float]]]:
    """(positions, reference bases, rows of the 4 bases' scores) of a mutagenesis result (NaN at the reference)."""
    by_position: dict[int, dict[str, float]] = {}
    reference: dict[int, str] = {}
    for variant, row in zip(result.variants, result.scores):
        reference[variant.pos] = variant.ref
        by_position.setdefault(variant.pos, {})[variant.alt] = row.get(column, math.nan)
    positions = sorted(by_position)
    matrix = [[by_position[p].get(base, math.nan) for base in DNA] for p in positions]
    return positions, "".join(reference[p] for p in positions), matrix


def plot_mutagenesis(
    result: VariantScores,
    path: str | os.PathLike,
    column: str | None = None,
    title: str = "",
    overwrite: bool = False,
    offset: int = 0,
) -> Path:
    """Write the picture of `result` (scores of `column`, default the first) to `path` (.png, .svg or .pdf),
    atomically; an existing file is replaced only with `overwrite`. Positions are labelled `offset` + the
    position in the mutated sequence (e.g. genome coordinates for a stretch cut out of a genome)."""
    import logomaker
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    check_plot(path)
    column = column or result.columns[0]
    if column not in result.columns:
        raise InputError(f"no score {column!r} to plot (scores: {', '.join(result.columns)})")
    positions, reference, matrix = score_matrix(result, column)
    values = np.array(matrix, dtype=float)  # (positions, 4)
    sign = -1.0 if column in ("llr", "pll") or column.startswith("head_") else 1.0
    importance = np.nan_to_num(sign * np.nanmean(values, axis=1) if len(values) else values)
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    rows = math.ceil(len(positions) / PER_ROW)
    width = min(PER_ROW, len(positions))
    figure_width = max(6.0, 0.13 * width + 1.6)
    height = 2.3 * rows + 0.7
    figure = plt.figure(figsize=(figure_width, height))
    margin = 0.45 / height  # inches, as a fraction of the figure's height
    grid = figure.add_gridspec(
        rows * 2, 1, height_ratios=[1.0, 1.1] * rows, hspace=0.35, left=0.9 / figure_width,
        right=1 - 1.1 / figure_width, top=1 - (margin + (0.25 / height if title else 0)), bottom=margin,
    )  # fmt: skip
    logo_top = max(float(importance.max()), 0.0) if len(importance) else 1.0
    logo_bottom = min(float(importance.min()), 0.0) if len(importance) else 0.0
    image = None
    for number in range(rows):
        chunk = slice(number * PER_ROW, (number + 1) * PER_ROW)
        chunk_positions, chunk_reference = positions[chunk], reference[chunk]
        logo_axis = figure.add_subplot(grid[2 * number])
        heights = pd.DataFrame(0.0, index=range(len(chunk_positions)), columns=list(DNA))
        for i, base in enumerate(chunk_reference):
            heights.loc[i, base] = importance[chunk][i]
        logomaker.Logo(heights, ax=logo_axis, color_scheme="classic")
        logo_axis.set_xlim(-0.5, width - 0.5)
        logo_axis.set_ylim(logo_bottom, logo_top if logo_top > logo_bottom else logo_bottom + 1)
        logo_axis.set_xticks([])
        logo_axis.set_ylabel("importance", fontsize=8)
        logo_axis.tick_params(labelsize=7)
        for side in ("top", "right"):
            logo_axis.spines[side].set_visible(False)
        heat_axis = figure.add_subplot(grid[2 * number + 1])
        image = heat_axis.imshow(
            values[chunk].T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest",
            extent=(-0.5, len(chunk_positions) - 0.5, 3.5, -0.5),
        )  # fmt: skip
        for i, base in enumerate(chunk_reference):  # the reference base's cell, marked
            heat_axis.add_patch(plt.Rectangle((i - 0.5, DNA.index(base) - 0.5), 1, 1, fill=False, lw=0.4, ec="0.3"))
        heat_axis.set_xlim(-0.5, width - 0.5)
        heat_axis.set_yticks(range(4), list(DNA), fontsize=8)
        heat_axis.set_ylabel("alt", fontsize=8)
        if len(chunk_positions) <= LETTERS_UP_TO:
            heat_axis.set_xticks(range(len(chunk_positions)), list(chunk_reference), fontsize=6, family="monospace")
            secondary = heat_axis.secondary_xaxis("top")
            ticks = [i for i, p in enumerate(chunk_positions) if (offset + p) % 10 == 0]
            secondary.set_xticks(ticks, [f"{offset + chunk_positions[i]:,}" for i in ticks], fontsize=7)
            secondary.tick_params(length=2, pad=1)
        else:
            ticks = [i for i, p in enumerate(chunk_positions) if (offset + p) % 50 == 0]
            heat_axis.set_xticks(ticks, [f"{offset + chunk_positions[i]:,}" for i in ticks], fontsize=7)
        heat_axis.tick_params(axis="x", length=0, pad=2)
    bar_axis = figure.add_axes((1 - 0.9 / figure_width, 0.5 - min(0.4, 1.2 / height), 0.12 / figure_width,
                                2 * min(0.4, 1.2 / height)))  # fmt: skip
    colorbar = figure.colorbar(image, cax=bar_axis)
    colorbar.set_label(f"{column} (alt vs ref)", fontsize=8)
    colorbar.ax.tick_params(labelsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    with atomic_output(path, overwrite=overwrite) as temporary:
        figure.savefig(temporary, format=Path(path).suffix.lower().lstrip("."), dpi=150)
    plt.close(figure)
    return Path(path)
