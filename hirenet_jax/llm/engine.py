"""The embedded language model: a Llama-family GGUF run by JAX behind `api.LanguageModel`.

Many chats are answered at once. Requests are sorted by prompt length and cut into
batches of at most `max_batch` rows; each batch is left-padded into a KV cache (one
jitted prefill), then decoded by a jitted function that runs up to `decode_chunk` steps
in a `lax.while_loop`, so the host only looks at the batch (stop strings, all rows done)
between chunks; when the rows still decoding fit in half the batch or less, the batch is
cut to them (a step's cost grows with its rows, finished ones included). Batch size,
prompt length and answer length are rounded up to buckets, so a handful of programs
serve every request (see `bucket_length`).

Sampling follows HF/vLLM: repetition penalty (positive logits divided, negative ones
multiplied, over the tokens of the prompt and of the answer so far), then temperature,
then top-p (the smallest set of most likely tokens whose mass reaches top_p). A row's
random numbers come from its own seed and its own token count, so a request draws the
same answer whatever else shares its batch. temperature=0 decodes greedily.

A prefix cache (`prefix_cache.PrefixCache`, vLLM's automatic prefix caching) keeps the
keys and values of prompt blocks between calls: a prompt whose start was seen before is
prefilled from where its longest cached prefix ends (the uncached rest padded to a power
of two), with the cached keys and values placed in front of it. The blocks that every
row of a batch starts with are kept once rather than per row, and decoding attends to
them with one matrix product for the batch, merged with each row's own attention by
log-sum-exp (`decode_forward`, `llama.cascade_attention`).

The batch axis is sharded over the devices of `sharding.make_mesh()`, the weights are
replicated. By default the matrices are bfloat16 (float32 on a CPU without bf16 dot
products) and activations and cache float32 on CPU, bfloat16 on accelerators.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import os
import time
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from hirenet_jax.core import sharding
from hirenet_jax.llm import gguf_loader
from hirenet_jax.llm import llama
from hirenet_jax.llm import prefix_cache as prefix_cache_lib
from hirenet_jax.llm.api import ChatRequest
from hirenet_jax.llm.api import SamplingParams
from hirenet_jax.llm.api import ScoreRequest
from hirenet_jax.llm.gguf_loader import LlamaConfig
from hirenet_jax.llm.tokenizer import GGUFTokenizer

MIN_LENGTH_BUCKET = 16
_MASKED = -1e9  # As in llama.py: large and finite, never NaN.
# Candidates kept before top-p; a row whose nucleus is wider draws from the whole
# vocabulary instead (`_wide_nucleus_draw`), slower but rare at the usual top_p.
_TOP_CANDIDATES = 128


def bucket_length(n: int, minimum: int = MIN_LENGTH_BUCKET) -> int:
  """`n` rounded up to one of four lengths per octave (16, 20, 24, 28, 32, 40, ...):
  at most a quarter of a row is padding, and few distinct shapes are compiled."""
  n = max(n, minimum)
  step = max(1, 2 ** (math.floor(math.log2(n)) - 2))
  return -(-n // step) * step


def bucket_window(n: int, total: int) -> int:
  """Columns computed by a prefill whose rows have at most `n` uncached tokens: a power
  of two or three quarters of one (16, 24, 32, 48, ...), at most the `total` columns of
  the batch. Two sizes per octave keep the programs few and the padding under a third."""
  n = max(n, MIN_LENGTH_BUCKET)
  power = 1 << (n - 1).bit_length()
  return min(power * 3 // 4 if n <= power * 3 // 4 else power, total)


class CompileCounter:
  """XLA compilations in this process, from JAX's monitoring events: `compiled` counts
  programs compiled here, `loaded` those read from the persistent compilation cache."""

  _instance: CompileCounter | None = None

  def __init__(self):
    self.requests = 0
    self.loaded = 0
    self.seconds = 0.0  # Spent compiling or loading.

  @property
  def compiled(self) -> int:
    return self.requests - self.loaded

  @classmethod
  def get(cls) -> CompileCounter:
    """The process's counter (listening from its first call on)."""
    if cls._instance is None:
      counter = cls._instance = cls()

      def on_duration(event, duration, **kwargs):
        del kwargs
        if event == '/jax/core/compile/backend_compile_duration':
          counter.requests += 1
          counter.seconds += duration

      def on_event(event, **kwargs):
        del kwargs
        if event == '/jax/compilation_cache/cache_hits':
          counter.loaded += 1

      jax.monitoring.register_event_duration_secs_listener(on_duration)
      jax.monitoring.register_event_listener(on_event)
    return cls._instance


def bucket_shared(blocks: int) -> int:
  """Blocks of a batch's shared prefix that are read once: `blocks` rounded down to a
  power of two or 1.5 times one (1, 2, 3, 4, 6, 8, 12, ...), so few programs serve every
  prefix; the blocks left over are read as part of each row."""
  if blocks < 1:
    return 0
  power = 1 << (blocks.bit_length() - 1)
  return power * 3 // 2 if power >= 2 and blocks >= power * 3 // 2 else power


