"""Additive attention (paper eq. 5-7 and 12-14) and masked mean pooling.

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
  return jnp.einsum('nt,nth->nh', weights_NxT, h_NxTxH.astype(jnp.float32)), weights_NxT


class AdditiveAttention(nn.Module):
  """u_t = tanh(W h_t + W_c c + b); alpha = softmax(u_p . u_t); out = sum alpha h.

  With `context=None` this is self-attention (HN SATT): the W_c c term is absent.

  Attributes:
    attention_size: size of u (the paper does not give it).
  """
  attention_size: int
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(
      self, h_NxTxH: jax.Array, mask_NxT: jax.Array, context_NxC: jax.Array | None
  ) -> tuple[jax.Array, jax.Array]:
    """Returns (summary_NxH, weights_NxT)."""
    proj_NxTxA = nn.Dense(self.attention_size, dtype=self.dtype, name='w_h')(h_NxTxH)
    if context_NxC is not None:
      # W_Q h_Q (eq. 5) / W_J h_J (eq. 12); its bias is the single b of the equation.
      ctx_NxA = nn.Dense(self.attention_size, use_bias=False, dtype=self.dtype,
                         name='w_context')(context_NxC)
      proj_NxTxA = proj_NxTxA + ctx_NxA[:, None, :]
    u_NxTxA = jnp.tanh(proj_NxTxA)
    # u_p . u_t (eq. 6, 13).
    logits_NxT = nn.Dense(1, use_bias=False, dtype=self.dtype, name='u')(u_NxTxA)[..., 0]
    weights_NxT = masked_softmax(logits_NxT, mask_NxT)
    # Eq. 7 / 14. Padded h are zero already; the weights are zero there too.
    summary_NxH = jnp.einsum('nt,nth->nh', weights_NxT, h_NxTxH.astype(jnp.float32))
    return summary_NxH, weights_NxT
