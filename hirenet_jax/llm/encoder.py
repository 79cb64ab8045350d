"""The language model as a frozen contextual encoder: each token's hidden state at a chosen
layer, and word states pooled from their subword tokens.

Layers are numbered as Hugging Face's `output_hidden_states`: 0 is the token embeddings,
1..n-1 the residual stream after that many blocks, n (`FINAL`, the default) the final
norm's output, the states the vocabulary projection reads; negative numbers count from
the end (-1 is FINAL).

Texts are sorted by length and cut into batches of at most `max_batch_tokens` padded
tokens; each batch is left-padded (`llama.forward`'s layout, so padding never changes a
row) to a `engine.bucket_length` and a power-of-two number of rows, so a handful of
programs serve any corpus. Rows come back left-aligned: valid states first, zeros after.

Each text is read after one context token (`<|endoftext|>`, which separates documents in
pretraining, else the tokenizer's BOS), whose state is dropped: the first position of a
causal model is an attention sink whose state is large and nearly the same for every text,
and without the context token the text's first word would get it.
"""

from __future__ import annotations

import dataclasses
import time
import unicodedata
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from hirenet_jax.core import sharding
from hirenet_jax.llm import engine as engine_lib
from hirenet_jax.llm import llama

FINAL = 'final_norm'


@dataclasses.dataclass(frozen=True)
class Encoding:
  """Hidden states of N texts.

  Attributes:
    states_NxTxD: <float32> states of each text's tokens, zeros past its length.
    lengths_N: <int32> tokens per text (after `max_tokens`).
    token_ids: each text's token ids (the context token excluded).
    offsets: each text's tokens' (start, end) character spans in its NFC-normalised text;
      None for a text given as token ids.
    layer: the layer read, 0..n.
    truncated: texts cut to `max_tokens`.
    seconds, padded_tokens: the time and the padded batch area, for throughput.
  """
  states_NxTxD: np.ndarray
  lengths_N: np.ndarray
  token_ids: list[list[int]]
  offsets: list[list[tuple[int, int]] | None]
  layer: int
  truncated: int
  seconds: float
  padded_tokens: int

  @property
  def tokens(self) -> int:
    return int(self.lengths_N.sum())


