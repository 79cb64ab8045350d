"""ranking: per-group NDCG/Recall/Precision/MRR@k, the exact random ranking, macro P/R/F1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as sk

from hirenet_jax.core import ranking
from hirenet_jax.pjf.corpus import Pair


def _random_groups(seed=0, num_groups=30):
  rng = np.random.default_rng(seed)
  groups, scores, labels = [], [], []
  for g in range(num_groups):
    n = int(rng.integers(2, 12))
    groups += [f'g{g}'] * n
    scores += list(rng.permutation(n) + rng.uniform(0, 0.5, n))  # Distinct scores.
    labels += list((rng.uniform(size=n) < 0.3).astype(int) if g % 5 else np.zeros(n, int))
  return groups, np.asarray(scores), np.asarray(labels)


def test_ndcg_equals_sklearn_per_group():
  groups, scores, labels = _random_groups()
  got = ranking.ranking_metrics(groups, scores, labels, k=5)
  expected, skipped = [], 0
  for g in dict.fromkeys(groups):
    idx = [i for i, x in enumerate(groups) if x == g]
    if labels[idx].sum() == 0:
      skipped += 1
      continue
    expected.append(sk.ndcg_score([labels[idx]], [scores[idx]], k=5))
    one = ranking.group_metrics(scores[idx], labels[idx], k=5)
    assert one['ndcg@5'] == pytest.approx(expected[-1], abs=1e-12)
  assert skipped > 0  # The fixture has groups without a positive: they are excluded.
  assert got['ndcg@5'] == pytest.approx(np.mean(expected), abs=1e-12)
  assert got['num_groups'] == len(expected)
  assert got['num_groups_without_positive'] == skipped


def test_hand_worked_group():
  # Ranked labels: 0, 1, 0, 1, 1 | 1 (the sixth falls outside the top 5).
  scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
  labels = [0, 1, 0, 1, 1, 1]
  m = ranking.group_metrics(scores, labels, k=5)
  assert m['recall@5'] == pytest.approx(3 / 4)
  assert m['precision@5'] == pytest.approx(3 / 5)
  assert m['mrr@5'] == pytest.approx(1 / 2)
  dcg = 1 / math.log2(3) + 1 / math.log2(5) + 1 / math.log2(6)
  idcg = sum(1 / math.log2(i + 1) for i in range(1, 5))
  assert m['ndcg@5'] == pytest.approx(dcg / idcg)


def test_first_positive_beyond_k_gives_zero_mrr_and_small_group_precision_over_k():
  m = ranking.group_metrics([6, 5, 4, 3, 2, 1], [0, 0, 0, 0, 0, 1], k=5)
  assert m['mrr@5'] == 0.0 and m['recall@5'] == 0.0 and m['ndcg@5'] == 0.0
  small = ranking.group_metrics([0.2, 0.9], [1, 0], k=5)
  assert small['precision@5'] == pytest.approx(1 / 5)  # Divided by k, as RecBole does.
  assert small['mrr@5'] == pytest.approx(1 / 2) and small['recall@5'] == 1.0


def test_ties_are_broken_by_input_order():
  assert ranking.group_metrics([0.5, 0.5], [1, 0], k=1)['mrr@1'] == 1.0
  assert ranking.group_metrics([0.5, 0.5], [0, 1], k=1)['mrr@1'] == 0.0


def test_no_positive_anywhere_is_nan_and_counted():
  got = ranking.ranking_metrics(['a', 'a', 'b'], [1, 2, 3], [0, 0, 0])
  assert math.isnan(got['ndcg@5']) and got['num_groups'] == 0
  assert got['num_groups_without_positive'] == 2


def test_bad_input_is_named():
  with pytest.raises(ValueError, match='labels must be 0 or 1'):
    ranking.ranking_metrics(['a'], [0.1], [2])
  with pytest.raises(ValueError, match='1 group ids, 2 scores'):
    ranking.ranking_metrics(['a'], [0.1, 0.2], [1, 0])


def test_random_metrics_equal_a_monte_carlo_average():
  groups, _, labels = _random_groups(seed=3, num_groups=12)
  exact = ranking.random_ranking_metrics(groups, labels, k=5)
  rng = np.random.default_rng(0)
  draws = [ranking.ranking_metrics(groups, rng.permutation(len(groups)), labels, k=5)
           for _ in range(3000)]
  for name in ranking.metric_names(5):
    mc = np.mean([d[name] for d in draws])
    assert exact[name] == pytest.approx(mc, abs=0.01), name
  assert ranking.random_ndcg(groups, labels) == exact['ndcg@5']


def test_random_group_metrics_edge_cases():
  everything = ranking.random_group_metrics(4, 4, k=5)  # Every order is ideal.
  assert everything['ndcg@5'] == pytest.approx(1.0) and everything['mrr@5'] == 1.0
  assert ranking.random_group_metrics(3, 0) is None


def test_macro_prf_equals_sklearn():
  rng = np.random.default_rng(1)
  labels = rng.integers(0, 2, 300)
  for predictions in (rng.integers(0, 2, 300), np.zeros(300, int), labels):
    p, r, f, _ = sk.precision_recall_fscore_support(
        labels, predictions, average='macro', labels=[0, 1], zero_division=0)
    got = ranking.macro_prf(labels, predictions)
    assert got['precision'] == pytest.approx(p)
    assert got['recall'] == pytest.approx(r)
    assert got['f1'] == pytest.approx(f)


def _pair(c, j, ja, ca):
  return Pair(candidate_id=c, job_id=j, job_accepts=ja, candidate_accepts=ca, split='test')


def test_side_metrics_group_by_the_side_owner():
  pairs = [_pair('c1', 'j1', 1, 0), _pair('c1', 'j2', 0, 1), _pair('c2', 'j1', 0, 1)]
  scores = [0.9, 0.1, 0.5]
  cand = ranking.pjf_side_metrics(pairs, scores, 'candidate')
  # c1 ranks j1 (declined) above j2 (accepted): MRR 1/2; c2's only job is accepted: 1.
  assert cand['mrr@5'] == pytest.approx(0.75) and cand['num_groups'] == 2
  job = ranking.pjf_side_metrics(pairs, scores, 'job')
  # j1 ranks c1 (accepted) first; j2 has no accepted candidate and is excluded.
  assert job['mrr@5'] == 1.0 and job['num_groups_without_positive'] == 1
  with pytest.raises(ValueError, match='unknown side'):
    ranking.pjf_side_metrics(pairs, scores, 'both')


def _best_handshake_f1(job, cand, matches, *, allow_none=False):
  """Brute force: the best macro F1 over every pair of thresholds at a distinct score
  (each side accepts at least one), and above every score where `allow_none`."""
  extra = [np.inf] if allow_none else []
  return max(ranking.macro_prf(matches, ranking.handshake(job, cand, tj, tc))['f1']
             for tj in [*np.unique(job), *extra] for tc in [*np.unique(cand), *extra])


def test_handshake_thresholds_reach_the_brute_force_best_f1():
  # Up to 41 distinct scores a side, the quantile grid holds a threshold below each one;
  # it offers a side that accepts nobody only through 0.5 (scores all below it).
  for seed in range(60):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 20))
    job_labels, cand_labels = rng.integers(0, 2, n), rng.integers(0, 2, n)
    signal = rng.uniform(0, 1)
    job = np.round(signal * job_labels + rng.uniform(0, 1, n), 2)  # Rounded: ties too.
    cand = np.round(signal * cand_labels + rng.uniform(0, 1, n), 2)
    matches = job_labels * cand_labels
    tj, tc, f1 = ranking.select_handshake_thresholds(job, cand, matches)
    assert f1 >= _best_handshake_f1(job, cand, matches) - 1e-12, seed
    assert f1 <= _best_handshake_f1(job, cand, matches, allow_none=True) + 1e-12, seed
    assert ranking.macro_prf(matches, ranking.handshake(job, cand, tj, tc))['f1'] == f1


def test_handshake_thresholds_reach_the_best_grid_f1():
  rng = np.random.default_rng(2)
  job_labels, cand_labels = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
  job = np.clip(0.4 * job_labels + rng.uniform(0, 0.6, 200), 0, 1)
  cand = np.clip(0.4 * cand_labels + rng.uniform(0, 0.6, 200), 0, 1)
  matches = job_labels * cand_labels
  tj, tc, f1 = ranking.select_handshake_thresholds(job, cand, matches)
  assert ranking.macro_prf(matches, ranking.handshake(job, cand, tj, tc))['f1'] == f1
  assert f1 >= ranking.macro_prf(matches, ranking.handshake(job, cand, 0.5, 0.5))['f1']
  assert f1 > 0.7


def test_predictions_ranking_groups_by_position():
  rows = [
      {'candidate_id': 'a', 'position_id': 'p', 'label': '1', 'score': '0.2', 'split': 'test'},
      {'candidate_id': 'b', 'position_id': 'p', 'label': '0', 'score': '0.9', 'split': 'test'},
      {'candidate_id': 'c', 'position_id': 'q', 'label': '1', 'score': '0.3', 'split': 'test'},
      {'candidate_id': 'd', 'position_id': 'q', 'label': '0', 'score': '0.9',
       'split': 'validation'},
  ]
  got = ranking.predictions_ranking(rows, 'test')
  assert got['mrr@5'] == pytest.approx((1 / 2 + 1) / 2) and got['num_groups'] == 2
