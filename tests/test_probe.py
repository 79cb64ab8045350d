"""The linear probe: pooling ignores padding and weighs answers by their tokens, and the
probe finds a planted linear cue (and nothing in noise), as a beside-run baseline row."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hirenet_jax.hirenet.baselines import probe

SPLITS = ('train', 'validation', 'test')


def test_mean_states_ignores_padding():
  states = np.full((2, 4, 3), 1e6, np.float32)  # Padding holds garbage.
  states[0, :2] = [[1, 2, 3], [3, 4, 5]]
  states[1, :1] = [[7, 8, 9]]
  pooled = probe.mean_states(states, np.asarray([2, 1]))
  np.testing.assert_allclose(pooled, [[2, 3, 4], [7, 8, 9]])
  np.testing.assert_array_equal(probe.mean_states(states, np.asarray([0, 0])), 0)


def test_by_candidate_weights_answers_by_tokens():
  answers = np.asarray([[0.0, 2.0], [4.0, 6.0], [1.0, 1.0]])
  candidate = np.asarray([0, 0, 2])
  plain = probe.by_candidate(answers, candidate, 3)
  np.testing.assert_allclose(plain, [[2, 4], [0, 0], [1, 1]])
  # 1 token then 3 tokens: the mean over all 4 tokens.
  weighted = probe.by_candidate(answers, candidate, 3, weights_A=np.asarray([1, 3, 5]))
  np.testing.assert_allclose(weighted[0], [3, 5])


def test_mean_word_vectors_skips_padding_ids():
  table = np.arange(12, dtype=np.float32).reshape(4, 3)
  out = probe.mean_word_vectors([np.asarray([2, 3, 0]), np.asarray([0])], table)
  np.testing.assert_allclose(out, [[7.5, 8.5, 9.5], [0, 0, 0]])


def _planted(seed, sizes=(300, 80, 80), dim=20, informative=True):
  """Candidates whose label is the sign of a fixed direction (plus 5% flips), or noise."""
  rng = np.random.default_rng(seed)
  direction = rng.standard_normal(dim)
  features, labels = {}, {}
  for split, n in zip(SPLITS, sizes):
    x = rng.standard_normal((n, dim)) * np.linspace(0.1, 50, dim)  # Scales far apart.
    y = (x @ (direction / np.linspace(0.1, 50, dim)) > 0).astype(np.int64)
    flip = rng.random(n) < 0.05
    y = np.where(flip, 1 - y, y) if informative else rng.integers(0, 2, n)
    features[split], labels[split] = x.astype(np.float32), y
  return features, labels


def test_probe_finds_a_planted_linear_cue():
  features, labels = _planted(0)
  row = probe.probe_logreg(features, labels)
  assert row['test']['roc_auc'] > 0.9
  assert row['validation']['roc_auc'] > 0.9
  assert row['C'] in probe.C_GRID and row['num_features'] == 20
  assert row['name'] == probe.NAME
  assert 0 < row['test']['recall'] < 1 or row['test']['precision'] > 0
  json.dumps(row)  # A results.json row.


@pytest.mark.parametrize('seed', [1, 2])
def test_probe_on_noise_is_near_chance(seed):
  features, labels = _planted(seed, informative=False)
  row = probe.probe_logreg(features, labels)
  assert 0.3 < row['test']['roc_auc'] < 0.7


def test_scores_follow_the_beside_run_interface():
  features, labels = _planted(3)
  params, scores = probe.probe_logreg_scores(features, labels, seed=0)
  assert set(scores) == {'validation', 'test'}
  assert scores['test'].shape == (80,) and np.all((scores['test'] >= 0) & (scores['test'] <= 1))
  assert set(params) == {'C', 'num_features'}


def test_candidate_word_vectors_are_invariant_to_padding():
  """A candidate's pooled vector is the mean over all its words: padded words and wholly
  padded answers change nothing, and answers count by their words."""
  table = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
  table[0] = 1e3  # Were padding read, it would dominate the mean.
  plain = probe.candidate_word_vectors(
      [np.asarray([2, 3]), np.asarray([4]), np.asarray([5, 1, 1])], np.asarray([0, 0, 1]), 2,
      table)
  padded = probe.candidate_word_vectors(
      [np.asarray([2, 3, 0, 0]), np.asarray([0, 0, 0]), np.asarray([4, 0]),
       np.asarray([5, 1, 1, 0]), np.asarray([0])], np.asarray([0, 0, 0, 1, 1]), 2, table)
  np.testing.assert_allclose(padded, plain, rtol=1e-6)
  np.testing.assert_allclose(plain[0], table[[2, 3, 4]].mean(axis=0), rtol=1e-6)
  np.testing.assert_allclose(plain[1], table[[5, 1, 1]].mean(axis=0), rtol=1e-6)
