"""Additive attention (paper eq. 5-7 and 12-14), masked and per-segment pooling.

Logits of invalid positions are set to a large finite negative, never -inf, and the
weights are multiplied by the mask: a row with no valid element (an answer whose
features failed to extract) gets all-zero weights and a zero summary, never NaN.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

_MASKED_LOGIT = -1e9


def masked_softmax(logits_NxT: jax.Array, mask_NxT: jax.Array) -> jax.Array:
  """Softmax over the valid positions; exactly 0 on invalid ones (all-zero if none)."""
  logits = jnp.where(mask_NxT, logits_NxT.astype(jnp.float32), _MASKED_LOGIT)
  weights = jax.nn.softmax(logits, axis=-1)
  return jnp.where(mask_NxT, weights, 0.0)


def masked_mean(h_NxTxH: jax.Array, mask_NxT: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Mean of the valid positions (HN AVG); returns (mean_NxH, uniform weights_NxT)."""
  mask = mask_NxT.astype(jnp.float32)
  weights_NxT = mask / jnp.maximum(mask.sum(-1, keepdims=True), 1.0)
  return attend(weights_NxT, h_NxTxH), weights_NxT


def segment_softmax(logits_RxW: jax.Array, segments_RxW: jax.Array,
                    num_segments: int) -> jax.Array:
  """Softmax over the steps of each segment of packed rows; 0 at padding (id -1)."""
  ids = jnp.where(segments_RxW >= 0, segments_RxW, num_segments).reshape(-1)
  logits = logits_RxW.astype(jnp.float32).reshape(-1)
  top = jax.ops.segment_max(logits, ids, num_segments + 1)
  e = jnp.exp(logits - jnp.take(top, ids))
  total = jax.ops.segment_sum(e, ids, num_segments + 1)
  weights = jnp.where(ids < num_segments, e / jnp.take(total, ids), 0.0)
  return weights.reshape(logits_RxW.shape)


def segment_pool(weights_RxW: jax.Array, h_RxWxH: jax.Array, segments_RxW: jax.Array,
                 num_segments: int) -> jax.Array:
  """sum_t weights_t h_t per segment: [num_segments, H] (zero for an empty segment)."""
  ids = jnp.where(segments_RxW >= 0, segments_RxW, num_segments).reshape(-1)
  weighted = (weights_RxW[..., None] * h_RxWxH.astype(jnp.float32))
  pooled = jax.ops.segment_sum(weighted.reshape(ids.shape[0], -1), ids, num_segments + 1)
  return pooled[:num_segments]


def segment_mean_weights(segments_RxW: jax.Array, lengths_S: jax.Array) -> jax.Array:
  """Uniform weights 1 / length of each step's segment (HN AVG on packed rows)."""
  ids = jnp.maximum(segments_RxW, 0)
  inverse = 1.0 / jnp.maximum(lengths_S.astype(jnp.float32), 1.0)
  return jnp.where(segments_RxW >= 0, jnp.take(inverse, ids), 0.0)


class AdditiveAttention(nn.Module):
  """Attention logits u_p . tanh(W h_t + W_c c + b) (eq. 5-6, 12-13).

  The softmax and the weighted sum are separate (`masked_softmax` / `segment_softmax`),
  so one module serves padded [B, Q] and packed [R, W] steps. With `context=None` this
  is self-attention (HN SATT): the W_c c term is absent.

  Attributes:
    attention_size: size of u (the paper does not give it).
  """
  attention_size: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, h_XxH: jax.Array, context_YxC: jax.Array | None = None,
               context_index_X: jax.Array | None = None) -> jax.Array:
    """Logits [X...] of the steps h [X..., H].

    Args:
      h_XxH: encoder states of the steps.
      context_YxC: context vectors (questions for eq. 5, job titles for eq. 12).
      context_index_X: which context row each step attends with (`h` leading shape).
    """
    proj_XxA = nn.Dense(self.attention_size, dtype=self.dtype, name='w_h')(h_XxH)
    if context_YxC is not None:
      # W_Q h_Q (eq. 5) / W_J h_J (eq. 12); its bias is the single b of the equation.
      # Projected once per context, then gathered per step.
      ctx_YxA = nn.Dense(self.attention_size, use_bias=False, dtype=self.dtype,
                         name='w_context')(context_YxC)
      index = jnp.clip(context_index_X, 0, ctx_YxA.shape[0] - 1)
      proj_XxA = proj_XxA + jnp.take(ctx_YxA, index, axis=0)
    u_XxA = jnp.tanh(proj_XxA)
    # u_p . u_t (eq. 6, 13).
    return nn.Dense(1, use_bias=False, dtype=self.dtype, name='u')(u_XxA)[..., 0]


def attend(weights_NxT: jax.Array, h_NxTxH: jax.Array) -> jax.Array:
  """sum_t weights_t h_t (eq. 7, 14) over padded steps: [N, H]."""
  return jnp.einsum('nt,nth->nh', weights_NxT, h_NxTxH.astype(jnp.float32))
