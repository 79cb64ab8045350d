"""Our GRU weights in PyTorch's layout (benchmarks/torch_weights.py) drive PyTorch's GRU
equations to our GRU's outputs, checked without torch: `torch_gru_reference` is
`nn.GRU` with packed sequences, written from PyTorch's documentation in numpy
(tests/test_compare_torch.py checks it against torch itself where torch is present)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import torch_weights
from hirenet_jax.core import gru as gru_lib

N, T, D, H = 5, 7, 6, 4
LENGTHS = np.array([7, 3, 5, 1, 0])


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def torch_gru_reference(state, x_NxTxD, lengths_N, hidden_size):
  """(outputs [N, T, dirs * H], zero past each length; h_n as [N, dirs * H]) of a
  one-layer `nn.GRU(batch_first=True)` holding `state`, run on packed sequences.

  PyTorch's equations, weights stacked (r, z, n) along rows:
    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h
  The reverse direction reads each sequence from its last element back to its first.
  """
  directions = 2 if 'weight_ih_l0_reverse' in state else 1
  n, t, _ = x_NxTxD.shape
  out = np.zeros((n, t, directions * hidden_size))
  final = np.zeros((n, directions * hidden_size))
  for d, suffix in enumerate(('_l0', '_l0_reverse')[:directions]):
    w_ih, w_hh = state['weight_ih' + suffix], state['weight_hh' + suffix]
    b_ih, b_hh = state['bias_ih' + suffix], state['bias_hh' + suffix]
    cols = slice(d * hidden_size, (d + 1) * hidden_size)
    for i in range(n):
      h = np.zeros(hidden_size)
      steps = range(lengths_N[i]) if d == 0 else reversed(range(lengths_N[i]))
      for step in steps:
        gi = w_ih @ x_NxTxD[i, step] + b_ih
        gh = w_hh @ h + b_hh
        r = _sigmoid(gi[:hidden_size] + gh[:hidden_size])
        z = _sigmoid(gi[hidden_size:2 * hidden_size] + gh[hidden_size:2 * hidden_size])
        cand = np.tanh(gi[2 * hidden_size:] + r * gh[2 * hidden_size:])
        h = (1 - z) * cand + z * h
        out[i, step, cols] = h
      final[i, cols] = h
  return out, final


def _our_gru(bidirectional, seed=0):
  """Inputs zero past their lengths, our params (non-zero biases, so a misplaced bias
  shows) and our outputs."""
  rng = np.random.default_rng(seed)
  x_NxTxD = rng.standard_normal((N, T, D)).astype(np.float32)
  x_NxTxD *= (np.arange(T) < LENGTHS[:, None])[..., None]
  model = gru_lib.MaskedGRU(H, bidirectional=bidirectional)
  mask_NxT = gru_lib.lengths_to_mask(jnp.asarray(LENGTHS), T)
  params = model.init(jax.random.PRNGKey(seed), jnp.asarray(x_NxTxD), mask_NxT)['params']
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))  # b_i != b_h.
  params = jax.tree.unflatten(
      tree, [p + 0.3 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])
  outputs, final = model.apply({'params': params}, jnp.asarray(x_NxTxD), mask_NxT)
  return jax.device_get(params), x_NxTxD, np.asarray(outputs), np.asarray(final)


@pytest.mark.parametrize('bidirectional', [True, False])
def test_mapped_weights_in_torch_equations_give_our_outputs(bidirectional):
  params, x_NxTxD, ours, ours_final = _our_gru(bidirectional)
  state = torch_weights.masked_gru_state(params)
  theirs, theirs_final = torch_gru_reference(state, x_NxTxD.astype(np.float64), LENGTHS, H)
  np.testing.assert_allclose(ours, theirs, atol=1e-5)
  np.testing.assert_allclose(ours_final, theirs_final, atol=1e-5)
  assert np.abs(theirs).max() > 0.1  # Not a vacuous match of zeros.


def test_state_has_torchs_names_shapes_and_writable_float32():
  params, *_ = _our_gru(bidirectional=True)
  state = torch_weights.masked_gru_state(params)
  expected = {}
  for suffix in ('_l0', '_l0_reverse'):
    expected |= {f'weight_ih{suffix}': (3 * H, D), f'weight_hh{suffix}': (3 * H, H),
                 f'bias_ih{suffix}': (3 * H,), f'bias_hh{suffix}': (3 * H,)}
  assert {k: v.shape for k, v in state.items()} == expected
  for value in state.values():
    assert value.dtype == np.float32 and value.flags.writeable and value.flags.c_contiguous


def test_a_gru_of_three_directions_is_refused():
  with pytest.raises(ValueError, match='3 directions'):
    torch_weights.masked_gru_state({'w_i': np.zeros((3, D, 3 * H))})
