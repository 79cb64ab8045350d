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

Packed rows (hirenet_jax/hirenet/packing.py): with `segment_ids_NxT`, a row holds several
sequences back to back; each direction restarts from a zero state at the first step of
each sequence it meets (forward: where the id changes from the previous step; backward:
from the next step), so every sequence is encoded exactly as if it were alone in its row.

Speed: the input projections of all steps are one matmul outside the scan, and both
directions run in the same `lax.scan` (the backward inputs time-reversed), so the scan
body is one batched [2, N, H] x [2, H, 3H] matmul per step. The layer's backward pass is
written by hand (`_layer`): the loops keep one array per step each, everything else is
computed for all steps at once. On 2 CPU cores the two loops are about half of a text
encoder pass; XLA:CPU runs each on one core.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp


def _forward_scan(xr, xz, xn, keep, valid, w_h, b_h, unroll, *, save_hp=False):
  """The GRU recurrence of S stacks over time-major gate inputs [T, S, N, H].

  `keep` [T, S, N] (1.0, or 0.0 where a packed sequence starts: the state is zeroed
  before the step) and `valid` [T, S, N] (0.0 at masked steps: the state is carried) are
  float masks. The recurrent state and gates are float32 whatever the dtype of the
  inputs and weights (bf16 matmuls accumulate in float32): a bf16 state would drift over
  the thousands of steps of an audio answer.

  Returns (the state after each step [T, S, N, H], and with `save_hp` the recurrent
  pre-activations W_h h + b_h of each step [T, S, N, 3H], else None). The step keeps
  nothing else: XLA:CPU then fuses all the gate math of a step into one kernel.
  """
  _, num_stacks, n, hidden = xr.shape
  b_h_Sx1x3H = b_h.astype(jnp.float32)[:, None]

  def step(h_SxNxH, inputs):
    xr_t, xz_t, xn_t, keep_t, valid_t = inputs
    h = h_SxNxH * keep_t[..., None]  # Zero state at the start of a packed sequence.
    hp = jnp.einsum('snh,shk->snk', h.astype(w_h.dtype), w_h,
                    preferred_element_type=jnp.float32) + b_h_Sx1x3H
    hr, hz, hn = jnp.split(hp, 3, axis=-1)
    r = jax.nn.sigmoid(xr_t.astype(jnp.float32) + hr)
    z = jax.nn.sigmoid(xz_t.astype(jnp.float32) + hz)
    cand = jnp.tanh(xn_t.astype(jnp.float32) + r * hn)
    y = cand + z * (h - cand)  # (1 - z) * cand + z * h
    carry = h + valid_t[..., None] * (y - h)  # An invalid step carries the state unchanged.
    return carry, (carry, hp if save_hp else None)

  h0 = jnp.zeros((num_stacks, n, hidden), jnp.float32)
  _, (carries, hps) = jax.lax.scan(step, h0, (xr, xz, xn, keep, valid), unroll=unroll)
  return carries, hps


def _gate_grads(d_y, r, z, cand, hn, h):
  """Gradients of the r, z and n pre-activations and of W_hn h + b_hn, given the
  gradient of a step's output (before masking) and the step's gates and input state."""
  d_pre_n = d_y * (1.0 - z) * (1.0 - cand * cand)
  d_pre_z = d_y * (h - cand) * z * (1.0 - z)
  d_pre_r = d_pre_n * hn * r * (1.0 - r)
  return d_pre_r, d_pre_z, d_pre_n, d_pre_n * r


