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

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp


def _gates(h_SxNxH, xr, xz, xn, w_h_SxHx3H, b_h_Sx1x3H):
  """One GRU cell step from the (already reset) state; float32 gates and candidate."""
  hp = jnp.einsum('snh,shk->snk', h_SxNxH.astype(w_h_SxHx3H.dtype), w_h_SxHx3H,
                  preferred_element_type=jnp.float32) + b_h_Sx1x3H
  hr, hz, hn = jnp.split(hp, 3, axis=-1)
  r = jax.nn.sigmoid(xr.astype(jnp.float32) + hr)
  z = jax.nn.sigmoid(xz.astype(jnp.float32) + hz)
  cand = jnp.tanh(xn.astype(jnp.float32) + r * hn)
  return r, z, cand, hn


def _forward_scan(xr, xz, xn, keep, valid, w_h, b_h, unroll, *, save_gates=False):
  """Returns (outputs [T, S, N, H], carries after each step [T, S, N, H], gates).

  With `save_gates`, gates = (r, z, candidate, W_hn h + b_hn) of every step [T, S, N, H]
  for the backward pass; otherwise None.
  """
  _, num_stacks, n, hidden = xr.shape
  b_h_Sx1x3H = b_h.astype(jnp.float32)[:, None]

  def step(h_SxNxH, inputs):
    xr_t, xz_t, xn_t, keep_t, valid_t = inputs
    h = h_SxNxH * keep_t[..., None]  # Zero state at the start of a packed sequence.
    r, z, cand, hn = _gates(h, xr_t, xz_t, xn_t, w_h, b_h_Sx1x3H)
    y = cand + z * (h - cand)  # (1 - z) * cand + z * h
    m = valid_t[..., None]
    carry = h + m * (y - h)  # An invalid step carries the state unchanged.
    return carry, (m * y, carry, (r, z, cand, hn) if save_gates else None)

  h0 = jnp.zeros((num_stacks, n, hidden), jnp.float32)
  _, (ys, carries, gates) = jax.lax.scan(step, h0, (xr, xz, xn, keep, valid),
                                         unroll=unroll)
  return ys, carries, gates


@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def _recurrence(xr, xz, xn, keep, valid, w_h, b_h, unroll):
  """The GRU recurrence of S stacks over T-major gate inputs [T, S, N, H].

  `keep` [T, S, N] (1.0, or 0.0 where a packed sequence starts: the state is zeroed
  before the step) and `valid` [T, S, N] (0.0 at masked steps: the state is carried and
  the output is 0) are float masks. The recurrent state, gates and outputs are float32
  whatever the dtype of the inputs and weights (bf16 matmuls accumulate in float32): a
  bf16 state would drift over the thousands of steps of an audio answer.

  Returns (outputs [T, S, N, H], final states [S, N, H]).

  The backward pass is written by hand (`_recurrence_bwd`): the forward pass keeps the
  gates of every step, the backward loop is element-wise math and three small matmuls
  per step, and every weight gradient is one matmul over all steps after the loop.
  Autodiff of the scan is ~2x slower on CPU.
  """
  ys, carries, _ = _forward_scan(xr, xz, xn, keep, valid, w_h, b_h, unroll)
  return ys, carries[-1]


def _recurrence_fwd(xr, xz, xn, keep, valid, w_h, b_h, unroll):
  ys, carries, gates = _forward_scan(xr, xz, xn, keep, valid, w_h, b_h, unroll,
                                     save_gates=True)
  return (ys, carries[-1]), (keep, valid, w_h, b_h, carries, gates,
                             tuple(jnp.zeros((), a.dtype) for a in (xr, xz, xn)))


