"""The Llama architecture as pure functions over a weights pytree (RMSNorm, RoPE,
grouped-query attention, SwiGLU) with a fixed-length KV cache pytree.

Rows are left-padded: a row's tokens end at the last column, `pads_B` says how many
columns before its first token are padding. The cache is indexed by column, shared by the
whole batch, so a decode step writes one column for every row; a key column is visible to
a query when it is not padding and not in the query's future. RoPE positions are
`column - pad`, so padding never changes a row's result.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hirenet_jax.llm.gguf_loader import LlamaConfig

_MASKED = -1e9  # Large finite negative: a fully masked row gives uniform weights, never NaN.
# Attention loops over rows (`row_groups` > 0) only when a group's float32 logits would
# outgrow about a CPU's last-level cache; below it the batched products are faster
# (measured on 2 Zen 4 cores: 32 rows x 128 x 128 keys batched, 32 x 256 x 256 by row).
ROW_LOOP_BYTES = 20 * 2 ** 20
_MATRICES = ('wq', 'wk', 'wv', 'wo', 'w_gate', 'w_up', 'w_down', 'lm_head_DxV')


def rms_norm(x_BxTxD: jax.Array, w_D: jax.Array, eps: float) -> jax.Array:
  """x / sqrt(mean(x^2) + eps) * w, computed in float32."""
  x = x_BxTxD.astype(jnp.float32)
  x = x * jax.lax.rsqrt(jnp.mean(x * x, axis=-1, keepdims=True) + eps)
  w = w_D.astype(jnp.float32).reshape((1,) * (x.ndim - 1) + (-1,))
  return (x * w).astype(x_BxTxD.dtype)


def dense(x: jax.Array, w: jax.Array, pad_rows: bool = False) -> jax.Array:
  """x @ w in the weight's dtype, accumulated in float32, returned in x's dtype: bfloat16
  weights under float32 activations halve the bytes read and use the CPU's bf16 dot
  products, while norms, RoPE, attention and the residual stream stay in float32.

  `pad_rows` computes each row twice: XLA:CPU runs a one-row bfloat16 product on a slow
  path (about 8x a float32 one) and two rows on the fast one.
  """
  if pad_rows:
    return dense(jnp.stack([x, x], axis=-2), w)[..., 0, :]
  return jnp.matmul(x.astype(w.dtype), w, preferred_element_type=jnp.float32).astype(x.dtype)


def rope(x_BxTxHxK: jax.Array, positions_BxT: jax.Array, base: float) -> jax.Array:
  """Rotates adjacent pairs (2i, 2i+1) by position * base^(-2i/K): llama.cpp's 'normal'
  RoPE, matching the GGUF converter's permutation of the q/k rows."""
  k = x_BxTxHxK.shape[-1]
  inv_freq = base ** (-jnp.arange(0, k, 2, dtype=jnp.float32) / k)
  angle_BxTxK2 = positions_BxT.astype(jnp.float32)[..., None] * inv_freq[None, None]
  cos = jnp.cos(angle_BxTxK2)[:, :, None, :]
  sin = jnp.sin(angle_BxTxK2)[:, :, None, :]
  x = x_BxTxHxK.astype(jnp.float32)
  x1, x2 = x[..., 0::2], x[..., 1::2]
  out = jnp.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1)
  return out.reshape(x.shape).astype(x_BxTxHxK.dtype)


def unstack_layers(weights: dict[str, Any]) -> dict[str, Any]:
  """The weights with 'layers' as a tuple of per-layer dicts instead of stacked arrays.

  XLA:CPU copies a dynamically indexed layer out of a stacked array before each matrix
  product, so a loop over stacked layers copies every weight once per token; unrolled
  layers over separate buffers read them in place.
  """
  layers = weights['layers']
  if not isinstance(layers, dict):
    return weights
  n = len(next(iter(layers.values())))
  return dict(weights, layers=tuple({k: v[i] for k, v in layers.items()} for i in range(n)))


def cast(weights: dict[str, Any], dtype: Any, weight_dtype: Any) -> dict[str, Any]:
  """Numpy copies of `weights`: the matrices of the products in `weight_dtype`, the
  embedding (it feeds the residual stream) and the norms in `dtype`."""
  def cast_leaf(path, a):
    matrix = path[-1].key in _MATRICES
    return np.asarray(a).astype(weight_dtype if matrix else dtype, copy=False)
  return jax.tree_util.tree_map_with_path(cast_leaf, weights)


def init_kv(config: LlamaConfig, batch: int, length: int, dtype: Any) -> dict[str, jax.Array]:
  """An empty cache {'k', 'v'}: LxBxSxHkvxK each."""
  shape = (config.num_layers, batch, length, config.num_kv_heads, config.head_dim)
  return {'k': jnp.zeros(shape, dtype), 'v': jnp.zeros(shape, dtype)}


