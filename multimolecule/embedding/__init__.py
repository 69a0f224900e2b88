"""The engine behind `multimolecule.api.embed`: windows, token-budget batches, streamed output, several processes.

- `windows`: windows of long sequences and the forward passes (`WindowEmbedder`, `EmbedSettings`).
- `outputs`: what is written and returned (`Embeddings`, `save_embeddings`, `EmbeddingWriter`, `StoredPerBase`).
- `engine`: the job (`embed`): records cut into shards by the one sharded-job runner (`multimolecule.utils.runner`),
  kept in `<output>.shards/` under `torchrun` or with `resume`, and merged by rank 0.

* **Windows.** A sequence longer than `window` tokens (`<cls>`/`<eos>` included) is cut into windows that start
  every `stride` tokens; the last one ends at the sequence's end. Per-base vectors are averaged where windows
  overlap; the per-sequence vector is the mean of the windows' pooled vectors.
* **Batches.** All windows of a shard go through the model in `token_budget_batches` (longest first, at most
  `max_tokens` padded tokens each), so memory is set by the budget, not by the longest sequence.
* **Shards.** Records are cut, in input order, into shards of `SHARD_RECORDS` records; shard `k` belongs to rank
  `k % world_size`. The batches depend only on the shard, so one process and N processes compute the same batches.
* **Streaming.** A record's results go to the output (`EmbeddingWriter`) as soon as its last window is done;
  per-base vectors are never all held in memory.
"""

from ..utils.runner import SHARD_RECORDS, shard_directory
from .engine import embed, merge_shards, read_stamp
from .outputs import (
    OUTPUT_SUFFIXES,
    Embeddings,
    EmbeddingWriter,
    MemoryWriter,
    StoredPerBase,
    check_embedding_output,
    save_embeddings,
    stored_result,
)
from .windows import EmbedSettings, Window, WindowEmbedder, default_stride, window_starts

__all__ = [
    "OUTPUT_SUFFIXES",
    "SHARD_RECORDS",
    "EmbedSettings",
    "EmbeddingWriter",
    "Embeddings",
    "MemoryWriter",
    "StoredPerBase",
    "Window",
    "WindowEmbedder",
    "check_embedding_output",
    "default_stride",
    "embed",
    "merge_shards",
    "read_stamp",
    "save_embeddings",
    "shard_directory",
    "stored_result",
    "window_starts",
]
