"""The paired tests of Table 2 (hirenet_jax/core/significance.py) against cases
enumerated by hand, and the per-group metrics they pair."""

from __future__ import annotations

import numpy as np
import pytest

from hirenet_jax.core import ranking
from hirenet_jax.core import significance


def test_sign_flip_p_value_of_four_groups_enumerated_by_hand():
  # Differences 1, 2, 3, -1: sum 5. Of the 16 sign assignments of (1, 2, 3, 1), the sums
  # reaching |5| are +1+2+3+1 = 7, +1+2+3-1 = 5, -1+2+3+1 = 5 and their three mirror
  # images: p = 6 / 16.
  a, b = [3.0, 2.0, 4.0, 0.0], [2.0, 0.0, 1.0, 1.0]
  result = significance.sign_flip_test(a, b)
  assert result == {'difference': 1.25, 'p_value': 6 / 16, 'num_groups': 4, 'exact': True}
  assert significance.sign_flip_test(b, a)['p_value'] == 6 / 16  # Two-sided.
  # All four differences of one sign: only the two extreme assignments reach it.
  assert significance.sign_flip_test([1, 1, 1, 1], [0, 0, 0, 0])['p_value'] == 2 / 16


def test_sign_flip_sampled_agrees_with_exact_and_never_reports_zero():
  rng = np.random.default_rng(0)
  a, b = rng.random(12), rng.random(12)
  exact = significance.sign_flip_test(a, b)['p_value']
  sampled = significance.sign_flip_test(a, b, exact_max_items=4, num_samples=40000)
  assert not sampled['exact'] and sampled['p_value'] == pytest.approx(exact, abs=0.01)
  far = significance.sign_flip_test(np.ones(200), np.zeros(200), num_samples=999)
  assert far['p_value'] == 1 / 1000  # (1 + 0 hits) / (1 + 999)
  assert significance.sign_flip_test([0.3, 0.5], [0.3, 0.5])['p_value'] == 1.0


def test_swap_test_of_accuracy_on_three_items_enumerated_by_hand():
  # Labels 1 0 1; system a right on all three, b wrong on the first two: accuracy
  # difference 2/3. Swapping item 0 or 1 flips its contribution (+-1/3), item 2 changes
  # nothing: of the 8 swaps, |difference| = 2/3 for the 4 where items 0 and 1 agree.
  def accuracy(labels, outputs):
    return float(np.mean(labels == outputs))

  result = significance.swap_test(accuracy, [1, 0, 1], [1, 0, 1], [0, 1, 1])
  assert result['difference'] == pytest.approx(2 / 3)
  assert result['p_value'] == 4 / 8 and result['exact']


def test_swap_test_of_macro_f1_is_one_for_identical_systems_and_small_for_distinct():
  rng = np.random.default_rng(1)
  labels = rng.integers(0, 2, 300)
  f1 = lambda y, p: ranking.macro_prf(y, p)['f1']
  same = significance.swap_test(f1, labels, labels, labels, num_samples=200)
  assert same['difference'] == 0.0 and same['p_value'] == 1.0
  noisy = np.where(rng.random(300) < 0.4, 1 - labels, labels)
  far = significance.swap_test(f1, labels, labels, noisy, num_samples=200)
  assert far['difference'] > 0.3 and far['p_value'] == 1 / 201


def test_bootstrap_interval_holds_the_mean_difference_and_shrinks_with_groups():
  rng = np.random.default_rng(2)
  d_small, d_large = rng.normal(0.1, 0.2, 20), rng.normal(0.1, 0.2, 2000)
  lo, hi = significance.bootstrap_interval(d_small, np.zeros(20))
  assert lo < d_small.mean() < hi
  lo2, hi2 = significance.bootstrap_interval(d_large, np.zeros(2000))
  assert lo2 < d_large.mean() < hi2 and hi2 - lo2 < (hi - lo) / 5
  assert significance.bootstrap_interval([1, 1], [0, 0]) == (1.0, 1.0)


def test_per_group_metrics_average_to_ranking_metrics():
  groups = ['a', 'a', 'a', 'b', 'b', 'c', 'c']
  scores = [0.9, 0.1, 0.5, 0.2, 0.8, 0.3, 0.4]
  labels = [0, 1, 1, 1, 0, 0, 0]
  per = ranking.per_group_metrics(groups, scores, labels)
  assert list(per) == ['a', 'b', 'c'] and per['c'] is None  # No positive in c.
  # Group a ranks 0.9 (neg), 0.5 (pos), 0.1 (pos): DCG = 1/log2(3) + 1/log2(4).
  assert per['a']['ndcg@5'] == pytest.approx((1 / np.log2(3) + 0.5) / (1 + 1 / np.log2(3)))
  mean = ranking.ranking_metrics(groups, scores, labels)
  assert mean['ndcg@5'] == pytest.approx((per['a']['ndcg@5'] + per['b']['ndcg@5']) / 2)
