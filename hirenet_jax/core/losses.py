"""The loss both systems train with: binary cross-entropy from logits, weighted per row."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def weighted_bce(logits: jax.Array, labels: jax.Array, weight: jax.Array
                 ) -> tuple[jax.Array, jax.Array]:
  """(sum of weight * BCE(sigmoid(logits), labels), sum of weight), in float32.

  A sum and a weight, not a mean, so that the step divides the global batch's sum by its
  global weight: padding rows (weight 0) and the sharding do not change the update.
  """
  weight = weight.astype(jnp.float32)
  losses = optax.sigmoid_binary_cross_entropy(logits.astype(jnp.float32),
                                              labels.astype(jnp.float32))
  return (losses * weight).sum(), weight.sum()