def bucket_batch(n: int, num_devices: int) -> int:
  """Rows of a batch of `n` requests: a power of two, a multiple of the device count."""
  b = 1 << max(0, (n - 1).bit_length())
  return -(-b // num_devices) * num_devices


@dataclasses.dataclass
class GenerationStats:
  """What one `generate_tokens` call did, for the benchmark: time includes waiting for
  the device. `decode_steps` counts model steps after the prefill, for the longest row."""
  prompt_tokens: int = 0
  reused_tokens: int = 0  # Prompt tokens read from the prefix cache, not computed.
  generated_tokens: int = 0
  prefill_seconds: float = 0.0
  decode_seconds: float = 0.0
  decode_steps: int = 0
  batches: int = 0
  padded_tokens: int = 0  # Prefill columns computed, padding included (rows x window).
  compactions: int = 0  # Decoding batches cut to their live rows (`_rows_to_keep`).


# ------------------------------------------------------------------------ model steps


def decode_forward(weights: dict[str, Any], config: LlamaConfig, kv: dict[str, Any],
                   tokens_B: jax.Array, pads_B: jax.Array, column: jax.Array,
                   pad_rows: bool = False, shared: dict[str, Any] | None = None
                   ) -> tuple[jax.Array, dict[str, Any]]:
  """One token per row at cache `column`: (logits_BxV, kv), kv in `decode_cache`'s
  layout (per layer, keys BxNxKxS and values BxNxSxK).

  Same arithmetic as `llama.forward` with T=1, with the layers unrolled over per-layer
  weights (`llama.unstack_layers`) and per-layer cache buffers: a layer's cache is
  updated in place and read by the attention products where it lies, whereas slicing a
  layer out of a stacked array in a loop copies it (and its weights) at every token.
  `pad_rows`: as for `llama.dense`. `shared`: a prefix of P tokens that every row
  continues, stored once (per layer, keys NxKxP and values NxPxK; the rows' positions
  start at P): its attention is one matrix product for the whole batch, merged with
  each row's own by `llama.cascade_attention`, so the batch reads it once per step.
  """
  b = tokens_B.shape[0]
  s = kv['v'][0].shape[2]
  h, n, kd = config.num_heads, config.num_kv_heads, config.head_dim
  offset = 0 if shared is None else shared['v'][0].shape[1]
  positions_Bx1 = (jnp.maximum(column - pads_B, 0) + offset)[:, None]
  columns_S = jnp.arange(s)
  visible_BxS = (columns_S[None] <= column) & (columns_S[None] >= pads_B[:, None])
  x = jnp.take(weights['embed_VxD'], tokens_B[:, None], axis=0)
  layers = llama.unstack_layers(weights)['layers']
  dense = functools.partial(llama.dense, pad_rows=pad_rows)
  ks, vs = [], []
  for i, w in enumerate(layers):
    y = llama.rms_norm(x, w['attn_norm'], config.rms_eps)
    q = llama.rope(dense(y, w['wq']).reshape(b, 1, h, kd), positions_Bx1, config.rope_base)
    k = llama.rope(dense(y, w['wk']).reshape(b, 1, n, kd), positions_Bx1, config.rope_base)
    v = dense(y, w['wv']).reshape(b, 1, n, kd)
    cache_k = jax.lax.dynamic_update_slice(
        kv['k'][i], k.transpose(0, 2, 3, 1).astype(kv['k'][i].dtype), (0, 0, 0, column))
    cache_v = jax.lax.dynamic_update_slice(
        kv['v'][i], v.transpose(0, 2, 1, 3).astype(kv['v'][i].dtype), (0, 0, column, 0))
    q_BxNxGxK = q.reshape(b, n, h // n, kd)
    scale = jnp.sqrt(kd).astype(jnp.float32)
    scores = jnp.einsum('bngk,bnks->bngs', q_BxNxGxK, cache_k,
                        preferred_element_type=jnp.float32) / scale
    scores = jnp.where(visible_BxS[:, None, None], scores, _MASKED)
    if shared is None:
      p = jax.nn.softmax(scores, axis=-1).astype(cache_v.dtype)
      out = jnp.einsum('bngs,bnsk->bngk', p, cache_v)
    else:
      shared_k, shared_v = shared['k'][i], shared['v'][i]
      shared_scores = jnp.einsum('bngk,nkp->bngp', q_BxNxGxK, shared_k,
                                 preferred_element_type=jnp.float32) / scale
      out = llama.cascade_attention(
          (shared_scores, lambda p, v=shared_v: jnp.einsum('bngp,npk->bngk', p, v)),
          (scores, lambda p, v=cache_v: jnp.einsum('bngs,bnsk->bngk', p, v)),
          dtype=cache_v.dtype)
    out = out.reshape(b, 1, h * kd)
    x = x + dense(out, w['wo'])
    y = llama.rms_norm(x, w['ffn_norm'], config.rms_eps)
    x = x + dense(jax.nn.silu(dense(y, w['w_gate'])) * dense(y, w['w_up']), w['w_down'])
    ks.append(cache_k)
    vs.append(cache_v)
  x = llama.rms_norm(x, weights['final_norm_D'], config.rms_eps)
  return llama.logits(weights, x[:, 0], pad_rows), {'k': tuple(ks), 'v': tuple(vs)}


def decode_cache(kv: dict[str, Any], length: int) -> dict[str, tuple[jax.Array, ...]]:
  """`llama.forward`'s cache (stacked LxBxSxNxK or per-layer BxSxNxK) in the layout of
  `decode_forward`, extended with empty columns to `length`.

  Per layer, keys are BxNxKxS and values BxNxSxK: both attention products then read the
  cache as plain matrix products (q @ K, p @ V). With keys as BxNxSxK, the score
  product transposed each layer's keys at every token and took as long as the rest of
  the layer.
  """
  def layers(c):
    return tuple(c) if isinstance(c, (list, tuple)) else tuple(c[i] for i in range(len(c)))

  def extend(c, axis):
    pad = [(0, 0)] * c.ndim
    pad[axis] = (0, length - c.shape[axis])
    return jnp.pad(c, pad)

  return {'k': tuple(extend(c.transpose(0, 2, 3, 1), 3) for c in layers(kv['k'])),
          'v': tuple(extend(c.transpose(0, 2, 1, 3), 2) for c in layers(kv['v']))}


def penalize(logits_BxV: jax.Array, seen_BxV: jax.Array, penalty_B: jax.Array) -> jax.Array:
  """Repetition penalty of HF / llama.cpp / vLLM on the tokens already seen."""
  p = penalty_B[:, None]
  return jnp.where(seen_BxV, jnp.where(logits_BxV > 0, logits_BxV / p, logits_BxV * p),
                   logits_BxV)


def _nucleus_draw(sorted_z_BxK, lse_B, top_p_B, u_B):
  """Inverse-CDF draw from the top-p nucleus of descending candidates.

  Returns (index_B, covered_B): covered says the candidates hold the whole nucleus.
  """
  p = jnp.exp(sorted_z_BxK - lse_B[:, None])
  cum = jnp.cumsum(p, axis=-1)
  keep = ((cum - p) < top_p_B[:, None]).at[:, 0].set(True)
  kept_cum = jnp.cumsum(jnp.where(keep, p, 0.0), axis=-1)
  index = jnp.sum(kept_cum < (u_B * kept_cum[:, -1])[:, None], axis=-1)
  index = jnp.minimum(index, jnp.sum(keep, axis=-1) - 1)
  return index, cum[:, -1] >= top_p_B


def _wide_nucleus_draw(z_BxV, lse_B, top_p_B, u_B, iterations=40):
  """The draw of a nucleus wider than the candidates, without sorting the vocabulary.

  The nucleus is {z >= tau} for the largest tau whose set still holds top_p of the mass,
  found by bisection; the token is drawn by inverse CDF in vocabulary order.
  """
  p = jnp.exp(z_BxV - lse_B[:, None])

  def halve(_, bounds):
    lo, hi = bounds
    mid = (lo + hi) / 2
    enough = jnp.sum(jnp.where(z_BxV >= mid[:, None], p, 0.0), axis=-1) >= top_p_B
    return jnp.where(enough, mid, lo), jnp.where(enough, hi, mid)

  lo, _ = jax.lax.fori_loop(0, iterations, halve,
                            (jnp.min(z_BxV, axis=-1), jnp.max(z_BxV, axis=-1) + 1.0))
  kept = z_BxV >= lo[:, None]
  cum = jnp.cumsum(jnp.where(kept, p, 0.0), axis=-1)
  index = jnp.sum(cum < (u_B * cum[:, -1])[:, None], axis=-1)
  return jnp.minimum(index, z_BxV.shape[-1] - 1).astype(jnp.int32)


def _first_argmax(x_BxV: jax.Array) -> jax.Array:
  """jnp.argmax (first maximum) as two plain reductions: faster on XLA:CPU."""
  best = jnp.max(x_BxV, axis=-1, keepdims=True)
  vocab = jnp.arange(x_BxV.shape[-1], dtype=jnp.int32)
  return jnp.min(jnp.where(x_BxV == best, vocab, x_BxV.shape[-1]), axis=-1)


def sample(logits_BxV: jax.Array, seen_BxV: jax.Array, params: dict[str, jax.Array],
           count_B: jax.Array) -> jax.Array:
  """Next token per row: greedy where temperature is 0, else penalty, temperature, top-p.

  The uniform number of row b is drawn from key(seed_b) folded with count_b, the number
  of tokens the row has generated; whether its nucleus fits in the candidates depends on
  its own logits only. So a row's draw does not depend on the rest of the batch.
  """
  logits = penalize(logits_BxV, seen_BxV, params['penalty'])
  temperature = params['temperature']
  sampled_rows = temperature > 0
  zeros_B = jnp.zeros(sampled_rows.shape, jnp.int32)
  greedy_B = jax.lax.cond(jnp.all(sampled_rows), lambda: zeros_B,
                          lambda: _first_argmax(logits).astype(jnp.int32))

  def draw(_):
    z = logits / jnp.where(sampled_rows, temperature, 1.0)[:, None]
    lse_B = jax.nn.logsumexp(z, axis=-1)
    u_B = jax.vmap(lambda s, c: jax.random.uniform(
        jax.random.fold_in(jax.random.key(s), c)))(params['seed'], count_B)
    top_z, top_i = jax.lax.top_k(z, min(_TOP_CANDIDATES, z.shape[-1]))
    index, covered = _nucleus_draw(top_z, lse_B, params['top_p'], u_B)
    drawn = jnp.take_along_axis(top_i, index[:, None], axis=-1)[:, 0].astype(jnp.int32)
    wide = jax.lax.cond(
        jnp.any(sampled_rows & ~covered),
        lambda: _wide_nucleus_draw(z, lse_B, params['top_p'], u_B), lambda: drawn)
    return jnp.where(covered, drawn, wide)

  drawn_B = jax.lax.cond(jnp.any(sampled_rows), draw, lambda _: zeros_B, None)
  return jnp.where(sampled_rows, drawn_B, greedy_B)


# ------------------------------------------------------------------------ the engine


def default_dtype() -> Any:
  """Activations and KV cache: float32 on CPU, bfloat16 on accelerators."""
  return jnp.float32 if jax.default_backend() == 'cpu' else jnp.bfloat16


def cpu_has_bf16_dot() -> bool:
  """Whether this x86 or Arm CPU has bfloat16 dot-product instructions (AVX512-BF16,
  AMX-BF16, Arm BF16), which XLA:CPU uses for bfloat16 matrix products."""
  try:
    with open('/proc/cpuinfo') as f:
      flags = set(f.read().split())
  except OSError:
    return False
  return bool(flags & {'avx512_bf16', 'amx_bf16', 'bf16'})


def default_weight_dtype() -> Any:
  """Weights of the matrix products: bfloat16, except on a CPU without bfloat16 dot
  products, which would emulate them."""
  if jax.default_backend() == 'cpu' and not cpu_has_bf16_dot():
    return jnp.float32
  return jnp.bfloat16


class JaxLanguageModel:
  """`api.LanguageModel` backed by a GGUF file run in JAX (None = the embedded SmolLM2).

  Attributes:
    name: 'jax:', the file's name without '.gguf' and the precision; labels every output.
    config, tokenizer: the model's sizes and its tokenizer / chat template.
    traces: how many times each jitted function was traced (one per compiled shape).
    shapes: the distinct (program, shape) keys traced.
    prefix_cache: the keys and values of prompt blocks kept between calls (None: off).
  """

  def __init__(self, gguf_path: str | None = None, *, dtype: Any = None,
               weight_dtype: Any = None, max_batch: int = 32, decode_chunk: int = 8,
               mesh: Any = None, prefix_cache_bytes: int = 4 * 2 ** 30,
               prefix_block: int = 32, shared_prefix: bool = True,
               compact_decode: bool = True):
    path = gguf_loader.embedded_model_path() if gguf_path is None else gguf_path
    config, weights, reader = gguf_loader.load(path)
    self._setup(path, config, weights, GGUFTokenizer(reader, path), dtype=dtype,
                weight_dtype=weight_dtype, max_batch=max_batch, decode_chunk=decode_chunk,
                mesh=mesh, prefix_cache_bytes=prefix_cache_bytes, prefix_block=prefix_block,
                shared_prefix=shared_prefix, compact_decode=compact_decode)

  @classmethod
  def from_weights(cls, path: str, config: LlamaConfig, weights: dict[str, Any],
                   tokenizer: GGUFTokenizer, **kwargs) -> JaxLanguageModel:
    """An engine over weights already in memory (`gguf_loader.load`'s, or a cut-down
    copy of them); `kwargs` as for the constructor."""
    model = cls.__new__(cls)
    model._setup(path, config, weights, tokenizer, **kwargs)  # pylint: disable=protected-access
    return model

  def _setup(self, path, config, weights, tokenizer, *, dtype=None, weight_dtype=None,
             max_batch=32, decode_chunk=8, mesh=None, prefix_cache_bytes=4 * 2 ** 30,
             prefix_block=32, shared_prefix=True, compact_decode=True):
    self.path = path
    self.config = config
    self.tokenizer = tokenizer
    self.dtype = jnp.dtype(default_dtype() if dtype is None else dtype)
    self.weight_dtype = jnp.dtype(default_weight_dtype() if weight_dtype is None
                                  else weight_dtype)
    # The precision is part of the name: it labels results and keys the response cache,
    # and answers differ between precisions.
    self.name = (f'jax:{os.path.basename(path).removesuffix(".gguf")} '
                 f'({self.weight_dtype.name} weights, {self.dtype.name} activations)')
    self.mesh = sharding.make_mesh() if mesh is None else mesh
    self.num_devices = self.mesh.devices.size
    self._row_groups = llama.row_groups_for(self.mesh.devices.flat)
    self.max_batch = bucket_batch(max_batch, self.num_devices)
    self.decode_chunk = decode_chunk
    self.weights = sharding.replicate(
        llama.cast(llama.unstack_layers(weights), self.dtype, self.weight_dtype), self.mesh)
    self._rows = NamedSharding(self.mesh, P(sharding.DATA_AXIS))
    self._stop_ids = np.asarray(self.tokenizer.stop_ids, np.int32)
    self._pad_id = int(self._stop_ids[0]) if len(self._stop_ids) else 0
    self.traces: collections.Counter[str] = collections.Counter()
    self.shapes: set[tuple] = set()
    self.prefix_cache = (prefix_cache_lib.PrefixCache(prefix_block, prefix_cache_bytes)
                         if prefix_cache_bytes > 0 else None)
    self._prefix_rows = NamedSharding(self.mesh, P(None, None, sharding.DATA_AXIS))
    self._replicated = NamedSharding(self.mesh, P())
    self.shared_prefix = shared_prefix
    self.compact_decode = compact_decode
    self.compiles = CompileCounter.get()
    self.totals = GenerationStats()  # Every call's, summed (scoring adds prompt tokens).
    self._prefill = jax.jit(self._prefill_fn, static_argnames=(
        'window', 'cache_length', 'max_answer', 'keep_window'))
    self._decode = jax.jit(self._decode_fn, donate_argnums=(1,))
    self._compact = jax.jit(self._compact_fn)
    self._score = jax.jit(self._score_fn, static_argnames=(
        'window', 'continuation_length', 'keep_window'))

  def _pad_rows(self, rows: int) -> bool:
    """Whether a product of `rows` rows (over all devices) needs `llama.dense`'s padding:
    bfloat16 weights on CPU devices, one row per device."""
    return (self.weight_dtype == jnp.bfloat16 and rows // self.num_devices < 2
            and self.mesh.devices.flat[0].platform == 'cpu')

  # -- jitted bodies ------------------------------------------------------------------

  def _constrain_state(self, state):
    return {key: jax.lax.with_sharding_constraint(value, self._rows)
            if key not in ('column', 'shared') else value for key, value in state.items()}

  def _with_prefix(self, prefix_kv, b, t):
    """Per-layer caches of `t` columns (BxTxNxK): the cached prefix
    (Lx2xBxCxNxK, or None for C=0) in the first C columns, zeros after."""
    n, kd = self.config.num_kv_heads, self.config.head_dim
    c = 0 if prefix_kv is None else prefix_kv.shape[3]
    empty = jnp.zeros((b, t - c, n, kd), self.dtype)

    def layer(i, which):
      if prefix_kv is None:
        return empty
      return jnp.concatenate([prefix_kv[i, which].astype(self.dtype), empty], axis=1)

    layers = range(self.config.num_layers)
    return {'k': tuple(layer(i, 0) for i in layers), 'v': tuple(layer(i, 1) for i in layers)}

  def _forward_window(self, weights, prefix_kv, tokens_BxT, pads_B, window, keep_window,
                      shared=None):
    """The last `window` columns of the prompts through the model, the columns before
    them read from `prefix_kv`, all after the batch's `shared` prefix when there is one
    (per layer PxNxK): (h_BxWxD, per-layer kv of all columns, the window's keys and
    values as Lx2xBxWxNxK when `keep_window`, else None)."""
    b, t = tokens_BxT.shape
    c = t - window
    kv = self._with_prefix(prefix_kv, b, t)
    h, kv = llama.forward(weights, self.config, tokens_BxT[:, c:], pads_B, kv, start=c,
                          shared=shared, position_offset=0 if shared is None
                          else shared['k'][0].shape[0], row_groups=self._row_groups)
    new = None
    if keep_window:
      new = jnp.stack([jnp.stack([k[:, c:], v[:, c:]]) for k, v in zip(kv['k'], kv['v'])])
    return h, kv, new

  def _prefill_fn(self, weights, prefix_kv, shared_kv, shared_tokens_P, tokens_BxT, pads_B,
                  params, *, window, cache_length, max_answer, keep_window):
    """Prompt into a fresh cache and the first token: (the decode state, the window's
    keys and values for the prefix cache or None). The prompt's first `t - window`
    columns come from `prefix_kv` (None when there are none). `shared_kv`
    (Lx2xPxNxK, None when there is none) holds the keys and values of `shared_tokens_P`,
    which every row starts with before its `tokens_BxT`; decoding reads it once for the
    batch (`decode_forward`)."""
    self.traces['prefill'] += 1
    b, t = tokens_BxT.shape
    p = 0 if shared_kv is None else shared_kv.shape[2]
    self.shapes.add(('prefill', b, t, window, cache_length, keep_window, p))
    shared = None
    if shared_kv is not None:
      layers = range(self.config.num_layers)
      shared = {'k': tuple(shared_kv[i, 0].astype(self.dtype) for i in layers),
                'v': tuple(shared_kv[i, 1].astype(self.dtype) for i in layers)}
    h, kv, new = self._forward_window(weights, prefix_kv, tokens_BxT, pads_B, window,
                                      keep_window, shared)
    kv = decode_cache(kv, cache_length)
    logits = llama.logits(weights, h[:, -1], self._pad_rows(b))
    prompt_BxT = jnp.arange(t)[None] >= pads_B[:, None]
    seen = jnp.zeros((b, self.config.vocab_size), jnp.int32).at[
        jnp.arange(b)[:, None], tokens_BxT].add(prompt_BxT.astype(jnp.int32)) > 0
    if shared is not None:
      seen = seen.at[:, shared_tokens_P].set(True)
    count = jnp.zeros((b,), jnp.int32)
    state = {'kv': kv, 'pads': pads_B, 'seen': seen, 'params': params,
             'column': jnp.asarray(t, jnp.int32), 'count': count,
             'done': params['max_new'] <= 0,
             'answer': jnp.full((b, max_answer), self._pad_id, jnp.int32),
             'token': jnp.zeros((b,), jnp.int32)}
    if shared is not None:  # decode_forward's layout: keys NxKxP, values NxPxK.
      state['shared'] = {'k': tuple(k.transpose(1, 2, 0) for k in shared['k']),
                         'v': tuple(v.transpose(1, 0, 2) for v in shared['v'])}
    return self._constrain_state(self._emit(state, logits)), new

  def _emit(self, state, logits_BxV):
    """Samples each live row's next token and records it."""
    b = logits_BxV.shape[0]
    token = sample(logits_BxV, state['seen'], state['params'], state['count'])
    live = ~state['done']
    slot = jnp.arange(state['answer'].shape[1])[None] == state['count'][:, None]
    answer = jnp.where(slot & live[:, None], token[:, None], state['answer'])
    rows = jnp.arange(b)
    seen = state['seen'].at[rows, token].set(state['seen'][rows, token] | live)
    count = state['count'] + live.astype(jnp.int32)
    stop = jnp.isin(token, jnp.asarray(self._stop_ids)) & ~state['params']['ignore_stop']
    done = state['done'] | stop | (count >= state['params']['max_new'])
    return dict(state, token=token, answer=answer, seen=seen, count=count, done=done)

  def _decode_fn(self, weights, state):
    """Up to `decode_chunk` steps, fewer when every row is done."""
    self.traces['decode'] += 1
    shared = state.get('shared')
    self.shapes.add(('decode',) + state['answer'].shape + (
        state['kv']['v'][0].shape[2], 0 if shared is None else shared['v'][0].shape[1]))

    def step(carry):
      i, state = carry
      logits, kv = decode_forward(weights, self.config, state['kv'], state['token'],
                                  state['pads'], state['column'],
                                  self._pad_rows(state['token'].shape[0]),
                                  shared=state.get('shared'))
      state = dict(state, kv=kv, column=state['column'] + 1)
      return i + 1, self._constrain_state(self._emit(state, logits))

    def more(carry):
      i, state = carry
      return (i < self.decode_chunk) & ~jnp.all(state['done'])

    _, state = jax.lax.while_loop(more, step, (jnp.asarray(0, jnp.int32), state))
    return state

  def _score_fn(self, weights, prefix_kv, tokens_BxT, pads_B, lengths_B, *, window,
                continuation_length, keep_window):
    """Sum of log p(token) over each row's last `lengths_B` tokens (teacher forcing),
    and the window's keys and values as for `_prefill_fn`. Without a prefix cache
    (`window` None) the rows attend to themselves, no cache is built.
    `continuation_length` 0: log p of every vocabulary token after each row (BxV)."""
    self.traces['score'] += 1
    t = tokens_BxT.shape[1]
    self.shapes.add(('score', tokens_BxT.shape[0], t, window, continuation_length,
                     keep_window))
    c = continuation_length
    new = None
    if window is None:
      h, _ = llama.forward(weights, self.config, tokens_BxT, pads_B,
                           row_groups=self._row_groups)
    else:
      h, _, new = self._forward_window(weights, prefix_kv, tokens_BxT, pads_B, window,
                                       keep_window)
    w = h.shape[1]
    if c == 0:
      return jax.nn.log_softmax(llama.logits(weights, h[:, -1], self._pad_rows(
          tokens_BxT.shape[0])), axis=-1), new
    logp = jax.nn.log_softmax(llama.logits(weights, h[:, w - c - 1:w - 1],
                                           self._pad_rows(tokens_BxT.shape[0] * c)), axis=-1)
    targets_BxC = tokens_BxT[:, t - c:]
    picked = jnp.take_along_axis(logp, targets_BxC[..., None], axis=-1)[..., 0]
    mine = jnp.arange(c)[None] >= (c - lengths_B)[:, None]
    return jnp.sum(jnp.where(mine, picked, 0.0), axis=-1), new

  # -- host side ----------------------------------------------------------------------

  def chat_ids(self, messages) -> list[int]:
    """Token ids of the rendered chat, ending with the opening of the assistant turn."""
    return self.tokenizer.encode(self.tokenizer.render_chat(messages))

  def _check(self, index: int, prompt_len: int, params: SamplingParams) -> None:
    where = f'request {index}'
    if prompt_len == 0:
      raise ValueError(f'{where}: the prompt is empty')
    if params.max_new_tokens < 0:
      raise ValueError(f'{where}: max_new_tokens {params.max_new_tokens} is negative')
    if params.temperature < 0:
      raise ValueError(f'{where}: temperature {params.temperature} is negative')
    if not 0 < params.top_p <= 1:
      raise ValueError(f'{where}: top_p {params.top_p} is not in (0, 1]')
    if params.repetition_penalty <= 0:
      raise ValueError(f'{where}: repetition_penalty {params.repetition_penalty} is not '
                       'positive')
    if prompt_len + params.max_new_tokens > self.config.context_length:
      raise ValueError(f'{where}: {prompt_len} prompt tokens + max_new_tokens '
                       f'{params.max_new_tokens} exceed the context of '
                       f'{self.config.context_length} tokens of {self.path}')

  def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
    """Request indices sorted by length, cut into batches of at most `max_batch`."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i:i + self.max_batch] for i in range(0, len(order), self.max_batch)]

  def _left_pad(self, rows: Sequence[Sequence[int]], b: int, t: int):
    tokens = np.full((b, t), self._pad_id, np.int32)
    pads = np.full((b,), t - 1, np.int32)
    for r, ids in enumerate(rows):
      tokens[r, t - len(ids):] = ids
      pads[r] = t - len(ids)
    return tokens, pads

  # -- prefix cache -------------------------------------------------------------------

  def _plan_prefix(self, rows: Sequence[Sequence[int]], b: int, t: int,
                   reusable: Sequence[int], offset: int = 0):
    """How a batch of `rows` is prefilled, each left-padded into `t` columns after its
    first `offset` tokens (a prefix the batch shares, read once; see `_shared_prefix`):
    (window, prefix_kv, plan). Each row's longest cached run of blocks, within its first
    `reusable[r]` tokens, is looked up; the last `window` columns are computed and the
    columns before them are filled from the cache (prefix_kv: Lx2xBxCxNxK on the
    devices, None when the whole prompt is computed). `plan` (None without a cache) is
    what `_store_prefix` needs afterwards: each row's block keys and number of cached
    tokens."""
    cache = self.prefix_cache
    if cache is None:
      return t, None, None
    size = cache.block_size
    matches = [cache.match(row, limit) for row, limit in zip(rows, reusable)]
    cached = [len(blocks) * size for _, blocks in matches]  # Always covers the offset.
    window = bucket_window(max(len(r) - c for r, c in zip(rows, cached)), t)
    used = [max(0, len(r) - offset - window) for r in rows]  # Columns read from the cache.
    if not any(used):
      window = t
    plan = {'keys': [keys for keys, _ in matches], 'cached': cached, 'window': window,
            'offset': offset,
            'reused': (sum(used) if window < t else 0) + offset * len(rows)}
    cache.count_reused(plan['reused'])
    c = t - window
    if c == 0:
      return window, None, plan
    prefix = np.zeros((self.config.num_layers, 2, b, c, self.config.num_kv_heads,
                       self.config.head_dim), self.dtype)
    first = offset // size  # The rows' columns start at this block.
    for r, u in enumerate(used):
      for j in range(-(-u // size)):
        lo, hi = j * size, min(u, (j + 1) * size)
        prefix[:, :, r, c - u + lo:c - u + hi] = matches[r][1][first + j][:, :, :hi - lo]
    return window, jax.device_put(prefix, self._prefix_rows), plan

  def _store_prefix(self, rows: Sequence[Sequence[int]], plan, storable: Sequence[int],
                    window_kv) -> None:
    """Gives the cache each row's new full blocks within its first `storable[r]`
    tokens, cut from the computed window's keys and values (Lx2xBxWxNxK)."""
    cache = self.prefix_cache
    if cache is None or window_kv is None:
      return
    size, window = cache.block_size, plan['window']
    spans = []
    for r, row in enumerate(rows):
      keys = plan['keys'][r][:storable[r] // size]
      first = plan['cached'][r] // size
      if any(key not in cache for key in keys[first:]):
        spans.append((r, keys, first))
    if not spans:
      return
    window_kv = np.asarray(jax.device_get(window_kv))
    for r, keys, first in spans:
      start = len(rows[r]) - window  # The row's position at the window's first column.
      blocks = [np.ascontiguousarray(
          window_kv[:, :, r, j * size - start:(j + 1) * size - start])
                for j in range(first, len(keys))]
      cache.insert(keys, blocks)

  def _shared_prefix(self, prompts: Sequence[Sequence[int]]):
    """(P, keys and values Lx2xPxNxK) of the blocks every prompt of a batch starts
    with, as far as the prefix cache holds them (`_compute_shared_prefixes` puts them
    there), P rounded down by `bucket_shared`; (0, None) when there are none, with one
    prompt, or with the cache or this attention turned off. Each prompt keeps at least
    its last token for its own prefill."""
    cache = self.prefix_cache
    if cache is None or not self.shared_prefix or len(prompts) < 2:
      return 0, None
    size = cache.block_size
    common = min(len(p) for p in prompts) - 1
    first = np.asarray(prompts[0][:common])
    for p in prompts[1:]:
      differ = np.flatnonzero(np.asarray(p[:common]) != first[:common])
      common = int(differ[0]) if len(differ) else common
    _, blocks = cache.lookup(prompts[0], common)
    n = bucket_shared(len(blocks))
    if n == 0:
      return 0, None
    return n * size, np.concatenate(blocks[:n], axis=2)

  def _compute_shared_prefixes(self, prompts: Sequence[Sequence[int]]) -> None:
    """Puts in the cache, computed once, the full blocks that two or more of `prompts`
    start with and the cache lacks (the dialogue that the judges S_q and S_a both
    re-read, the job description of a job's pairs): otherwise every row of a batch would
    compute them, since the cache learns a batch's blocks only after it."""
    cache = self.prefix_cache
    if cache is None or len(prompts) < 2:
      return
    size = cache.block_size
    keys = [cache.keys(p[:len(p) - 1]) for p in prompts]  # Rows compute their last token.
    counts = collections.Counter(k for row in keys for k in row)
    deepest: dict[bytes, list[int]] = {}
    for prompt, row in zip(prompts, keys):
      n = 0
      while n < len(row) and counts[row[n]] > 1:
        n += 1
      if n and row[n - 1] not in cache:
        deepest[row[n - 1]] = list(prompt[:n * size])
    # A shared run that another one extends is computed as part of the longer one.
    runs = sorted(deepest.values(), key=len, reverse=True)
    covered = set()
    todo = []
    for run in runs:
      if tuple(run) not in covered:
        todo.append(run)
        covered.update(tuple(run[:j * size]) for j in range(1, len(run) // size + 1))
    if todo:
      self._next_token_logps(todo)

  def stats(self) -> dict[str, Any]:
    """What the engine has done: the prefix cache's counts, the programs traced (one per
    shape) and XLA's compilations in this process (new, and read from the persistent
    compilation cache)."""
    out: dict[str, Any] = {'traces': dict(self.traces), 'shapes': len(self.shapes),
                           'compiled': self.compiles.compiled,
                           'compiled_loaded': self.compiles.loaded,
                           'compile_seconds': self.compiles.seconds,
                           'totals': dataclasses.asdict(self.totals)}
    cache = self.prefix_cache
    if cache is not None:
      out['prefix_cache'] = dict(
          dataclasses.asdict(cache.stats), hit_rate=cache.stats.hit_rate,
          block_size=cache.block_size, blocks=len(cache), bytes=cache.bytes,
          max_bytes=cache.max_bytes)
    return out

  def generate_tokens(self, prompts: Sequence[Sequence[int]],
                      params: Sequence[SamplingParams], *, ignore_stop: bool = False
                      ) -> tuple[list[list[int]], GenerationStats]:
    """Answer tokens of each prompt (stop token excluded, stop strings not applied).

    `ignore_stop` decodes every row to max_new_tokens (fixed-length benchmarks).
    """
    if len(prompts) != len(params):
      raise ValueError(f'{len(prompts)} prompts but {len(params)} sampling parameters')
    for i, (ids, p) in enumerate(zip(prompts, params)):
      self._check(i, len(ids), p)
    self._compute_shared_prefixes(prompts)
    stats = GenerationStats()
    answers: list[list[int]] = [[] for _ in prompts]
    for batch in self._batches([len(p) for p in prompts]):
      rows = self._generate_batch([prompts[i] for i in batch], [params[i] for i in batch],
                                  ignore_stop, stats)
      for i, ids in zip(batch, rows):
        answers[i] = ids
    for field in dataclasses.fields(stats):
      setattr(self.totals, field.name,
              getattr(self.totals, field.name) + getattr(stats, field.name))
    return answers, stats

  def _generate_batch(self, prompts, params, ignore_stop, stats):
    n = len(prompts)
    b = bucket_batch(n, self.num_devices)
    # Rows hold what follows the shared prefix; their columns start at its end.
    shared, shared_kv = self._shared_prefix(prompts)
    shared_tokens = None
    if shared:
      shared_kv = jax.device_put(shared_kv, self._replicated)
      shared_tokens = jax.device_put(np.asarray(prompts[0][:shared], np.int32),
                                     self._replicated)
    t = bucket_length(max(len(p) for p in prompts) - shared)
    longest = max(p.max_new_tokens for p in params)
    max_answer = bucket_length(max(longest, 1), minimum=self.decode_chunk)
    tokens, pads = self._left_pad([p[shared:] for p in prompts], b, t)
    table = {
        'temperature': np.zeros(b, np.float32), 'top_p': np.ones(b, np.float32),
        'penalty': np.ones(b, np.float32), 'seed': np.zeros(b, np.uint32),
        'max_new': np.zeros(b, np.int32), 'ignore_stop': np.full(b, ignore_stop)}
    for r, p in enumerate(params):
      table['temperature'][r] = p.temperature
      table['top_p'][r] = p.top_p
      table['penalty'][r] = p.repetition_penalty
      table['seed'][r] = p.seed & 0xFFFFFFFF
      table['max_new'][r] = p.max_new_tokens
    put = lambda x: jax.device_put(x, self._rows)
    start = time.perf_counter()
    window, prefix_kv, plan = self._plan_prefix(prompts, b, t, [len(p) - 1 for p in prompts],
                                                offset=shared)
    state, window_kv = self._prefill(
        self.weights, prefix_kv, shared_kv, shared_tokens, put(tokens), put(pads),
        jax.tree.map(put, table), window=window, cache_length=t + max_answer,
        max_answer=max_answer, keep_window=self.prefix_cache is not None)
    self._store_prefix(prompts, plan, [len(p) for p in prompts], window_kv)
    del window_kv
    done, count, answer = jax.device_get((state['done'], state['count'], state['answer']))
    stats.prefill_seconds += time.perf_counter() - start
    stats.prompt_tokens += sum(len(p) for p in prompts)
    stats.reused_tokens += 0 if plan is None else plan['reused']
    stats.padded_tokens += b * window
    stats.batches += 1
    stops = [p.stop for p in params] + [()] * (b - n)
    start = time.perf_counter()
    column = t
    origin = np.arange(b)  # The request of each row of the (compacted) batch; n+: padding.
    finished: dict[int, np.ndarray] = {}  # Answers of rows dropped by compaction.
    while True:
      stopped = done if ignore_stop else self._apply_stop_strings(done, count, answer, stops)
      if stopped.all():
        break
      if not np.array_equal(stopped, done):
        state['done'] = put(stopped)
      keep = self._rows_to_keep(stopped)
      if keep is not None:
        for r in np.flatnonzero(~np.isin(np.arange(len(origin)), keep)):
          finished[int(origin[r])] = answer[r, :count[r]]
        state = self._compact(state, jax.device_put(keep, self._replicated))
        origin, stops = origin[keep], [stops[r] for r in keep]
        stats.compactions += 1
      state = self._decode(self.weights, state)
      done, count, answer, column = jax.device_get(
          (state['done'], state['count'], state['answer'], state['column']))
    for r, o in enumerate(origin):
      finished.setdefault(int(o), answer[r, :count[r]])
    stats.decode_steps += int(column) - t
    stats.decode_seconds += time.perf_counter() - start
    stats.generated_tokens += sum(len(finished[r]) for r in range(n))
    out = []
    for r in range(n):
      ids = [int(i) for i in finished[r]]
      if not ignore_stop:
        for j, i in enumerate(ids):
          if i in self.tokenizer.stop_ids:
            ids = ids[:j]
            break
      out.append(ids)
    return out

  def _rows_to_keep(self, done: np.ndarray) -> np.ndarray | None:
    """Rows a decoding batch keeps when its live rows fit in a batch of half its size or
    less (`bucket_batch` of them, filled up with finished rows), else None: a step's
    cost grows with the rows, finished ones included."""
    b, live = len(done), np.flatnonzero(~done)
    smaller = bucket_batch(max(len(live), 1), self.num_devices)
    if not self.compact_decode or smaller > b // 2:
      return None
    filler = np.flatnonzero(done)[:smaller - len(live)]
    return np.sort(np.concatenate([live, filler])).astype(np.int32)

  def _compact_fn(self, state, rows_R):
    """The decode state of rows `rows_R` of the batch, in that order."""
    self.traces['compact'] += 1
    self.shapes.add(('compact', state['answer'].shape[0], rows_R.shape[0],
                     state['kv']['v'][0].shape[2]))
    take = lambda x: jnp.take(x, rows_R, axis=0)
    out = {key: value if key in ('column', 'shared') else jax.tree.map(take, value)
           for key, value in state.items()}
    return self._constrain_state(out)

  def _apply_stop_strings(self, done, count, answer, stops):
    """Marks done the rows whose answer so far contains one of their stop strings."""
    done = done.copy()
    for r, stop in enumerate(stops):
      if stop and not done[r]:
        text = self.tokenizer.decode(answer[r, :count[r]].tolist())
        if any(s in text for s in stop):
          done[r] = True
    return done

  def _text(self, ids: Sequence[int], stop: Sequence[str]) -> str:
    text = self.tokenizer.decode(ids)
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return text[:cut] if cut >= 0 else text

  def chat(self, requests: Sequence[ChatRequest]) -> list[str]:
    """The assistant's reply to each request, in order (stop strings trimmed)."""
    prompts = [self.chat_ids(r.messages) for r in requests]
    answers, _ = self.generate_tokens(prompts, [r.params for r in requests])
    return [self._text(ids, r.params.stop) for ids, r in zip(answers, requests)]

  def score(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
    """log p(continuation | rendered chat + assistant opening), in nats; the continuation
    is tokenised on its own, as the model would emit it.

    A prompt whose every continuation is one token (a judge's Yes and No) is read once:
    one forward to its last position gives the log-probabilities of all of them.
    Longer continuations are teacher-forced, one row per request.
    """
    prompts = [self.chat_ids(r.messages) for r in requests]
    continuations = [self.tokenizer.encode(r.continuation) for r in requests]
    for i, (p, c) in enumerate(zip(prompts, continuations)):
      if len(p) + len(c) > self.config.context_length:
        raise ValueError(f'request {i}: {len(p) + len(c)} tokens exceed the context of '
                         f'{self.config.context_length} tokens of {self.path}')
    by_prompt: dict[tuple[int, ...], list[int]] = collections.defaultdict(list)
    for i, p in enumerate(prompts):
      by_prompt[tuple(p)].append(i)
    once = [p for p, idx in by_prompt.items() if all(len(continuations[i]) == 1 for i in idx)]
    read_once = set(once)
    rest = [i for i, p in enumerate(prompts) if tuple(p) not in read_once]
    self._compute_shared_prefixes([list(p) for p in once] + [prompts[i] for i in rest])
    scores: list[float | None] = [0.0] * len(requests)
    for p, logp_V in zip(once, self._next_token_logps([list(p) for p in once])):
      for i in by_prompt[p]:
        scores[i] = float(logp_V[continuations[i][0]])
    for i, value in zip(rest, self._score_rows([prompts[i] for i in rest],
                                               [continuations[i] for i in rest])):
      scores[i] = value
    return scores

  def _next_token_logps(self, prompts: Sequence[Sequence[int]]) -> list[np.ndarray]:
    """log p(token | prompt) of every vocabulary token after each prompt (V floats each)."""
    return self._score_rows(prompts, [[] for _ in prompts], next_token=True)

  def _score_rows(self, prompts: Sequence[Sequence[int]],
                  continuations: Sequence[Sequence[int]], next_token: bool = False
                  ) -> list[Any]:
    """`score` on token ids: log p(continuation | prompt) of each row, by batches;
    `next_token`: each prompt's next-token log-probabilities instead (continuations
    empty)."""
    scores: list[Any] = [0.0] * len(prompts)
    rows = [list(p) + list(c) for p, c in zip(prompts, continuations)]
    for batch in self._batches([len(r) for r in rows]):
      b = bucket_batch(len(batch), self.num_devices)
      t = bucket_length(max(len(rows[i]) for i in batch))
      longest = max(len(continuations[i]) for i in batch)
      if longest == 0 and not next_token:
        continue
      batch_rows = [rows[i] for i in batch]
      # The last prompt token is always computed: its logits predict what follows.
      window, prefix_kv, plan = self._plan_prefix(
          batch_rows, b, t, [len(prompts[i]) - 1 for i in batch])
      c = 0 if next_token else min(bucket_length(longest, minimum=1), window - 1)
      tokens, pads = self._left_pad(batch_rows, b, t)
      lengths = np.zeros(b, np.int32)
      lengths[:len(batch)] = [len(continuations[i]) for i in batch]
      put = lambda x: jax.device_put(x, self._rows)
      values, window_kv = self._score(
          self.weights, prefix_kv, put(tokens), put(pads), put(lengths),
          window=None if plan is None else window, continuation_length=c,
          keep_window=self.prefix_cache is not None)
      self._store_prefix(batch_rows, plan, [len(prompts[i]) for i in batch], window_kv)
      values = jax.device_get(values)
      self.totals.prompt_tokens += sum(len(r) for r in batch_rows)
      self.totals.reused_tokens += 0 if plan is None else plan['reused']
      self.totals.padded_tokens += b * (t if plan is None else window)
      self.totals.batches += 1
      for i, v in zip(batch, values):
        scores[i] = np.asarray(v) if next_token else float(v)
    return scores