def _recurrence_bwd(xr, xz, xn, keep, valid, w_h, carries, hps, d_ys, d_final, unroll):
  """Backward pass of `_forward_scan`: gradients of (xr, xz, xn, w_h, b_h), all float32.

  The gates are recomputed from the saved pre-activations for all steps at once, the
  reverse loop carries only the state gradient and keeps the output gradient of each
  step, and the gate gradients and weight gradients are computed after the loop for all
  steps at once. Autodiff of the scan is ~2x slower on CPU.
  """
  # State before each step, after its reset: no gradient flows back through a reset.
  previous = jnp.concatenate([jnp.zeros_like(carries[:1]), carries[:-1]], axis=0)
  h_in = previous * keep[..., None]
  hr, hz, hn = jnp.split(hps, 3, axis=-1)
  r = jax.nn.sigmoid(xr.astype(jnp.float32) + hr)
  z = jax.nn.sigmoid(xz.astype(jnp.float32) + hz)
  cand = jnp.tanh(xn.astype(jnp.float32) + r * hn)
  w_h_gates = jnp.split(w_h, 3, axis=-1)

  def step(d_carry, inputs):
    r, z, cand, hn, keep_t, valid_t, h, d_y_t = inputs
    m = valid_t[..., None]
    d_y = m * (d_y_t + d_carry)
    d_pre_r, d_pre_z, _, d_hn = _gate_grads(d_y, r, z, cand, hn, h)
    d_h = d_y * z + (1.0 - m) * d_carry
    # Three matmuls: one on their concatenation is no faster.
    for d_gate, w_gate in zip((d_pre_r, d_pre_z, d_hn), w_h_gates):
      d_h = d_h + jnp.einsum('snk,shk->snh', d_gate.astype(w_h.dtype), w_gate,
                             preferred_element_type=jnp.float32)
    return d_h * keep_t[..., None], d_y

  # The initial state is a constant: its gradient goes.
  _, d_y = jax.lax.scan(step, d_final.astype(jnp.float32),
                        (r, z, cand, hn, keep, valid, h_in, d_ys), reverse=True,
                        unroll=unroll)
  d_pre_r, d_pre_z, d_pre_n, d_hn = _gate_grads(d_y, r, z, cand, hn, h_in)
  d_hp = jnp.concatenate([d_pre_r, d_pre_z, d_hn], -1)
  d_w_h = jnp.einsum('tsnh,tsnk->shk', h_in, d_hp)
  d_b_h = d_hp.sum(axis=(0, 2))
  return d_pre_r, d_pre_z, d_pre_n, d_w_h, d_b_h


def _flip_backward(per_dir):
  """Per-direction arrays [T, ...], the backward direction's (the second) time-reversed:
  the recurrence runs it forwards, and this also undoes it."""
  return [jnp.flip(p, axis=0) if s == 1 else p for s, p in enumerate(per_dir)]


def _gate_inputs(proj_TxNx3SH, num_dirs):
  """Projections [T, N, S*3H] -> r, z, n inputs, each [T, S, N, H], one contiguous array
  per gate (slicing gates inside the loop stops XLA:CPU from vectorising, ~4x), the
  backward direction time-reversed."""
  per_dir = _flip_backward(jnp.split(proj_TxNx3SH, num_dirs, axis=-1))
  return [jnp.stack([jnp.split(p, 3, axis=-1)[g] for p in per_dir], axis=1)
          for g in range(3)]


def _layer_outputs(ys_TxSxNxH, num_dirs):
  """[T, S, N, H] -> [N, T, S*H], the backward direction back in time order."""
  ys = jnp.concatenate(_flip_backward([ys_TxSxNxH[:, s] for s in range(num_dirs)]), -1)
  return jnp.transpose(ys, (1, 0, 2))


@functools.partial(jax.custom_vjp, nondiff_argnums=(7,))
def _layer(x_TxNxD, keep, valid, w_i_Dx3SH, b_i_3SH, w_h, b_h, unroll):
  """The whole (bi)directional layer: input projection, recurrence, output layout.

  Args: time-major inputs [T, N, D]; `keep` and `valid` [T, S, N] (see
  `_forward_scan`; direction 1 time-reversed); input weights of all directions
  concatenated [D, S*3H] and [S*3H]; recurrent weights [S, H, 3H] and [S, 3H].

  Returns (outputs [N, T, S*H], exactly zero at masked steps; final states [S, N, H]).

  Its backward pass is written by hand (`_layer_bwd`), so that every layout change is
  one explicit fusion: autodiff of the splits, stacks and flips between the projection
  and the recurrence produced pads and concatenations.
  """
  (outputs, final), _ = _layer_fwd(x_TxNxD, keep, valid, w_i_Dx3SH, b_i_3SH, w_h, b_h,
                                   unroll, save_hp=False)
  return outputs, final


