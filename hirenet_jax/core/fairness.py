"""Bias audits shared by HireNet and MockLLM: per-group rates with bootstrap intervals,
impact ratios and the four-fifths rule (docs/fairness.md).

Candidates' group attributes (`{"gender": "f", "age_band": "35-44"}`) travel beside the
data, never in the features; `parse_attributes` is the one check both corpus readers
apply. `audit` reads one table, computed once (fairlearn's `MetricFrame` for the point
values), and gives every figure a percentile bootstrap interval: candidates are resampled
with replacement within the audit set, so a group's size varies as it would in another
draw of candidates. Pure functions of arrays; nothing here reads files.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from typing import Any, Mapping, Sequence

import numpy as np

ATTRIBUTE_PREFIX = 'attr_'  # Column name of an attribute in predictions.csv / decisions.csv.
INTERSECTION = ' x '  # Joins attribute names and values of an intersection.
MIN_GROUP_SIZE = 30  # Below this a group's figures get a warning (intervals are wide).
FOUR_FIFTHS = 0.8  # Uniform Guidelines, 29 CFR 1607.4(D).
CALIBRATION_BINS = 10
RATES = ('base_rate', 'selection_rate', 'tpr', 'fpr')
SCORE_METRICS = ('roc_auc', 'ece', 'brier')
_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


def parse_attributes(raw: Any) -> dict[str, str]:
  """A record's `attributes` object as {name: value}; raises ValueError saying why.

  Absent (None) is no attribute. Names become column names (`attr_<name>`), so they are
  letters, digits and underscores starting with a letter; values are non-empty strings.
  """
  if raw is None:
    return {}
  if not isinstance(raw, dict):
    raise ValueError(f'"attributes" must be an object of strings, got '
                     f'{type(raw).__name__}')
  out = {}
  for name, value in raw.items():
    if not _NAME.match(name):
      raise ValueError(f'"attributes": bad name {name!r} (letters, digits and '
                       'underscores, starting with a letter)')
    if not isinstance(value, str) or not value.strip():
      raise ValueError(f'"attributes": {name!r} must be a non-empty string, got '
                       f'{value!r}')
    out[name] = value
  return out


def attribute_columns(attributes: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
  """{attr_<name>: value} for each of `names` ('' where a record lacks it)."""
  return {ATTRIBUTE_PREFIX + n: attributes.get(n, '') for n in names}


def attribute_names(records: Sequence[Mapping[str, str]]) -> list[str]:
  """Sorted names of the attributes any of `records` carries."""
  return sorted({n for r in records for n in r})


def row_attributes(row: Mapping[str, Any]) -> dict[str, str]:
  """The attributes of a CSV row written with `attribute_columns` (empty values left out)."""
  return {k[len(ATTRIBUTE_PREFIX):]: v for k, v in row.items()
          if k.startswith(ATTRIBUTE_PREFIX) and v}


# ------------------------------------------------------------------------- weighted metrics
# Every metric is computed from per-candidate weights W_BxN (how often a bootstrap
# resample drew each candidate; one row of ones is the sample itself), so the point value
# and every resample share one code path.

def _ratio(num, den):
  with np.errstate(divide='ignore', invalid='ignore'):
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _weighted_auc(w_BxN, y_N, s_N) -> np.ndarray:
  """<float>[B] ROC AUC with each candidate weighted; ties count 1/2 (Mann-Whitney)."""
  order = np.argsort(s_N, kind='mergesort')
  s_sorted = s_N[order]
  starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
  pos_BxN = (w_BxN * y_N)[:, order]
  neg_BxN = (w_BxN * (1 - y_N))[:, order]
  pos_BxU = np.add.reduceat(pos_BxN, starts, axis=1)
  neg_BxU = np.add.reduceat(neg_BxN, starts, axis=1)
  below_BxU = np.cumsum(neg_BxU, axis=1) - neg_BxU
  num_B = (pos_BxU * (below_BxU + 0.5 * neg_BxU)).sum(1)
  return _ratio(num_B, pos_BxU.sum(1) * neg_BxU.sum(1))


def _group_metrics(w_BxN, y_N, d_N, s_N, bins: int) -> dict[str, np.ndarray]:
  """{metric: <float>[B]} of one group's candidates (`w_BxN` zero outside it)."""
  n = w_BxN.sum(1)
  pos = w_BxN @ y_N
  out = {'n': n, 'base_rate': _ratio(pos, n), 'selection_rate': _ratio(w_BxN @ d_N, n),
         'tpr': _ratio(w_BxN @ (y_N * d_N), pos),
         'fpr': _ratio(w_BxN @ ((1 - y_N) * d_N), n - pos)}
  if s_N is not None:
    out['roc_auc'] = _weighted_auc(w_BxN, y_N, s_N)
    out['brier'] = _ratio(w_BxN @ (s_N - y_N)**2, n)
    edges = np.clip((s_N * bins).astype(np.int64), 0, bins - 1)
    onehot_NxK = np.eye(bins)[edges]
    gap_BxK = (w_BxN * s_N) @ onehot_NxK - (w_BxN * y_N) @ onehot_NxK
    out['ece'] = _ratio(np.abs(gap_BxK).sum(1), n)
  return out


