"""Keys and values of prompt prefixes, kept between calls: automatic prefix caching.

As in vLLM, a prompt is cut into blocks of `block_size` tokens; block j is keyed by a
hash of block j-1's key and block j's tokens, so a key names the whole prefix up to the
end of its block, and two prompts share exactly the blocks of their common prefix. A
block holds the keys and values of its tokens at their own positions (RoPE applied), as
one host array `[layers, 2 (k, v), block_size, kv_heads, head_dim]`, kept in a slot of
one array allocated at the first insert, so that thousands of separately allocated
blocks, evicted and replaced between a prefill's large temporaries, do not add to the
fragments of the heap that `core.host_memory` keeps.

The engine owns one `PrefixCache`: before a prefill it asks `match` for the longest
cached run of blocks of each prompt (the prefill then starts after it) and afterwards
gives the new full blocks to `insert`. Memory is bounded by `max_bytes`; the least
recently used blocks go first, deepest first (a prompt's blocks are touched from its end
to its start), so a block is never kept after the prefix it extends. Evicting a block only
means it is computed again: results never depend on what the cache holds.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
from typing import Sequence

import numpy as np

_ROOT = b'prefix-cache-root'


@dataclasses.dataclass
class PrefixCacheStats:
  """Counts since the cache was made: blocks found or not at `match`, prompt tokens whose
  keys and values came from the cache, blocks stored and evicted."""
  hit_blocks: int = 0
  missed_blocks: int = 0
  reused_tokens: int = 0
  prompt_tokens: int = 0
  stored_blocks: int = 0
  evicted_blocks: int = 0

  @property
  def hit_rate(self) -> float:
    """Share of the prompts' tokens read from the cache instead of computed."""
    return self.reused_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


class PrefixCache:
  """Blocks of keys and values by prefix hash, LRU-evicted within `max_bytes`."""

  def __init__(self, block_size: int = 32, max_bytes: int = 2 ** 30):
    if block_size < 1 or max_bytes < 0:
      raise ValueError(f'need block_size >= 1 and max_bytes >= 0, got {block_size} and '
                       f'{max_bytes}')
    self.block_size = block_size
    self.max_bytes = max_bytes
    self._blocks: collections.OrderedDict[bytes, int] = collections.OrderedDict()  # Slots.
    self._slab: np.ndarray | None = None  # [slots, *block shape], made at the first insert.
    self._free: list[int] = []
    self.stats = PrefixCacheStats()

  def __len__(self) -> int:
    return len(self._blocks)

  @property
  def bytes(self) -> int:
    """Bytes of the blocks held (the slots in use, not the whole array)."""
    return 0 if self._slab is None else len(self._blocks) * self._slab[0].nbytes

  def keys(self, tokens: Sequence[int]) -> list[bytes]:
    """The key of every full block of `tokens`, in order."""
    keys, previous = [], _ROOT
    ids = np.asarray(tokens, np.int32)
    for start in range(0, len(ids) - self.block_size + 1, self.block_size):
      previous = hashlib.blake2b(previous + ids[start:start + self.block_size].tobytes(),
                                 digest_size=16).digest()
      keys.append(previous)
    return keys

  def match(self, tokens: Sequence[int], limit: int | None = None
            ) -> tuple[list[bytes], list[np.ndarray]]:
    """(keys of every full block of `tokens`, the cached blocks of its longest cached
    prefix of at most `limit` tokens), counting hits and misses; the matched blocks
    become the most recently used."""
    keys, blocks = self.lookup(tokens, limit)
    self._touch(keys[:len(blocks)])
    self.stats.hit_blocks += len(blocks)
    self.stats.missed_blocks += len(keys) - len(blocks)
    self.stats.prompt_tokens += len(tokens)
    return keys, blocks

  def lookup(self, tokens: Sequence[int], limit: int | None = None
             ) -> tuple[list[bytes], list[np.ndarray]]:
    """`match` without counting or touching anything. The blocks are views of the
    cache's slots, valid until the next `insert`: copy what must outlive it."""
    keys = self.keys(tokens)
    most = len(keys) if limit is None else min(len(keys), max(limit, 0) // self.block_size)
    blocks = []
    for key in keys[:most]:
      slot = self._blocks.get(key)
      if slot is None:
        break
      blocks.append(self._slab[slot])
    return keys, blocks

  def count_reused(self, tokens: int) -> None:
    """Records that a prefill read `tokens` prompt tokens from the cache."""
    self.stats.reused_tokens += tokens

  def __contains__(self, key: bytes) -> bool:
    return key in self._blocks

  def insert(self, keys: Sequence[bytes], blocks: Sequence[np.ndarray]) -> None:
    """Stores the blocks of one prompt's last `len(blocks)` keys of `keys` (its run of
    blocks from the start; `keys[i]` extends `keys[i - 1]`), makes the whole run the most
    recently used, then evicts the least recently used blocks beyond `max_bytes`."""
    new = [(key, block) for key, block in zip(keys[len(keys) - len(blocks):], blocks)
           if key not in self._blocks]
    if not new or new[0][1].nbytes > self.max_bytes:
      self._touch(keys)
      return
    if self._slab is None:
      shape, dtype = new[0][1].shape, new[0][1].dtype
      self._slab = np.empty((self.max_bytes // new[0][1].nbytes, *shape), dtype)
      self._free = list(range(len(self._slab) - 1, -1, -1))
    self._touch(keys)  # This prompt's cached blocks are evicted last.
    for key, block in new[:len(self._slab)]:
      if block.shape != self._slab.shape[1:] or block.dtype != self._slab.dtype:
        raise ValueError(f'a block of shape {block.shape} {block.dtype} does not fit the '
                         f'cache\'s {self._slab.shape[1:]} {self._slab.dtype}')
      if not self._free:  # The least recently used block makes room.
        _, slot = self._blocks.popitem(last=False)
        self._free.append(slot)
        self.stats.evicted_blocks += 1
      slot = self._free.pop()
      self._slab[slot] = block
      self._blocks[key] = slot
      self.stats.stored_blocks += 1
    self._touch(keys)

  def _touch(self, keys: Sequence[bytes]) -> None:
    """Most recently used: the first block last, so a prefix outlives its extensions."""
    for key in reversed(keys):
      if key in self._blocks:
        self._blocks.move_to_end(key)
