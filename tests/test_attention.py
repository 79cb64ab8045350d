"""Masked softmax, masked mean and additive attention."""

import jax
import numpy as np

from hirenet_jax.core import attention


def test_masked_softmax_sums_to_one_and_is_zero_on_padding():
  logits = np.array([[3.0, -1.0, 50.0, 2.0], [0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
  mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], bool)
  weights = np.asarray(attention.masked_softmax(logits, mask))
  np.testing.assert_allclose(weights[0].sum(), 1.0, atol=1e-6)
  assert weights[0, 2] == 0.0  # Masked even though its logit is the largest.
  assert np.all(weights[1] == 0.0)  # No valid element: zeros, not NaN.
  np.testing.assert_array_equal(weights[2], [1.0, 0.0, 0.0, 0.0])
  expected = np.exp([3.0, -1.0, 2.0]) / np.exp([3.0, -1.0, 2.0]).sum()
  np.testing.assert_allclose(weights[0, [0, 1, 3]], expected, rtol=1e-6)


def test_masked_mean_equals_mean_of_valid_rows():
  rng = np.random.default_rng(0)
  h = rng.normal(size=(3, 5, 2)).astype(np.float32)
  mask = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 0, 1, 0, 1]], bool)
  mean, weights = attention.masked_mean(h, mask)
  np.testing.assert_allclose(mean[0], h[0, :3].mean(0), atol=1e-6)
  np.testing.assert_allclose(mean[1], 0.0)
  np.testing.assert_allclose(mean[2], h[2, [0, 2, 4]].mean(0), atol=1e-6)
  np.testing.assert_allclose(np.asarray(weights).sum(-1), [1.0, 0.0, 1.0], atol=1e-6)


def test_additive_attention_context_changes_weights_only_when_given():
  rng = np.random.default_rng(1)
  h = rng.normal(size=(2, 4, 6)).astype(np.float32)
  mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
  ctx = rng.normal(size=(2, 3)).astype(np.float32)
  index = np.array([[0] * 4, [1] * 4])
  module = attention.AdditiveAttention(attention_size=5)
  variables = module.init(jax.random.key(0), h, ctx, index)
  w1 = attention.masked_softmax(module.apply(variables, h, ctx, index), mask)
  w2 = attention.masked_softmax(module.apply(variables, h, ctx + 1.0, index), mask)
  assert not np.allclose(w1, w2)
  np.testing.assert_allclose(np.asarray(w1).sum(-1), 1.0, atol=1e-6)
  assert np.all(np.asarray(w1)[1, 2:] == 0.0)
  # The context row is chosen per step: swapping the index swaps the contexts.
  swapped = module.apply(variables, h, ctx[::-1], index[::-1])
  np.testing.assert_allclose(swapped, module.apply(variables, h, ctx, index), atol=1e-6)
  self_attn = attention.AdditiveAttention(attention_size=5)
  sv = self_attn.init(jax.random.key(0), h, None)
  assert 'w_context' not in sv['params']


def test_segment_softmax_and_pool_match_per_segment_numpy():
  rng = np.random.default_rng(2)
  logits = rng.normal(size=(2, 6)).astype(np.float32) * 5
  h = rng.normal(size=(2, 6, 3)).astype(np.float32)
  # Row 0: segments 2 (3 steps), 0 (2 steps), padding; row 1: segment 3, padding;
  # segment 1 is empty.
  seg = np.array([[2, 2, 2, 0, 0, -1], [3, 3, 3, 3, -1, -1]])
  w = np.asarray(attention.segment_softmax(logits, seg, 4))
  pooled = np.asarray(attention.segment_pool(w, h, seg, 4))
  assert np.all(w[seg < 0] == 0.0)
  for s in range(4):
    where = seg == s
    if not where.any():
      np.testing.assert_array_equal(pooled[s], 0.0)
      continue
    e = np.exp(logits[where] - logits[where].max())
    np.testing.assert_allclose(w[where], e / e.sum(), rtol=1e-5)
    np.testing.assert_allclose(pooled[s], (e / e.sum()) @ h[where], rtol=1e-5, atol=1e-6)
  mean_w = np.asarray(attention.segment_mean_weights(seg, np.array([2, 0, 3, 4])))
  np.testing.assert_allclose(mean_w[0], [1 / 3] * 3 + [1 / 2] * 2 + [0])
