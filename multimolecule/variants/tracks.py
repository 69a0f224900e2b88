"""Functional tracks of a region, predicted by a species-conditioned model with track heads (NTv3 post-trained).

The model predicts the central part of each input window (`keep_target_center_fraction`, 37.5% for NTv3). A
region is covered by consecutive windows whose centres tile it; beyond the sequence a window is filled with `N`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..models import species_condition, trained_window
from ..utils import InputError, atomic_output, check_overwrite, check_positive
from .mutagenesis import parse_target
from .track_scores import load_track_model, predicted_bases, track_indices


@dataclass
class Tracks:
    """Per-base predictions of a region: `values` (bases, tracks) for `names`, at 1-based `positions`."""

    record: str
    positions: list[int]
    names: list[str]
    values: torch.Tensor


def predict_tracks(
    target: str | os.PathLike,
    model: str,
    species: str,
    tracks: list[str] | None = None,
    record: str | None = None,
    window: int | None = None,
    batch_size: int = 4,
    output: str | os.PathLike | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    overwrite: bool = False,
) -> Tracks:
    """The `species` tracks (all, or those named in `tracks`) of every base of `target`
    (`SEQUENCE_OR_FASTA[:start-end]`, 1-based, inclusive), from windows of `window` bases (default: the model's
    trained length); written to `output` as TSV (`record`, `position`, one column per track) when given.
    """
    check_positive("window", window)
    check_positive("batch_size", batch_size)
    if output is not None:
        check_overwrite(output, overwrite)
    name, sequence, start, end = parse_target(target, record)
    network, tokenizer = load_track_model(model, device, dtype)
    config = network.config
    condition = species_condition(config, species)
    available, columns = track_indices(config, species, tracks)
    chosen = list(tracks) if tracks else available
    columns = columns or list(range(len(available)))

    window = window or trained_window(tokenizer, config)
    centre = predicted_bases(window, config.keep_target_center_fraction)
    kept, offset = len(centre), centre.start  # offset: where the predicted centre starts in a window
    if kept < 1:
        raise InputError(f"a window of {window} bases keeps no base at its centre")
    starts = list(range(start - 1, end, kept))  # 0-based first base of each window's centre
    values = []
    device_of = next(network.parameters()).device
    for first in range(0, len(starts), batch_size):
        texts = []
        for centre in starts[first : first + batch_size]:
            left = centre - offset
            piece = sequence[max(left, 0) : left + window]
            texts.append("N" * max(-left, 0) + piece + "N" * (window - max(-left, 0) - len(piece)))
        ids = tokenizer(texts, return_tensors="pt", add_special_tokens=False)["input_ids"].to(device_of)
        with torch.no_grad():
            output_tracks = network(ids, **condition).tracks  # (B, kept, tracks)
        values.append(output_tracks[..., columns].float().cpu().flatten(0, 1))
    result = torch.cat(values)[: end - start + 1]  # (bases, tracks)
    tracks_result = Tracks(name, list(range(start, end + 1)), chosen, result)
    if output is not None:
        write_tracks(tracks_result, output, overwrite)
    return tracks_result


def write_tracks(tracks: Tracks, output: str | os.PathLike, overwrite: bool = False) -> None:
    with atomic_output(output, overwrite=overwrite) as staging:
        with open(staging, "w") as file:
            file.write("\t".join(["record", "position", *tracks.names]) + "\n")
            for position, row in zip(tracks.positions, tracks.values.tolist()):
                file.write("\t".join([tracks.record, str(position), *(f"{value:.6g}" for value in row)]) + "\n")