def bootstrap_weights(n: int, num_bootstrap: int, seed: int) -> np.ndarray:
  """<float>[1 + num_bootstrap, n]: row 0 all ones (the sample), then resample counts."""
  rng = np.random.default_rng(seed)
  w = np.zeros((num_bootstrap + 1, n))
  w[0] = 1.0
  if num_bootstrap and n:
    idx_BxN = rng.integers(0, n, size=(num_bootstrap, n))
    np.add.at(w, (np.arange(1, num_bootstrap + 1)[:, None], idx_BxN), 1.0)
  return w


def _interval(values_B: np.ndarray, confidence: float) -> dict[str, float]:
  """{'value': point, 'low', 'high'}: row 0 is the point, the rest the resamples."""
  point, rest = float(values_B[0]), values_B[1:]
  rest = rest[np.isfinite(rest)]
  if not math.isfinite(point) or rest.size == 0:
    return {'value': point, 'low': float('nan'), 'high': float('nan')}
  alpha = (1 - confidence) / 2
  low, high = np.quantile(rest, [alpha, 1 - alpha])
  return {'value': point, 'low': float(low), 'high': float(high)}


def group_labels(attributes: Sequence[Mapping[str, str]], names: Sequence[str]
                 ) -> dict[str, list[str]]:
  """{grouping: label per candidate}: each attribute, then each intersection of two or
  more ('gender x age_band': 'f x 35-44'); a candidate lacking one is '(missing)'."""
  out = {}
  for k in range(1, len(names) + 1):
    for combo in itertools.combinations(names, k):
      out[INTERSECTION.join(combo)] = [
          INTERSECTION.join(a.get(n) or '(missing)' for n in combo) for a in attributes]
  return out


def metric_frame(y_true, y_pred, groups, scores=None):
  """fairlearn's MetricFrame of the point figures (n, rates, AUC, Brier) by group."""
  from fairlearn import metrics as fm  # pylint: disable=g-import-not-at-top
  from sklearn import metrics as sk  # pylint: disable=g-import-not-at-top

  def base_rate(y_true, y_pred):
    del y_pred
    return float(np.mean(y_true))

  metrics = {'n': fm.count, 'base_rate': base_rate, 'selection_rate': fm.selection_rate,
             'tpr': fm.true_positive_rate, 'fpr': fm.false_positive_rate}
  y_pred_for = np.asarray(y_pred)
  params = {}
  if scores is not None:
    def auc(y_true, y_pred, scores):
      del y_pred
      return (float(sk.roc_auc_score(y_true, scores)) if 0 < np.sum(y_true) < len(y_true)
              else float('nan'))

    def brier(y_true, y_pred, scores):
      del y_pred
      return float(sk.brier_score_loss(y_true, scores)) if len(y_true) else float('nan')

    metrics.update(roc_auc=auc, brier=brier)
    params = {'roc_auc': {'scores': np.asarray(scores)},
              'brier': {'scores': np.asarray(scores)}}
  return fm.MetricFrame(metrics=metrics, y_true=np.asarray(y_true), y_pred=y_pred_for,
                        sensitive_features=np.asarray(groups), sample_params=params)


