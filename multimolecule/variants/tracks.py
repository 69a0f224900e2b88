"""Functional tracks of a region, predicted by a species-conditioned model with track heads (NTv3 post-trained).

The model predicts the central part of each input window (`keep_target_center_fraction`, 37.5% for NTv3). A
region is covered by consecutive windows whose centres tile it; beyond the sequence a window is filled with `N`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..models import package_of, resolve_name, silence_transformers, tokenizer_from_pretrained, trained_window
from ..utils import InputError, atomic_output, check_device, check_overwrite, check_positive, resolve_dtype
from ..utils.errors import CheckpointError
from .mutagenesis import parse_target

SPECIES_OFFSET = 6  # species ids follow the six special tokens


@dataclass
class Tracks:
    """Per-base predictions of a region: `values` (bases, tracks) for `names`, at 1-based `positions`."""

    record: str
    positions: list[int]
    names: list[str]
    values: torch.Tensor


def load_track_model(model: str, device: str | None, dtype: str | None):
    """(track model in eval mode, tokenizer) of a checkpoint whose family has a track head."""
    path = resolve_name(model, check=True)
    silence_transformers()
    try:
        package = package_of(path)
        network = package.role("track_prediction").from_pretrained(path, dtype=resolve_dtype(dtype))
        tokenizer = tokenizer_from_pretrained(path)
    except (OSError, ValueError, KeyError, RuntimeError, CheckpointError) as error:
        raise InputError(f"cannot load model {model}: {error}") from error
    target = check_device("device", device) if device is not None else None
    return (network.to(target) if target is not None else network).eval(), tokenizer


def species_id(config, species: str) -> int:
    names = list(config.species or [])
    if species not in names:
        raise InputError(f"unknown species {species!r}; the model knows {', '.join(names)}")
    return SPECIES_OFFSET + names.index(species)


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
    species_index = species_id(config, species) - SPECIES_OFFSET
    available = list((config.bigwig_tracks or {}).get(species, []))
    chosen = available if not tracks else list(tracks)
    unknown = [track for track in chosen if track not in available]
    if unknown:
        raise InputError(f"no track {', '.join(unknown)} for {species}; it has {', '.join(available[:8])}, ...")
    columns = [available.index(track) for track in chosen]

    window = window or trained_window(tokenizer, config)
    kept = int(window * config.keep_target_center_fraction)
    if kept < 1:
        raise InputError(f"a window of {window} bases keeps no base at its centre")
    offset = (window - kept) // 2  # where the predicted centre starts in a window
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
            output_tracks = network(ids, species_ids=species_index + SPECIES_OFFSET).tracks  # (B, kept, tracks)
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