class Encoder:
  """Frozen per-token states of a GGUF model (None = the embedded SmolLM2).

  Attributes:
    name: the model, precision and context token, e.g. for recording with stored states.
    num_layers, dim: the model's depth and state size.
  """

  def __init__(self, gguf_path: str | None = None, *, dtype: Any = None,
               weight_dtype: Any = None, mesh: Any = None, max_batch: int = 64,
               max_batch_tokens: int = 4096):
    model = engine_lib.JaxLanguageModel(gguf_path, dtype=dtype, weight_dtype=weight_dtype,
                                        mesh=mesh, max_batch=max_batch)
    self._setup(model, max_batch=max_batch, max_batch_tokens=max_batch_tokens)

  @classmethod
  def from_model(cls, model: engine_lib.JaxLanguageModel, *, max_batch: int = 64,
                 max_batch_tokens: int = 4096) -> Encoder:
    """An encoder sharing `model`'s weights, tokenizer, precision and mesh."""
    encoder = cls.__new__(cls)
    encoder._setup(model, max_batch=max_batch,  # pylint: disable=protected-access
                   max_batch_tokens=max_batch_tokens)
    return encoder

  def _setup(self, model, *, max_batch, max_batch_tokens):
    self.config = model.config
    self.tokenizer = model.tokenizer
    self.weights = model.weights
    self.mesh = model.mesh
    self.num_devices = model.num_devices
    self._row_groups = llama.row_groups_for(self.mesh.devices.flat)
    self.num_layers = self.config.num_layers
    self.dim = self.config.dim
    self.max_batch = max_batch
    self.max_batch_tokens = max_batch_tokens
    context = self.tokenizer.vocab.get('<|endoftext|>', self.tokenizer.bos_id)
    self.context_ids = [] if context is None else [int(context)]
    self.name = f'{model.name}, context token {self.context_ids}'
    self._rows = NamedSharding(self.mesh, P(sharding.DATA_AXIS))
    self._states = jax.jit(self._states_fn, static_argnames=('layer',))

  def layer_index(self, layer: int | str = FINAL) -> int:
    """`layer` as 0..n (n = FINAL)."""
    n = self.num_layers
    if layer == FINAL:
      return n
    if not isinstance(layer, (int, np.integer)) or not -(n + 1) <= layer <= n:
      raise ValueError(f'layer {layer!r} is not {FINAL!r} or an integer in '
                       f'{-(n + 1)}..{n} ({n} layers)')
    return int(layer) % (n + 1)

  def _states_fn(self, weights, tokens_BxT, pads_B, *, layer):
    """float32 states of `layer` (0..n), left-padded rows."""
    cut = dict(weights, layers=tuple(weights['layers'])[:min(layer, self.num_layers)])
    h, _ = llama.forward(cut, self.config, tokens_BxT, pads_B,
                         final_norm=layer == self.num_layers, row_groups=self._row_groups)
    return h.astype(jnp.float32)

  def tokenize(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Ids and character spans of the NFC-normalised `text` (the string whose offsets
    `data_prep.hirenet.text.tokenize_with_offsets` gives)."""
    return self.tokenizer.encode_with_offsets(unicodedata.normalize('NFC', text))

  def _batches(self, lengths: Sequence[int]) -> list[tuple[list[int], int, int]]:
    """(text indices, rows, columns) per batch: texts sorted by length, rows a power of
    two (a multiple of the devices) with rows * columns <= max_batch_tokens."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, start = [], 0
    while start < len(order):
      rows = self.max_batch
      while True:
        end = min(start + rows, len(order))
        t = engine_lib.bucket_length(max(lengths[i] for i in order[start:end]))
        b = engine_lib.bucket_batch(end - start, self.num_devices)
        if b * t <= self.max_batch_tokens or rows <= self.num_devices:
          break
        rows = max(self.num_devices, rows // 2)
      batches.append((order[start:end], b, t))
      start = end
    return batches

  def encode(self, inputs: Sequence[str | Sequence[int]], *, layer: int | str = FINAL,
             max_tokens: int | None = None,
             progress: Callable[[int], None] | None = None) -> Encoding:
    """States of `layer` for each text (or list of token ids), its first `max_tokens`
    tokens if given; `progress(n)` is called after each batch with the texts it held."""
    layer = self.layer_index(layer)
    limit = self.config.context_length - len(self.context_ids)
    limit = min(limit, max_tokens) if max_tokens is not None else limit
    ids, offsets = [], []
    truncated = 0
    for x in inputs:
      if isinstance(x, str):
        row, spans = self.tokenize(x)
      else:
        row, spans = [int(i) for i in x], None
      truncated += len(row) > limit
      ids.append(row[:limit])
      offsets.append(None if spans is None else spans[:limit])
    lengths = np.asarray([len(r) for r in ids], np.int32)
    c = len(self.context_ids)
    out = np.zeros((len(ids), int(lengths.max(initial=0)), self.dim), np.float32)
    padded = 0
    start = time.perf_counter()
    put = lambda a: jax.device_put(a, self._rows)
    for batch, b, t in self._batches([len(r) + c for r in ids]):
      tokens = np.zeros((b, t), np.int32)
      pads = np.full((b,), t - 1, np.int32)
      for r, i in enumerate(batch):
        row = self.context_ids + ids[i]
        tokens[r, t - len(row):] = row
        pads[r] = t - len(row)
      h = jax.device_get(self._states(self.weights, put(tokens), put(pads), layer=layer))
      for r, i in enumerate(batch):
        n = lengths[i]
        out[i, :n] = h[r, t - n:] if n else 0.0
      padded += b * t
      if progress is not None:
        progress(len(batch))
    return Encoding(states_NxTxD=out, lengths_N=lengths, token_ids=ids, offsets=offsets,
                    layer=layer, truncated=truncated, seconds=time.perf_counter() - start,
                    padded_tokens=padded)


# ------------------------------------------------------------------- word pooling


def word_membership(token_spans: Sequence[tuple[int, int]],
                    word_spans: Sequence[tuple[int, int]]) -> np.ndarray:
  """<bool>[W, T]: token t belongs to word w when their character spans overlap.

  A token that straddles two words (BPE may glue an apostrophe to what follows) counts
  for both; a word whose tokens were cut by `max_tokens` has none.
  """
  tokens = np.asarray(token_spans, np.int64).reshape(-1, 2)
  words = np.asarray(word_spans, np.int64).reshape(-1, 2)
  return ((tokens[None, :, 0] < words[:, None, 1])
          & (words[:, None, 0] < tokens[None, :, 1]))


def pool_words(states_TxD: np.ndarray, token_spans: Sequence[tuple[int, int]],
               word_spans: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
  """(<float32>[W, D] the mean state of each word's tokens, <int32>[W] tokens per word).

  `token_spans` are the first T tokens' spans (`Encoding.offsets[i]`), `word_spans` the
  words' (start, end) in the same string; a word without tokens gets zeros.
  """
  member_WxT = word_membership(token_spans, word_spans).astype(np.float32)
  counts_W = member_WxT.sum(axis=1)
  states = np.asarray(states_TxD, np.float32)[:member_WxT.shape[1]]
  pooled = member_WxT @ states / np.maximum(counts_W, 1)[:, None]
  return pooled.astype(np.float32), counts_W.astype(np.int32)


def pool_encoding_words(encoding: Encoding, word_spans: Sequence[Sequence[tuple[int, int]]]
                        ) -> tuple[np.ndarray, np.ndarray]:
  """Word states of every text: (<float32>[N, W, D], <int32>[N] words with a token).

  Words are kept up to the last one that has a token (later ones were cut by
  `max_tokens`), so word i of a text is word i of its tokenisation.
  """
  pooled, lengths = [], []
  for i, spans in enumerate(word_spans):
    if encoding.offsets[i] is None:
      raise ValueError(f'text {i} was given as token ids: it has no character offsets')
    n = int(encoding.lengths_N[i])
    words, counts = pool_words(encoding.states_NxTxD[i, :n], encoding.offsets[i][:n], spans)
    kept = int(np.flatnonzero(counts)[-1]) + 1 if counts.any() else 0
    pooled.append(words[:kept])
    lengths.append(kept)
  w = max(lengths, default=0)
  out = np.zeros((len(pooled), w, encoding.states_NxTxD.shape[-1]), np.float32)
  for i, words in enumerate(pooled):
    out[i, :len(words)] = words
  return out, np.asarray(lengths, np.int32)
