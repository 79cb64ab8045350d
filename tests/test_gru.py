"""The masked GRU against an independent NumPy reference, both directions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hirenet_jax.core import gru


def _np_gru(x_TxD, w_i, b_i, w_h, b_h):
  """Plain NumPy GRU over one unpadded sequence (Cho et al., PyTorch gate form)."""
  sig = lambda v: 1.0 / (1.0 + np.exp(-v))
  hidden = w_h.shape[0]
  h = np.zeros(hidden, np.float64)
  outputs = []
  for x in x_TxD:
    xr, xz, xn = np.split(x @ w_i + b_i, 3)
    hr, hz, hn = np.split(h @ w_h + b_h, 3)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    h = (1 - z) * n + z * h
    outputs.append(h)
  return np.array(outputs).reshape(len(x_TxD), hidden), h


@pytest.fixture(scope='module', autouse=True)
def _strict_ranks():
  with jax.numpy_rank_promotion('raise'):
    yield


@pytest.mark.parametrize('bidirectional', [False, True])
def test_masked_gru_matches_numpy_reference(bidirectional):
  rng = np.random.default_rng(0)
  n, t, d, h = 4, 6, 3, 5
  x = rng.normal(size=(n, t, d)).astype(np.float32)
  lengths = np.array([6, 3, 1, 0])
  mask = np.arange(t)[None] < lengths[:, None]
  module = gru.MaskedGRU(h, bidirectional=bidirectional)
  variables = module.init(jax.random.key(1), x, mask)
  # Non-zero biases so that a bias mix-up cannot pass.
  params = jax.tree.map(
      lambda p: p + 0.1 * rng.normal(size=p.shape).astype(np.float32), variables['params'])
  outputs, final = module.apply({'params': params}, x, mask)
  outputs, final = np.asarray(outputs), np.asarray(final)
  p = jax.tree.map(lambda v: np.asarray(v, np.float64), params)

  for i, length in enumerate(lengths):
    seq = x[i, :length].astype(np.float64)
    fwd, fwd_last = _np_gru(seq, p['w_i'][0], p['b_i'][0], p['w_h'][0], p['b_h'][0])
    np.testing.assert_allclose(outputs[i, :length, :h], fwd, atol=1e-5)
    np.testing.assert_allclose(final[i, :h], fwd_last, atol=1e-5)
    if bidirectional:
      # The backward direction starts at the true last element, not at the padding.
      bwd, bwd_last = _np_gru(seq[::-1], p['w_i'][1], p['b_i'][1], p['w_h'][1], p['b_h'][1])
      np.testing.assert_allclose(outputs[i, :length, h:], bwd[::-1], atol=1e-5)
      np.testing.assert_allclose(final[i, h:], bwd_last, atol=1e-5)
    # Padded outputs are exactly zero.
    assert np.all(outputs[i, length:] == 0.0)
  assert np.all(final[3] == 0.0)  # No valid step: zero state.


def test_interior_masked_step_is_skipped_by_both_directions():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(1, 5, 3)).astype(np.float32)
  mask = np.array([[True, True, False, True, False]])
  module = gru.MaskedGRU(4, bidirectional=True)
  variables = module.init(jax.random.key(0), x, mask)
  out, final = module.apply(variables, x, mask)
  # Same as the compacted sequence of the valid steps.
  x_compact = x[:, [0, 1, 3]]
  out_c, final_c = module.apply(variables, x_compact, np.ones((1, 3), bool))
  np.testing.assert_allclose(np.asarray(out)[0, [0, 1, 3]], np.asarray(out_c)[0], atol=1e-6)
  np.testing.assert_allclose(final, final_c, atol=1e-6)
  assert np.all(np.asarray(out)[0, [2, 4]] == 0.0)


def test_lengths_to_mask():
  mask = np.asarray(gru.lengths_to_mask(np.array([[2, 0], [3, 1]]), 3))
  expected = np.array([[[1, 1, 0], [0, 0, 0]], [[1, 1, 1], [1, 0, 0]]], bool)
  np.testing.assert_array_equal(mask, expected)


def test_packed_rows_encode_each_segment_as_if_alone():
  """Two sequences back to back in one row (with segment ids) == each in its own row."""
  rng = np.random.default_rng(4)
  module = gru.MaskedGRU(5, bidirectional=True)
  a = rng.normal(size=(3, 2)).astype(np.float32)
  b = rng.normal(size=(4, 2)).astype(np.float32)
  packed = np.zeros((1, 9, 2), np.float32)
  packed[0, :3], packed[0, 3:7] = a, b
  seg = np.array([[0, 0, 0, 1, 1, 1, 1, -1, -1]])
  params = module.init(jax.random.key(0), packed, seg >= 0, seg)
  out_packed, _ = module.apply(params, packed, seg >= 0, seg)
  alone = np.zeros((2, 4, 2), np.float32)
  alone[0, :3], alone[1] = a, b
  mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
  out_alone, _ = module.apply(params, alone, mask)
  out_packed = np.asarray(out_packed)
  np.testing.assert_allclose(out_packed[0, :3], np.asarray(out_alone)[0, :3], atol=1e-6)
  np.testing.assert_allclose(out_packed[0, 3:7], np.asarray(out_alone)[1], atol=1e-6)
  assert np.all(out_packed[0, 7:] == 0.0)
  # Without the ids the second sequence would start from the first one's state.
  unreset, _ = module.apply(params, packed, seg >= 0)
  assert not np.allclose(np.asarray(unreset)[0, 3:7], np.asarray(out_alone)[1], atol=1e-3)


def _autodiff_reference(x, mask, segment_ids, params, bidirectional):
  """The recurrence written plainly (jnp.where masking, autodiff through lax.scan)."""
  p = params['params']
  w_i, b_i, w_h, b_h = p['w_i'], p['b_i'], p['w_h'], p['b_h']
  dirs = w_i.shape[0]
  outs = []
  for s in range(dirs):
    xs = x if s == 0 else jnp.flip(x, 1)
    ms = mask if s == 0 else jnp.flip(mask, 1)
    ids = segment_ids if s == 0 else jnp.flip(segment_ids, 1)
    starts = jnp.concatenate([jnp.zeros_like(ids[:, :1], bool), ids[:, 1:] != ids[:, :-1]], 1)
    xp = xs @ w_i[s] + b_i[s][None, None]

    def step(h, inp, s=s):
      xp_t, m_t, start_t = inp
      h = jnp.where(start_t[:, None], 0.0, h)
      hp = h @ w_h[s] + b_h[s][None]
      xr, xz, xn = jnp.split(xp_t, 3, -1)
      hr, hz, hn = jnp.split(hp, 3, -1)
      r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
      new = (1 - z) * jnp.tanh(xn + r * hn) + z * h
      return jnp.where(m_t[:, None], new, h), jnp.where(m_t[:, None], new, 0.0)

    final, ys = jax.lax.scan(step, jnp.zeros((x.shape[0], w_h.shape[1])),
                             (jnp.swapaxes(xp, 0, 1), ms.T, starts.T))
    ys = jnp.swapaxes(ys, 0, 1)
    outs.append((ys if s == 0 else jnp.flip(ys, 1), final))
  return (jnp.concatenate([o for o, _ in outs], -1),
          jnp.concatenate([f for _, f in outs], -1))


@pytest.mark.parametrize('bidirectional', [True, False])
def test_hand_written_backward_matches_autodiff(bidirectional):
  """Gradients of outputs and final states w.r.t. inputs and every parameter, with
  packed segments, an interior masked step and trailing padding."""
  rng = np.random.default_rng(7)
  module = gru.MaskedGRU(4, bidirectional=bidirectional, unroll=2)
  x = jnp.asarray(rng.normal(size=(3, 9, 5)).astype(np.float32))
  seg = jnp.asarray([[0, 0, 0, 1, 1, 1, 1, -1, -1], [2, 2, 2, 2, 2, 2, 2, 2, 2],
                     [3, 4, 4, 5, 5, 5, 5, 5, -1]])
  mask = (seg >= 0) & ~jnp.asarray(np.eye(3, 9, 4, dtype=bool))  # Interior hole.
  params = module.init(jax.random.key(1), x, mask, seg)
  params = jax.tree.map(lambda p: p + 0.1 * jnp.asarray(rng.normal(size=p.shape), p.dtype),
                        params)  # Non-zero biases.
  weights = [jnp.asarray(rng.normal(size=s).astype(np.float32)) for s in
             ((3, 9, 8 if bidirectional else 4), (3, 8 if bidirectional else 4))]

  def loss(fn):
    def inner(p, x):
      out, final = fn(p, x)
      return (out * weights[0]).sum() + (final * weights[1]).sum()
    return inner

  ours = lambda p, x: module.apply(p, x, mask, seg)
  ref = lambda p, x: _autodiff_reference(x, mask, seg, p, bidirectional)
  np.testing.assert_allclose(ours(params, x)[0], ref(params, x)[0], atol=1e-5)
  g_ours = jax.grad(loss(ours), argnums=(0, 1))(params, x)
  g_ref = jax.grad(loss(ref), argnums=(0, 1))(params, x)
  for a, b in zip(jax.tree.leaves(g_ours), jax.tree.leaves(g_ref), strict=True):
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-4)
