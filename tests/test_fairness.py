"""hirenet_jax.core.fairness: figures equal hand computation and fairlearn, intervals
cover the truth at about their nominal rate, the four-fifths flag follows the ratio, and
counterfactual swaps are exact inverses."""

from __future__ import annotations

import numpy as np
import pytest

from hirenet_jax.core import counterfactual
from hirenet_jax.core import fairness


# Ten candidates, two groups. a: y 1 1 0 0 0, d 1 0 1 0 0, s .9 .4 .6 .2 .1
#                             b: y 1 1 1 0 0, d 1 1 1 1 0, s .8 .7 .9 .6 .3
Y = [1, 1, 0, 0, 0, 1, 1, 1, 0, 0]
D = [1, 0, 1, 0, 0, 1, 1, 1, 1, 0]
S = [.9, .4, .6, .2, .1, .8, .7, .9, .6, .3]
G = [{'g': 'a'}] * 5 + [{'g': 'b'}] * 5


def _value(result, group, metric, grouping='g'):
  return result['groupings'][grouping]['groups'][group][metric]['value']


def test_figures_equal_hand_computation():
  r = fairness.audit(Y, D, G, scores=S, num_bootstrap=50, bins=2)
  grouping = r['groupings']['g']
  assert grouping['groups']['a']['n'] == 5
  assert _value(r, 'a', 'base_rate') == pytest.approx(2 / 5)
  assert _value(r, 'a', 'selection_rate') == pytest.approx(2 / 5)
  assert _value(r, 'b', 'selection_rate') == pytest.approx(4 / 5)
  assert _value(r, 'a', 'tpr') == pytest.approx(1 / 2)
  assert _value(r, 'a', 'fpr') == pytest.approx(1 / 3)
  assert _value(r, 'b', 'tpr') == pytest.approx(1.0)
  assert _value(r, 'b', 'fpr') == pytest.approx(1 / 2)
  # AUC of a: positives .9 .4, negatives .6 .2 .1: .9 beats 3, .4 beats 2 -> 5/6.
  assert _value(r, 'a', 'roc_auc') == pytest.approx(5 / 6)
  assert _value(r, 'a', 'brier') == pytest.approx(
      (.1**2 + .6**2 + .6**2 + .2**2 + .1**2) / 5)
  # ECE with 2 bins: [0, .5): s .4 .2 .1 (y 1 0 0) gap |.7 - 1|; [.5, 1]: .9 .6 (1 0)
  # gap |1.5 - 1| -> (.3 + .5) / 5.
  assert _value(r, 'a', 'ece') == pytest.approx(0.8 / 5)
  assert grouping['reference'] == 'b'
  assert grouping['impact_ratio']['a']['value'] == pytest.approx(0.5)
  assert grouping['base_rate_ratio']['a']['value'] == pytest.approx((2 / 5) / (3 / 5))
  assert grouping['differences']['demographic_parity']['value'] == pytest.approx(0.4)
  assert grouping['differences']['equal_opportunity']['value'] == pytest.approx(0.5)
  assert grouping['differences']['equalized_odds']['value'] == pytest.approx(0.5)
  # Under 0.8, but 5 candidates a group leave the interval reaching parity: no flag.
  assert grouping['under_four_fifths'] == ['a']
  assert grouping['four_fifths'] == []
  assert grouping['impact_ratio']['a']['high'] >= 1
  assert grouping['small_groups'] == ['a', 'b']