def audit(y_true, y_pred, attributes: Sequence[Mapping[str, str]], *, scores=None,
          names: Sequence[str] | None = None, num_bootstrap: int = 1000, seed: int = 0,
          confidence: float = 0.95, bins: int = CALIBRATION_BINS,
          min_group_size: int = MIN_GROUP_SIZE, clusters=None) -> dict[str, Any]:
  """Per group and per intersection: n, base rate, selection rate, TPR/FPR, (with
  `scores`, probabilities) ROC AUC, binned ECE and Brier, each with a bootstrap interval.

  Args:
    y_true: 0/1 outcomes (the data's decisions); y_pred: 0/1 selections.
    attributes: one {name: value} per candidate.
    names: attributes to audit (default: every one present), intersections included.
    clusters: one id per row when a candidate has several rows (MockLLM's pairs): the
      bootstrap then resamples candidates with all their rows.

  Returns a JSON-ready dict: per grouping `groups` ({value: {metric: {value, low,
  high}}}), `reference` (the most selected group), `impact_ratio` (selection rate over
  the reference's), `base_rate_ratio` (the same on y_true against `base_reference`,
  the group with the highest base rate: the data's own impact ratio),
  `differences` (demographic parity, equal opportunity = TPR gap, equalized odds =
  larger of the TPR and FPR gaps; max minus min over groups), `four_fifths` (the flag:
  groups of at least min_group_size whose impact ratio is under 0.8 and whose interval
  excludes parity, see `adverse_impact`), `under_four_fifths` (under 0.8 on the point
  estimate alone) and `small_groups` (n < min_group_size).
  """
  y_N = np.asarray(y_true, np.float64).reshape(-1)
  d_N = np.asarray(y_pred, np.float64).reshape(-1)
  s_N = None if scores is None else np.asarray(scores, np.float64).reshape(-1)
  if not (len(y_N) == len(d_N) == len(attributes)) or (s_N is not None
                                                        and len(s_N) != len(y_N)):
    raise ValueError('y_true, y_pred, scores and attributes differ in length')
  if not (np.isin(y_N, (0, 1)).all() and np.isin(d_N, (0, 1)).all()):
    raise ValueError('y_true and y_pred must be 0 or 1')
  names = list(names) if names else attribute_names(attributes)
  if clusters is None:
    w_BxN = bootstrap_weights(len(y_N), num_bootstrap, seed)
  else:
    ids, cluster_N = np.unique(np.asarray(clusters), return_inverse=True)
    w_BxN = bootstrap_weights(len(ids), num_bootstrap, seed)[:, cluster_N]
  out = {'num_candidates': int(len(y_N)), 'num_bootstrap': num_bootstrap, 'seed': seed,
         'confidence': confidence, 'min_group_size': min_group_size, 'groupings': {}}
  for grouping, labels in group_labels(attributes, names).items():
    labels = np.asarray(labels)
    values = sorted(set(labels.tolist()))
    per = {v: _group_metrics(w_BxN * (labels == v), y_N, d_N, s_N, bins) for v in values}
    reference = max(values, key=lambda v: (per[v]['selection_rate'][0], per[v]['n'][0]))
    frame = metric_frame(y_N.astype(int), d_N.astype(int), labels, s_N).by_group
    groups = {}
    for v in values:
      groups[v] = {'n': int(per[v]['n'][0])}
      for metric, arr in per[v].items():
        if metric != 'n':
          groups[v][metric] = _interval(arr, confidence)
      for metric in frame.columns:  # The point values, as fairlearn computes them.
        value = float(frame.loc[v, metric])
        if metric != 'n' and math.isfinite(value):
          groups[v][metric]['value'] = value
    base_reference = max(values, key=lambda v: (per[v]['base_rate'][0], per[v]['n'][0]))
    ratios = {name: {v: _interval(_ratio(per[v][rate], per[ref][rate]), confidence)
                     for v in values}
              for name, rate, ref in (('impact_ratio', 'selection_rate', reference),
                                      ('base_rate_ratio', 'base_rate', base_reference))}
    differences = {}
    for name, rates in (('demographic_parity', ('selection_rate',)),
                        ('equal_opportunity', ('tpr',)), ('equalized_odds', ('tpr', 'fpr'))):
      gaps = []
      for rate in rates:
        table = np.stack([per[v][rate] for v in values])
        with warnings.catch_warnings():  # A rate no group defines (no positive) is NaN.
          warnings.simplefilter('ignore', RuntimeWarning)
          gaps.append(np.nanmax(table, 0) - np.nanmin(table, 0) if len(values) > 1
                      else np.zeros(table.shape[1]))
      differences[name] = _interval(np.max(np.stack(gaps), 0), confidence)
    under = [v for v in values if ratios['impact_ratio'][v]['value'] < FOUR_FIFTHS]
    out['groupings'][grouping] = {
        'groups': groups, 'reference': reference, 'base_reference': base_reference,
        **ratios, 'differences': differences,
        'four_fifths': [v for v in under if adverse_impact(ratios['impact_ratio'][v])
                        and groups[v]['n'] >= min_group_size],
        'under_four_fifths': under,
        'small_groups': [v for v in values if groups[v]['n'] < min_group_size],
        'min_group_size': min_group_size}
  return out


