"""Masked GRU encoders (paper eq. 1-4, 8-11).

The recurrence follows Cho et al. (2014) in the cuDNN / PyTorch form:

  r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
  n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
  h' = (1 - z) * n + z * h

Masking is by a boolean `mask_NxT`, not by lengths: at an invalid step the state is carried
unchanged and the output is zero. With trailing padding, the backward direction therefore
starts at the true last element (its state stays at zero through the padding), and an
interior invalid step (an answer whose features failed to extract) is skipped by both
directions. Padded outputs are exactly zero, so pooling over them is safe.

Packed rows (hirenet_jax/packing.py): with `segment_ids_NxT`, a row holds several
sequences back to back; each direction restarts from a zero state at the first step of
each sequence it meets (forward: where the id changes from the previous step; backward:
from the next step), so every sequence is encoded exactly as if it were alone in its row.

Speed: the input projections of all steps are one matmul outside the scan, and both
directions run in the same `lax.scan` (the backward inputs time-reversed), so the scan
body is one batched [2, N, H] x [2, H, 3H] matmul per step.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def _scan_gru(
    xproj_SxTxNx3H: jax.Array,
    mask_SxTxN: jax.Array,
    reset_SxTxN: jax.Array | None,
    w_h_SxHx3H: jax.Array,
    b_h_Sx3H: jax.Array,
    unroll: int,
) -> tuple[jax.Array, jax.Array]:
  """Runs S independent GRU stacks in one scan over T.

  The recurrent state, gates and outputs are float32 whatever the dtype of the inputs
  and weights (bf16 matmuls accumulate in float32): a bf16 state would drift over the
  thousands of steps of an audio answer.

  Returns (outputs [S, T, N, H] zero at masked steps, final states [S, N, H]).
  """
  num_stacks, _, n, three_h = xproj_SxTxNx3H.shape
  hidden = three_h // 3
  h0_SxNxH = jnp.zeros((num_stacks, n, hidden), jnp.float32)
  b_h_Sx1x3H = b_h_Sx3H.astype(jnp.float32)[:, None]

  def step(h_SxNxH, inputs):
    xp_SxNx3H, m_SxN, reset_SxN = inputs
    if reset_SxN is not None:
      h_SxNxH = jnp.where(reset_SxN[..., None], 0.0, h_SxNxH)
    hp_SxNx3H = jnp.einsum('snh,shk->snk', h_SxNxH.astype(w_h_SxHx3H.dtype), w_h_SxHx3H,
                           preferred_element_type=jnp.float32) + b_h_Sx1x3H
    xr, xz, xn = jnp.split(xp_SxNx3H.astype(jnp.float32), 3, axis=-1)
    hr, hz, hn = jnp.split(hp_SxNx3H, 3, axis=-1)
    r = jax.nn.sigmoid(xr + hr)
    z = jax.nn.sigmoid(xz + hz)
    cand = jnp.tanh(xn + r * hn)
    h_new = (1.0 - z) * cand + z * h_SxNxH
    m = m_SxN[..., None]
    return jnp.where(m, h_new, h_SxNxH), jnp.where(m, h_new, 0.0)

  xs = (jnp.swapaxes(xproj_SxTxNx3H, 0, 1), jnp.swapaxes(mask_SxTxN, 0, 1),
        None if reset_SxTxN is None else jnp.swapaxes(reset_SxTxN, 0, 1))
  h_final, ys_TxSxNxH = jax.lax.scan(step, h0_SxNxH, xs, unroll=unroll)
  return jnp.swapaxes(ys_TxSxNxH, 0, 1), h_final


class MaskedGRU(nn.Module):
  """Forward (or bidirectional) GRU over `[N, T, D]` sequences with a validity mask.

  Attributes:
    hidden_size: units per direction.
    bidirectional: also run right-to-left and concatenate (eq. 3, eq. 10).
    unroll: `lax.scan` unroll factor.
    dtype: dtype of the input projections and matmul operands (params, recurrent
      state and outputs stay float32).
  """
  hidden_size: int
  bidirectional: bool = True
  unroll: int = 1
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(
      self, x_NxTxD: jax.Array, mask_NxT: jax.Array,
      segment_ids_NxT: jax.Array | None = None,
  ) -> tuple[jax.Array, jax.Array]:
    """Encodes the sequences.

    Args:
      x_NxTxD: inputs.
      mask_NxT: valid steps.
      segment_ids_NxT: optional sequence id of each step, for packed rows: the state
        is reset where the id changes (see the module docstring).

    Returns:
      outputs_NxTxH: hidden states ([forward, backward] concatenated when
        bidirectional), exactly zero at masked steps.
      final_NxH: forward state after the last valid step (and, when
        bidirectional, concatenated with the backward state after the first
        valid step); zero for a sequence with no valid step. Of packed rows, the
        states of the last (forward) and first (backward) sequence only.
    """
    num_dirs = 2 if self.bidirectional else 1
    d = x_NxTxD.shape[-1]
    h = self.hidden_size
    init_i = nn.initializers.lecun_normal()
    # One orthogonal [H, H] block per gate, as in flax's GRUCell.
    def init_h(key, shape, dtype=jnp.float32):
      keys = jax.random.split(key, shape[0] * 3)
      blocks = [nn.initializers.orthogonal()(k, (h, h), dtype) for k in keys]
      return jnp.stack(
          [jnp.concatenate(blocks[3 * s:3 * s + 3], axis=-1) for s in range(shape[0])])
    w_i_SxDx3H = self.param('w_i', init_i, (num_dirs, d, 3 * h))
    b_i_Sx3H = self.param('b_i', nn.initializers.zeros, (num_dirs, 3 * h))
    w_h_SxHx3H = self.param('w_h', init_h, (num_dirs, h, 3 * h))
    b_h_Sx3H = self.param('b_h', nn.initializers.zeros, (num_dirs, 3 * h))

    x = x_NxTxD.astype(self.dtype)
    mask = mask_NxT.astype(bool)
    # All input projections in one matmul, outside the recurrence.
    xs_SxNxTxD = jnp.stack([x, jnp.flip(x, axis=1)][:num_dirs])
    masks_SxNxT = jnp.stack([mask, jnp.flip(mask, axis=1)][:num_dirs])
    xproj = jnp.einsum('sntd,sdk->stnk', xs_SxNxTxD, w_i_SxDx3H.astype(self.dtype))
    xproj = xproj + b_i_Sx3H[:, None, None].astype(self.dtype)  # Stored in dtype.
    resets_SxTxN = None
    if segment_ids_NxT is not None:
      ids = jnp.stack([segment_ids_NxT, jnp.flip(segment_ids_NxT, axis=1)][:num_dirs])
      # A step starts a sequence when its id differs from the previous step's (in
      # each direction's own order); step 0 starts from zero anyway.
      changed = ids[:, :, 1:] != ids[:, :, :-1]
      resets_SxNxT = jnp.concatenate([jnp.zeros_like(changed[:, :, :1]), changed], 2)
      resets_SxTxN = jnp.swapaxes(resets_SxNxT, 1, 2)
    ys_SxTxNxH, final_SxNxH = _scan_gru(
        xproj, jnp.swapaxes(masks_SxNxT, 1, 2), resets_SxTxN, w_h_SxHx3H.astype(self.dtype),
        b_h_Sx3H.astype(self.dtype), self.unroll)
    ys_SxNxTxH = jnp.swapaxes(ys_SxTxNxH, 1, 2)
    if self.bidirectional:
      outputs = jnp.concatenate([ys_SxNxTxH[0], jnp.flip(ys_SxNxTxH[1], axis=1)], -1)
      final = jnp.concatenate([final_SxNxH[0], final_SxNxH[1]], axis=-1)
    else:
      outputs, final = ys_SxNxTxH[0], final_SxNxH[0]
    return outputs, final


def lengths_to_mask(lengths: jax.Array, max_length: int) -> jax.Array:
  """`mask[..., t] = t < lengths[...]` (sst2 style)."""
  steps = jnp.arange(max_length).reshape((1,) * lengths.ndim + (max_length,))
  return steps < lengths[..., None]