def _layer_fwd(x_TxNxD, keep, valid, w_i_Dx3SH, b_i_3SH, w_h, b_h, unroll, *,
               save_hp=True):
  num_dirs = w_h.shape[0]
  proj = jnp.einsum('tnd,dk->tnk', x_TxNxD, w_i_Dx3SH) + b_i_3SH[None, None]
  gates = _gate_inputs(proj, num_dirs)
  carries, hps = _forward_scan(*gates, keep, valid, w_h, b_h, unroll, save_hp=save_hp)
  outputs = _layer_outputs(valid[..., None] * carries, num_dirs)
  residuals = (x_TxNxD, keep, valid, w_i_Dx3SH, w_h, b_h, gates, carries, hps)
  return (outputs, carries[-1]), residuals


def _layer_bwd(unroll, residuals, cotangents):
  x, keep, valid, w_i, w_h, b_h, gates, carries, hps = residuals
  d_outputs_NxTxSH, d_final = cotangents
  num_dirs = w_h.shape[0]
  per_dir = _flip_backward(
      jnp.split(jnp.transpose(d_outputs_NxTxSH, (1, 0, 2)), num_dirs, axis=-1))
  d_ys = jnp.stack(per_dir, axis=1).astype(jnp.float32)  # Masked in the loop.
  d_xr, d_xz, d_xn, d_w_h, d_b_h = _recurrence_bwd(
      *gates, keep, valid, w_h, carries, hps, d_ys, d_final, unroll)
  per_dir = _flip_backward([jnp.concatenate([d_xr[:, s], d_xz[:, s], d_xn[:, s]], -1)
                            for s in range(num_dirs)])
  d_proj = jnp.concatenate(per_dir, -1).astype(w_i.dtype)  # [T, N, S*3H]
  d_x = jnp.einsum('tnk,dk->tnd', d_proj, w_i)  # Removed by XLA when unused.
  d_w_i = jnp.einsum('tnd,tnk->dk', x, d_proj)
  d_b_i = d_proj.sum(axis=(0, 1))
  return (d_x, jnp.zeros_like(keep), jnp.zeros_like(valid), d_w_i, d_b_i,
          d_w_h.astype(w_h.dtype), d_b_h.astype(b_h.dtype))


_layer.defvjp(_layer_fwd, _layer_bwd)


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

    mask = mask_NxT.astype(bool)
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
    # All input projections in one matmul (both directions: the backward one is
    # time-reversed after projecting), on time-major inputs: a projection straight to a
    # time-major result made XLA:CPU transpose the inputs element by element.
    w_i_Dx3SH = jnp.concatenate(list(w_i_SxDx3H), axis=-1).astype(self.dtype)
    outputs, final_SxNxH = _layer(
        jnp.swapaxes(x_NxTxD.astype(self.dtype), 0, 1), keep_TxSxN, valid_TxSxN,
        w_i_Dx3SH, b_i_Sx3H.reshape(-1).astype(self.dtype), w_h_SxHx3H.astype(self.dtype),
        b_h_Sx3H.astype(self.dtype), self.unroll)
    final = jnp.concatenate(list(final_SxNxH), axis=-1)
    return outputs, final


def lengths_to_mask(lengths: jax.Array, max_length: int) -> jax.Array:
  """`mask[..., t] = t < lengths[...]` (sst2 style)."""
  steps = jnp.arange(max_length).reshape((1,) * lengths.ndim + (max_length,))
  return steps < lengths[..., None]