def _attention(q_BxTxHxK, k_BxSxNxK, v_BxSxNxK, mask_BxTxS, shared=None, row_groups=0):
  """Grouped-query attention: each of the N kv heads serves H/N query heads.

  `row_groups` > 0 (for CPUs: `row_groups_for`): when a group's logits exceed
  `ROW_LOOP_BYTES`, the rows are computed one after another (`lax.map`) in that many
  groups side by side, one per device, so a sharded batch stays sharded; a row's TxS
  logits then stay in the CPU's cache, where the whole batch's spill to memory and the
  softmax's passes over them dominate (4x slower at 128 queries over 2,048 keys on 2
  cores). 0: the whole batch at once (accelerators). A count that does not divide the
  batch falls back to one group.
  `shared` (k_PxNxK, v_PxNxK): a prefix that every row sees before its own columns,
  stored once for the whole batch (`cascade_attention`).
  """
  b, t, h, kd = q_BxTxHxK.shape
  n = k_BxSxNxK.shape[2]
  dtype = v_BxSxNxK.dtype
  # Scaling the queries costs T columns; scaling the logits would cost S.
  q_BxTxNxGxK = (q_BxTxHxK * (1 / np.sqrt(kd)).astype(q_BxTxHxK.dtype)).reshape(
      b, t, n, h // n, kd)

  def row(args):
    q_TxNxGxK, k_SxNxK, v_SxNxK, mask_TxS = args
    # Plain matrix products per kv head over the row's T*G queries: (T*G)xK @ KxS.
    q_NxMxK = q_TxNxGxK.transpose(1, 0, 2, 3).reshape(n, -1, kd)
    logits = jnp.einsum('nmk,nks->nms', q_NxMxK, k_SxNxK.transpose(1, 2, 0),
                        preferred_element_type=jnp.float32)
    logits = jnp.where(jnp.repeat(mask_TxS, h // n, axis=0)[None], logits, _MASKED)
    return attention_part(logits, lambda p: jnp.einsum(
        'nms,nsk->nmk', p.astype(dtype), v_SxNxK.transpose(1, 0, 2)))

  inputs = (q_BxTxNxGxK, k_BxSxNxK, v_BxSxNxK, mask_BxTxS)
  g = row_groups if row_groups > 0 and b % row_groups == 0 else 1
  if row_groups == 0 or (b // g) * t * k_BxSxNxK.shape[1] * h * 4 <= ROW_LOOP_BYTES:
    parts = jax.vmap(lambda *xs: row(xs))(*inputs)
  else:
    grouped = [x.reshape((g, b // g) + x.shape[1:]) for x in inputs]
    parts = jax.vmap(lambda *xs: jax.lax.map(row, xs))(*grouped)
  # Back to one batch axis, queries as TxG: BxNxTxGx(1 or K).
  parts = [jax.tree.map(lambda x: x.reshape((b, n, t, h // n, x.shape[-1])), parts)]
  if shared is not None:
    shared_logits = jnp.einsum('btngk,pnk->bntgp', q_BxTxNxGxK, shared[0],
                               preferred_element_type=jnp.float32)
    parts.append(attention_part(shared_logits, lambda p: jnp.einsum(
        'bntgp,pnk->bntgk', p.astype(dtype), shared[1])))
  out_BxNxTxGxK = merge_parts(parts, dtype)
  return out_BxNxTxGxK.transpose(0, 2, 1, 3, 4).reshape(b, t, h * kd)


def row_groups_for(devices) -> int:
  """`forward`'s `row_groups` for a batch sharded over `devices`: one group per device,
  row by row, on CPUs (cache-sized pieces); the whole batch at once on accelerators,
  where a loop over rows would leave the chip idle."""
  devices = list(devices)
  return len(devices) if devices and devices[0].platform == 'cpu' else 0


def attention_part(logits: jax.Array, values_of) -> tuple[jax.Array, ...]:
  """Softmax attention over one set of keys, left unnormalised so that parts over other
  keys can be merged with it (`merge_parts`): (max ...x1, sum of exp(logit - max) ...x1,
  values_of(exp(logit - max)) ...xK), with `values_of` the weights' sum over the values."""
  top = jnp.max(logits, axis=-1, keepdims=True)
  e = jnp.exp(logits - top)
  return top, jnp.sum(e, axis=-1, keepdims=True), values_of(e).astype(jnp.float32)


def merge_parts(parts, dtype) -> jax.Array:
  """The softmax attention over all the parts' keys at once from `attention_part`s, each
  rebased to the common maximum: exact up to float rounding."""
  top = functools.reduce(jnp.maximum, [p[0] for p in parts])
  total, out = 0.0, 0.0
  for part_top, part_total, part_out in parts:
    scale = jnp.exp(part_top - top)
    total = total + part_total * scale
    out = out + part_out * scale
  return (out / total).astype(dtype)


def cascade_attention(*parts, dtype) -> jax.Array:
  """Softmax attention over several key sets, each read on its own (a prefix shared by
  the batch, each row's own columns), merged by their log-sum-exps: the softmax over all
  keys at once, up to float rounding (as Hydragen's and FlashInfer's cascade attention).

  Each part is (logits ...xS_i, values_of: weights ...xS_i -> their values' sum ...xK);
  returns the attention output ...xK in `dtype`.
  """
  return merge_parts([attention_part(logits, lambda p, f=values_of: f(p.astype(dtype)))
                      for logits, values_of in parts], dtype)


def forward(weights: dict[str, Any], config: LlamaConfig, tokens_BxT: jax.Array,
            pads_B: jax.Array, kv: dict[str, jax.Array] | None = None,
            start: jax.Array | int = 0, final_norm: bool = True,
            shared: dict[str, Any] | None = None, position_offset: jax.Array | int = 0,
            row_groups: int = 0) -> tuple[jax.Array, dict[str, jax.Array] | None]:
  """Hidden states (after the final norm) of tokens placed at cache columns start..start+T-1.

  With `kv`, the new keys/values are written into the cache and attention reads the whole
  cache; without, the T tokens attend to themselves (teacher forcing, scoring).
  `weights['layers']` is stacked (a scan over layers) or a tuple of per-layer dicts
  (`unstack_layers`: unrolled); `kv` is LxBxSxNxK arrays or, with per-layer weights,
  tuples of BxSxNxK arrays, and comes back in the form it was given. `final_norm=False`
  returns the residual stream after the last layer given, unnormalised: with the layers
  cut to the first L, the states of layer L (what a frozen encoder reads).
  `shared`: the keys and values of a prefix that every row continues (per layer, tuples
  of PxNxK arrays, with per-layer weights only), read once for the batch; the rows'
  positions then start at `position_offset` = P. `row_groups`: 0 computes attention for
  the whole batch at once, n > 0 row by row in n groups (`row_groups_for`, `_attention`).
  Returns (h_BxTxD, kv).
  """
  b, t = tokens_BxT.shape
  columns_T = start + jnp.arange(t)
  positions_BxT = jnp.maximum(columns_T[None, :] - pads_B[:, None], 0) + position_offset
  x = jnp.take(weights['embed_VxD'], tokens_BxT, axis=0)
  s = t if kv is None else kv['k'][0].shape[1]
  key_columns_S = jnp.arange(s) if kv is not None else columns_T
  mask_BxTxS = ((key_columns_S[None, None, :] <= columns_T[None, :, None])
                & (key_columns_S[None, None, :] >= pads_B[:, None, None]))
  h, n, kd = config.num_heads, config.num_kv_heads, config.head_dim

  def layer(x_BxTxD, inputs, prefix=None):
    w, cache_k, cache_v = inputs
    y = rms_norm(x_BxTxD, w['attn_norm'], config.rms_eps)
    q = rope(dense(y, w['wq']).reshape(b, t, h, kd), positions_BxT, config.rope_base)
    k = rope(dense(y, w['wk']).reshape(b, t, n, kd), positions_BxT, config.rope_base)
    v = dense(y, w['wv']).reshape(b, t, n, kd)
    if cache_k is not None:
      cache_k = jax.lax.dynamic_update_slice_in_dim(cache_k, k.astype(cache_k.dtype), start, 1)
      cache_v = jax.lax.dynamic_update_slice_in_dim(cache_v, v.astype(cache_v.dtype), start, 1)
      k, v = cache_k, cache_v
    x_BxTxD = x_BxTxD + dense(_attention(q, k, v, mask_BxTxS, prefix, row_groups), w['wo'])
    y = rms_norm(x_BxTxD, w['ffn_norm'], config.rms_eps)
    x_BxTxD = x_BxTxD + dense(jax.nn.silu(dense(y, w['w_gate'])) * dense(y, w['w_up']), w['w_down'])
    return x_BxTxD, (cache_k, cache_v)

  layers = weights['layers']
  if isinstance(layers, dict):  # Stacked on a leading layer axis: one traced layer.
    if shared is not None:
      raise ValueError('a shared prefix needs per-layer weights (unstack_layers)')
    if kv is None:
      x, _ = jax.lax.scan(lambda c, w: layer(c, (w, None, None)), x, layers)
    else:
      x, (ks, vs) = jax.lax.scan(layer, x, (layers, kv['k'], kv['v']))
      kv = {'k': ks, 'v': vs}
  else:  # One dict per layer (`unstack_layers`): unrolled, each layer reads its own buffers.
    ks, vs = [], []
    for i, w in enumerate(layers):
      x, (k, v) = layer(x, (w, None, None) if kv is None else (w, kv['k'][i], kv['v'][i]),
                        None if shared is None else (shared['k'][i], shared['v'][i]))
      ks.append(k)
      vs.append(v)
    if kv is not None:
      stacked = not isinstance(kv['k'], (list, tuple))
      kv = {'k': jnp.stack(ks) if stacked else tuple(ks),
            'v': jnp.stack(vs) if stacked else tuple(vs)}
  return (rms_norm(x, weights['final_norm_D'], config.rms_eps) if final_norm else x), kv


def logits(weights: dict[str, Any], h_BxTxD: jax.Array, pad_rows: bool = False) -> jax.Array:
  """Vocabulary logits in float32 (`pad_rows` as for `dense`)."""
  return dense(h_BxTxD.astype(jnp.float32), weights['lm_head_DxV'], pad_rows)
