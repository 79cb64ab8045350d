"""Vote, non-sequential and Bag-of-Words baselines and late fusion (library level)."""

import numpy as np
import pytest

from hirenet_jax.hirenet.baselines import classifiers as shallow_models
from hirenet_jax.core import metrics


def test_random_vote_f1_is_close_to_its_analytic_expectation():
  labels = np.array([1] * 500 + [0] * 500)
  out = shallow_models.random_vote(labels, 0.5, num_draws=1000, seed=0)
  expected = shallow_models.expected_random_vote_f1(0.5, 0.5)
  assert expected == pytest.approx(0.5)
  assert out['f1'] == pytest.approx(expected, abs=0.01)
  assert out['recall'] == pytest.approx(0.5, abs=0.01)
  skewed = shallow_models.random_vote(labels, 0.2, num_draws=500, seed=1)
  assert skewed['f1'] == pytest.approx(shallow_models.expected_random_vote_f1(0.5, 0.2), abs=0.015)


def test_random_vote_on_a_one_class_split_has_no_roc_auc_and_no_warning():
  import warnings  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    out = shallow_models.random_vote(np.ones(10, np.int64), 0.5, num_draws=20)
  assert np.isnan(out['roc_auc'])
  assert out['precision'] == pytest.approx(1.0)  # Every positive vote is right.


def test_position_majority_vote_rules():
  scores = shallow_models.position_majority_scores(
      ['a', 'a', 'a', 'b', 'b', 'c'], [1, 1, 0, 0, 1, 0], ['a', 'b', 'c', 'unseen'])
  # a: majority hirable; b: a draw counts as hirable; c: not; unseen: overall (3/6).
  np.testing.assert_array_equal(scores, [1.0, 1.0, 0.0, 1.0])


def test_video_functionals_by_hand():
  frames = np.array([[0.0, 0.0], [2.0, 1.0], [1.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
  out = shallow_models.video_functionals(frames, [False, True], frame_rate=4.0)
  cont = [1.8, np.std([0, 2, 1, 3, 3]), 0.0, 3.0, 2.0 + 2.0, -1.0]
  # Binary: active at frames 1-2 and 4 -> 2 segments of 0.5 s and 0.25 s.
  binary = [0.6, 2, 0.375, 0.125]
  np.testing.assert_allclose(out, cont + binary, rtol=1e-6)


def test_bag_of_frames_separates_documents_of_different_clusters():
  rng = np.random.default_rng(0)
  centres = np.array([[5.0, 0.0], [-5.0, 0.0]])
  docs = [centres[i % 2] + 0.1 * rng.normal(size=(20, 2)) for i in range(10)]
  bag = shallow_models.BagOfFrames(num_clusters=2, seed=0).fit(docs)
  x = bag.transform(docs + [np.zeros((0, 2))])
  assert x.shape == (11, 2)
  assert np.all(x[-1] == 0.0)  # An empty answer is an empty document.
  # Same-type documents are identical, different types share no cluster.
  np.testing.assert_allclose(x[0], x[2], atol=1e-6)
  assert float(x[0] @ x[1]) == pytest.approx(0.0, abs=1e-6)


def _answer_set(rng, num_candidates, signal):
  labels = rng.integers(0, 2, num_candidates)
  candidate = np.repeat(np.arange(num_candidates), 3)
  features = rng.normal(size=(len(candidate), 4))
  features[:, 0] += signal * (2 * labels[candidate] - 1)
  return shallow_models.AnswerSet(features.astype(np.float32), candidate, labels)


def test_fit_and_select_learns_and_scores_candidates_by_mean_answer():
  rng = np.random.default_rng(0)
  train, val, test = (_answer_set(rng, n, 1.5) for n in (120, 40, 40))
  sel = shallow_models.fit_and_select(train, val, test, seed=0)
  assert sel.family in ('svm', 'ridge', 'random_forest')
  assert len(sel.search) == 10
  assert sel.test['f1'] > 0.85
  # Shared metrics function: recomputing from the returned scores gives the same figures.
  assert sel.test == metrics.classification_metrics(test.labels, sel.test_scores)
  np.testing.assert_allclose(
      shallow_models.mean_by_candidate(np.array([0.2, 0.4, 1.0]), np.array([0, 0, 1]), 3),
      [0.3, 1.0, np.nan])


def test_late_fusion_is_the_mean_of_the_scores():
  fused = shallow_models.late_fusion({'text': np.array([0.2, 0.9]), 'audio': np.array([0.4, 0.3]),
                                 'video': np.array([0.6, 0.0])})
  np.testing.assert_allclose(fused, [0.4, 0.4])


def test_run_fusion_aligns_candidates_and_late_fusion_is_the_mean():
  from hirenet_jax.hirenet.baselines import paper as baseline_features
  rng = np.random.default_rng(0)
  outputs = {}
  n = 30
  ids = [f'c{i:02d}' for i in range(n)]
  labels = rng.integers(0, 2, n)
  positions = [f'p{i % 4}' for i in range(n)]
  scores = {m: rng.random(n) for m in ('text', 'audio', 'video')}
  for m in scores:
    per_split = {}
    for split, part in (('train', range(0, 18)), ('validation', range(18, 24)),
                        ('test', range(24, 30))):
      rows = [i for i in part if not (m == 'video' and i in (20, 27))]  # No video for two.
      rows = rows[::-1] if m == 'audio' else rows  # Another record order.
      per_split[split] = baseline_features.ModalityOutputs(
          [ids[i] for i in rows], [positions[i] for i in rows], labels[rows],
          scores[m][rows], rng.normal(size=(len(rows), 4)) + labels[rows, None])
    outputs[m] = per_split
  results = baseline_features.run_fusion(outputs, seed=0, num_draws=50)
  assert results['num_candidates'] == {'train': 18, 'validation': 5, 'test': 5}
  test_rows = [i for i in range(24, 30) if i != 27]
  fused = np.mean([scores[m][test_rows] for m in scores], axis=0)
  assert results['late_fusion']['test'] == metrics.json_safe(
      metrics.classification_metrics(labels[test_rows], fused))
  assert {'family', 'validation', 'test'} <= set(results['early_fusion'])
  assert results['majority_vote']['test']['num_examples'] == 5
  with pytest.raises(ValueError, match='at least two'):
    baseline_features.run_fusion({'text': outputs['text']})