@pytest.mark.parametrize('n, flagged', [(200, False), (2000, True)])
def test_four_fifths_flag_needs_the_interval_under_parity(n, flagged):
  # The same 0.75 selection-rate ratio: chance at 100 a group, adverse impact at 1000.
  groups = np.array(['f', 'm'] * (n // 2))
  rank = np.arange(n) // 2
  d = np.where(groups == 'f', rank % 10 < 3, rank % 20 < 8).astype(int)
  r = fairness.audit(d, d, [{'gender': g} for g in groups], num_bootstrap=400)
  result = r['groupings']['gender']
  ratio = result['impact_ratio']['f']
  assert 0.6 < ratio['value'] < 0.8 and result['under_four_fifths'] == ['f']
  assert result['four_fifths'] == (['f'] if flagged else [])
  assert (ratio['high'] < 1) == flagged
  line = fairness.four_fifths_line('gender', result)
  assert ('FLAG' in line) == flagged and ('may be chance' in line) != flagged


def test_groups_too_small_are_not_flagged():
  # 20 a group, selection rates 0.2 and 0.9: the interval excludes 1, the group is small.
  groups = np.array(['f'] * 20 + ['m'] * 20)
  d = np.array([1] * 4 + [0] * 16 + [1] * 18 + [0] * 2)
  r = fairness.audit(d, d, [{'gender': g} for g in groups], num_bootstrap=400)
  result = r['groupings']['gender']
  assert result['impact_ratio']['f']['high'] < 1 and result['small_groups'] == ['f', 'm']
  assert result['four_fifths'] == [] and result['under_four_fifths'] == ['f']
  assert 'fewer than 30 members' in fairness.four_fifths_line('gender', result)
  r = fairness.audit(d, d, [{'gender': g} for g in groups], num_bootstrap=400,
                     min_group_size=10)
  assert r['groupings']['gender']['four_fifths'] == ['f']


def test_numpy_figures_equal_fairlearn():
  from fairlearn import metrics as fm
  rng = np.random.default_rng(3)
  n = 500
  groups = rng.choice(['x', 'y', 'z'], n, p=[0.5, 0.3, 0.2])
  y = (rng.random(n) < 0.4).astype(int)
  s = np.clip(0.4 * y + 0.3 + 0.25 * rng.normal(size=n), 0, 1)
  d = (s > 0.5).astype(int)
  weights = np.ones((1, n))
  frame = fairness.metric_frame(y, d, groups, s).by_group
  for g in ('x', 'y', 'z'):
    ours = fairness._group_metrics(weights * (groups == g), y.astype(float),
                                   d.astype(float), s, 10)
    for metric in ('n', 'base_rate', 'selection_rate', 'tpr', 'fpr', 'roc_auc', 'brier'):
      assert ours[metric][0] == pytest.approx(frame.loc[g, metric]), (g, metric)
  r = fairness.audit(y, d, [{'k': g} for g in groups], scores=s, num_bootstrap=20)
  diffs = r['groupings']['k']['differences']
  assert diffs['demographic_parity']['value'] == pytest.approx(
      fm.demographic_parity_difference(y, d, sensitive_features=groups))
  assert diffs['equalized_odds']['value'] == pytest.approx(
      fm.equalized_odds_difference(y, d, sensitive_features=groups))
  assert diffs['equal_opportunity']['value'] == pytest.approx(
      fm.equal_opportunity_difference(y, d, sensitive_features=groups))
  ratio = fm.selection_rate_ratio(y, d, sensitive_features=groups)
  assert min(v['value'] for v in r['groupings']['k']['impact_ratio'].values()
             ) == pytest.approx(ratio)


def test_bootstrap_intervals_cover_the_true_ratio_at_about_the_nominal_rate():
  rng = np.random.default_rng(0)
  covered_ratio = covered_rate = 0
  trials = 150
  for trial in range(trials):
    groups = np.array(['f'] * 200 + ['m'] * 200)
    d = (rng.random(400) < np.where(groups == 'f', 0.3, 0.5)).astype(int)
    y = (rng.random(400) < 0.5).astype(int)
    r = fairness.audit(y, d, [{'gender': g} for g in groups], num_bootstrap=400,
                       seed=trial)['groupings']['gender']
    if r['reference'] != 'm':
      continue  # Not reached at these sizes; the ratio would be another one.
    ratio = r['impact_ratio']['f']
    covered_ratio += ratio['low'] <= 0.6 <= ratio['high']
    rate = r['groups']['f']['selection_rate']
    covered_rate += rate['low'] <= 0.3 <= rate['high']
  assert 0.88 <= covered_ratio / trials <= 0.99
  assert 0.88 <= covered_rate / trials <= 0.99


def test_equal_groups_give_no_flag_and_intervals_around_one():
  rng = np.random.default_rng(1)
  groups = rng.choice(['f', 'm'], 600)
  d = (rng.random(600) < 0.4).astype(int)
  r = fairness.audit(d, d, [{'gender': g} for g in groups], num_bootstrap=300)
  result = r['groupings']['gender']
  assert not result['four_fifths']
  other = 'f' if result['reference'] == 'm' else 'm'
  assert result['impact_ratio'][other]['low'] < 1 <= result['impact_ratio'][other]['high'] + 1e-9
  assert 'no flag' in fairness.four_fifths_line('gender', result)


def test_intersections_and_missing_attributes_are_groups():
  attrs = [{'g': 'a', 'h': 'x'}, {'g': 'a'}, {'g': 'b', 'h': 'y'}, {'g': 'b', 'h': 'x'}]
  labels = fairness.group_labels(attrs, ['g', 'h'])
  assert labels['g x h'] == ['a x x', 'a x (missing)', 'b x y', 'b x x']
  assert labels['h'][1] == '(missing)'


def test_paired_difference_interval_and_changed_share():
  rng = np.random.default_rng(2)
  before = rng.random(400)
  after = before - 0.05 + 0.02 * rng.normal(size=400)
  r = fairness.paired_difference(after, before, num_bootstrap=500)
  assert r['low'] < -0.05 < r['high'] and r['high'] < 0
  assert r['changed'] == 1.0
  same = fairness.paired_difference(before, before, num_bootstrap=100)
  assert same['value'] == same['low'] == same['high'] == 0 and same['changed'] == 0


@pytest.mark.parametrize('raw, reason', [
    ('f', 'must be an object'), ({'gender': 1}, 'non-empty string'),
    ({'gender': ''}, 'non-empty string'), ({'sex/gender': 'f'}, 'bad name')])
def test_bad_attributes_are_refused_with_a_reason(raw, reason):
  with pytest.raises(ValueError, match=reason):
    fairness.parse_attributes(raw)


def test_attributes_round_trip_through_columns():
  attrs = fairness.parse_attributes({'gender': 'f', 'age_band': '30-44'})
  row = {'candidate_id': 'c1', **fairness.attribute_columns(attrs, ['age_band', 'gender'])}
  assert fairness.row_attributes(row) == attrs


def test_gender_swaps_are_inverse_and_touch_only_markers():
  fr = "Je suis motivée et prête, avant j'étais caissière à Lyon"
  assert counterfactual.french_gender(fr) == (
      "Je suis motivé et prêt, avant j'étais caissier à Lyon")
  assert counterfactual.french_gender(counterfactual.french_gender(fr)) == fr
  assert counterfactual.french_gender('le magasin de Lyon') == 'le magasin de Lyon'
  en = 'Emma Walker\n\nShe led her team of five.'
  assert counterfactual.english_gender(en) == 'James Walker\n\nHe led his team of five.'
  assert counterfactual.english_gender(counterfactual.english_gender(en)) == en
  assert counterfactual.has_markers(en, 'en')
  assert not counterfactual.has_markers('Worked on SQL.', 'en')
