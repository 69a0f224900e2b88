"""Progress bars on stderr, counting bases."""

from __future__ import annotations

import sys


def progress_bar(total_bases: int, enabled: bool):
    """A tqdm bar on stderr counting bases (its rate is bases/s); the postfix shows sequences done and seq/s."""
    from tqdm.auto import tqdm  # here, not at the top: the command line parses its options without tqdm

    return tqdm(
        total=total_bases,
        unit="bp",
        unit_scale=True,
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]",
    )


class Progress:
    """Advances a `progress_bar` by bases after every forward pass and counts finished sequences."""

    def __init__(self, bar, records: int):
        self.bar, self.records, self.done = bar, records, 0

    def tick(self, bases: float) -> None:
        self.bar.update(min(bases, self.bar.total - self.bar.n))

    def finished(self, count: int = 1) -> None:
        self.done += count
        self.bar.set_postfix_str(f"{self.done}/{self.records} sequences", refresh=False)