def adverse_impact(ratio: Mapping[str, float]) -> bool:
  """The four-fifths flag for one impact ratio ({value, low, high}): under 0.8, and its
  interval under parity, so the gap is both practically and statistically significant.

  The Uniform Guidelines' 80% line alone flags chance gaps of small groups (with 100
  candidates a group, an interval spans about +-0.3) and the Guidelines themselves weigh
  it against statistical significance (29 CFR 1607.4(D)); requiring both is the usual
  two-part reading of adverse impact. `audit` flags no group under min_group_size: the
  percentile bootstrap of a handful of candidates, against the most selected of several
  such groups, excludes parity by chance too often (the intersections of an unbiased
  120-candidate test split do).
  """
  return ratio['value'] < FOUR_FIFTHS and ratio['high'] < 1.0


def four_fifths_line(grouping: str, result: Mapping[str, Any]) -> str:
  """The sentence under a grouping's table: which groups fall under four fifths of the
  most selected group's rate, with their intervals, and which of those are flagged."""
  ratios = result['impact_ratio']
  fmt = lambda v: (f'{v} {ratios[v]["value"]:.2f} '
                   f'[{ratios[v]["low"]:.2f}, {ratios[v]["high"]:.2f}]')
  under = result.get('under_four_fifths', result['four_fifths'])
  small = set(result.get('small_groups', ()))
  chance = [v for v in under if v not in result['four_fifths']]
  why = lambda v: (f'fewer than {result.get("min_group_size", MIN_GROUP_SIZE)} members'
                   if v in small else 'interval reaching 1')
  chance_text = ('under 0.8 on the point estimate only, which may be chance: '
                 + '; '.join(f'{fmt(v)} ({why(v)})' for v in chance))
  if not result['four_fifths']:
    low = min(r['value'] for r in ratios.values())
    return (f'Four-fifths rule ({grouping}): no flag; '
            + (chance_text if chance else f'the lowest impact ratio is {low:.2f}')
            + f' (reference: {result["reference"]}).')
  certain = [v for v in result['four_fifths'] if ratios[v]['high'] < FOUR_FIFTHS]
  return (f'Four-fifths rule ({grouping}): FLAG for '
          f'{"; ".join(map(fmt, result["four_fifths"]))} (reference: '
          f'{result["reference"]}): impact ratio under 0.8 and its interval under 1'
          + (f'; the whole interval is under 0.8 for {", ".join(certain)}' if certain
             else '')
          + (f'; {chance_text}' if chance else '') + '.')


def paired_difference(after, before, *, num_bootstrap: int = 2000, seed: int = 0,
                      confidence: float = 0.95) -> dict[str, float]:
  """Mean of `after - before` over pairs with a bootstrap interval (pairs resampled), and
  the share of pairs whose score moved at all (a counterfactual probe's figure)."""
  diff_N = np.asarray(after, np.float64) - np.asarray(before, np.float64)
  w = bootstrap_weights(len(diff_N), num_bootstrap, seed)
  means = _ratio(w @ diff_N, w.sum(1))
  return {**_interval(means, confidence), 'n': int(len(diff_N)),
          'changed': float(np.mean(np.abs(diff_N) > 1e-9)) if len(diff_N) else float('nan')}