def _recurrence_bwd(unroll, residuals, cotangents):
  keep, valid, w_h, b_h, carries, gates, dtype_tokens = residuals
  d_ys, d_final = cotangents
  # State before each step, after its reset.
  previous = jnp.concatenate([jnp.zeros_like(carries[:1]), carries[:-1]], axis=0)
  h_in_all = previous * keep[..., None]
  w_h_gates = jnp.split(w_h, 3, axis=-1)

  def step(d_carry, inputs):
    r, z, cand, hn, keep_t, valid_t, h, d_y_t = inputs
    m = valid_t[..., None]
    d_y = m * (d_y_t + d_carry)
    d_pre_n = d_y * (1.0 - z) * (1.0 - cand * cand)
    d_pre_z = d_y * (h - cand) * z * (1.0 - z)
    d_pre_r = d_pre_n * hn * r * (1.0 - r)
    d_hn = d_pre_n * r
    d_h = d_y * z + (1.0 - m) * d_carry
    # Three matmuls rather than one on a concatenation: gate slices inside the loop stop
    # XLA:CPU from vectorising.
    for d_gate, w_gate in zip((d_pre_r, d_pre_z, d_hn), w_h_gates):
      d_h = d_h + jnp.einsum('snk,shk->snh', d_gate.astype(w_h.dtype), w_gate,
                             preferred_element_type=jnp.float32)
    # h = previous * keep: no gradient flows back through a reset.
    return d_h * keep_t[..., None], (d_pre_r, d_pre_z, d_pre_n, d_hn)

  _, (d_xr, d_xz, d_xn, d_hn) = jax.lax.scan(
      step, d_final.astype(jnp.float32), (*gates, keep, valid, h_in_all, d_ys),
      reverse=True, unroll=unroll)  # The initial state is a constant: its gradient goes.
  d_hp = jnp.concatenate([d_xr, d_xz, d_hn], -1)
  d_w_h = jnp.einsum('tsnh,tsnk->shk', h_in_all, d_hp)
  d_b_h = d_hp.sum(axis=(0, 2))
  return (d_xr.astype(dtype_tokens[0].dtype), d_xz.astype(dtype_tokens[1].dtype),
          d_xn.astype(dtype_tokens[2].dtype),
          jnp.zeros_like(keep), jnp.zeros_like(valid), d_w_h.astype(w_h.dtype),
          d_b_h.astype(b_h.dtype))


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


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
    # All input projections in one matmul outside the recurrence (both directions: the
    # backward one is time-reversed after projecting), time-major, one contiguous array
    # per gate: slicing gates inside the loop stops XLA:CPU from vectorising (~4x).
    w_i_Dx3SH = jnp.concatenate(list(w_i_SxDx3H), axis=-1).astype(self.dtype)
    b_i_3SH = b_i_Sx3H.reshape(-1).astype(self.dtype)
    proj_TxNx3SH = jnp.einsum('ntd,dk->tnk', x, w_i_Dx3SH) + b_i_3SH[None, None]
    per_dir = jnp.split(proj_TxNx3SH, num_dirs, axis=-1)
    if self.bidirectional:
      per_dir[1] = jnp.flip(per_dir[1], axis=0)
    gates = [jnp.stack([jnp.split(p, 3, axis=-1)[g] for p in per_dir], axis=1)
             for g in range(3)]  # r, z, n inputs, each [T, S, N, H] in dtype.
    masks_SxNxT = jnp.stack([mask, jnp.flip(mask, axis=1)][:num_dirs])
    valid_TxSxN = jnp.transpose(masks_SxNxT, (2, 0, 1)).astype(jnp.float32)
    keep_TxSxN = jnp.ones_like(valid_TxSxN)
    if segment_ids_NxT is not None:
      ids = jnp.stack([segment_ids_NxT, jnp.flip(segment_ids_NxT, axis=1)][:num_dirs])
      # A step starts a sequence when its id differs from the previous step's (in
      # each direction's own order); step 0 starts from zero anyway.
      changed = ids[:, :, 1:] != ids[:, :, :-1]
      resets_SxNxT = jnp.concatenate([jnp.zeros_like(changed[:, :, :1]), changed], 2)
      keep_TxSxN = 1.0 - jnp.transpose(resets_SxNxT, (2, 0, 1)).astype(jnp.float32)
    ys_TxSxNxH, final_SxNxH = _recurrence(
        *gates, keep_TxSxN, valid_TxSxN, w_h_SxHx3H.astype(self.dtype),
        b_h_Sx3H.astype(self.dtype), self.unroll)
    if self.bidirectional:
      ys_TxNx2H = jnp.concatenate([ys_TxSxNxH[:, 0], jnp.flip(ys_TxSxNxH[:, 1], 0)], -1)
      final = jnp.concatenate([final_SxNxH[0], final_SxNxH[1]], axis=-1)
    else:
      ys_TxNx2H, final = ys_TxSxNxH[:, 0], final_SxNxH[0]
    outputs = jnp.transpose(ys_TxNx2H, (1, 0, 2))
    return outputs, final


def lengths_to_mask(lengths: jax.Array, max_length: int) -> jax.Array:
  """`mask[..., t] = t < lengths[...]` (sst2 style)."""
  steps = jnp.arange(max_length).reshape((1,) * lengths.ndim + (max_length,))
  return steps < lengths[..., None]
