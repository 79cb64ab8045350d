"""Per-group ranking metrics (NDCG@k, Recall@k, Precision@k, MRR@k) and macro P/R/F1.

Shared by the person-job-fit baselines (MockLLM paper, Table 2: each candidate's jobs and
each job's candidates ranked by score) and HireNet's reports (a position's candidates).

Conventions (those of RecBole, which the paper's metrics follow):
  - Items of a group are ranked by descending score; ties are broken by input order (the
    earlier item ranks first), so a ranking never depends on the sort algorithm.
  - Gains are binary (the label); DCG@k = sum_{i<=k} label_i / log2(i + 1), NDCG@k =
    DCG@k / the ideal DCG@k of the group's labels.
  - Recall@k = positives in the top k / positives of the group; Precision@k = positives in
    the top k / k (also when the group has fewer than k items); MRR@k = 1 / rank of the
    first positive when it is in the top k, else 0.
  - A group without a positive has no defined NDCG, recall or MRR: it is excluded from
    every mean and counted in `num_groups_without_positive`.
Each metric is the mean over the groups with at least one positive.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

K = 5  # The paper's cut-off.
SIDES = ('candidate', 'job')

_METRIC_NAMES = ('ndcg', 'recall', 'precision', 'mrr')


def metric_names(k: int = K) -> tuple[str, ...]:
  """Keys of the ranking metrics in the returned dicts, e.g. 'ndcg@5'."""
  return tuple(f'{m}@{k}' for m in _METRIC_NAMES)


def _discounts(n: int) -> np.ndarray:
  """1 / log2(rank + 1) for ranks 1..n."""
  return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def _groups(group_ids: Sequence[Any]) -> dict[Any, np.ndarray]:
  """Indices of each group's items in input order, groups in order of first appearance."""
  out: dict[Any, list[int]] = {}
  for i, g in enumerate(group_ids):
    out.setdefault(g, []).append(i)
  return {g: np.asarray(v, np.int64) for g, v in out.items()}


def _check(group_ids, scores, labels) -> tuple[list, np.ndarray, np.ndarray]:
  group_ids = list(group_ids)
  scores_N = np.asarray(scores, np.float64).reshape(-1)
  labels_N = np.asarray(labels).reshape(-1)
  if not len(group_ids) == scores_N.size == labels_N.size:
    raise ValueError(f'{len(group_ids)} group ids, {scores_N.size} scores and '
                     f'{labels_N.size} labels: expected one of each per item')
  if not np.isin(labels_N, (0, 1)).all():
    raise ValueError('labels must be 0 or 1')
  if not np.isfinite(scores_N).all():
    raise ValueError('scores must be finite')
  return group_ids, scores_N, labels_N.astype(np.int64)


def rank_order(scores: Sequence[float]) -> np.ndarray:
  """Indices by descending score, ties in input order (a stable sort of -score)."""
  return np.argsort(-np.asarray(scores, np.float64), kind='stable')


def group_metrics(scores: Sequence[float], labels: Sequence[int], k: int = K
                  ) -> dict[str, float] | None:
  """NDCG@k, Recall@k, Precision@k and MRR@k of one group; None without a positive."""
  labels_N = np.asarray(labels, np.int64)
  num_pos = int(labels_N.sum())
  if num_pos == 0:
    return None
  ranked = labels_N[rank_order(scores)][:k]
  hits = int(ranked.sum())
  dcg = float((ranked * _discounts(ranked.size)).sum())
  idcg = float(_discounts(min(k, num_pos)).sum())
  first = np.flatnonzero(ranked)
  return {
      f'ndcg@{k}': dcg / idcg,
      f'recall@{k}': hits / num_pos,
      f'precision@{k}': hits / k,
      f'mrr@{k}': 1.0 / (first[0] + 1) if first.size else 0.0,
  }


def ranking_metrics(group_ids: Sequence[Any], scores: Sequence[float],
                    labels: Sequence[int], k: int = K) -> dict[str, float]:
  """Mean per-group NDCG@k, Recall@k, Precision@k, MRR@k (see the module docstring).

  Returns the four means (NaN when no group has a positive), `num_groups` (groups
  averaged over) and `num_groups_without_positive` (groups excluded).
  """
  group_ids, scores_N, labels_N = _check(group_ids, scores, labels)
  return _mean_over_groups(
      [group_metrics(scores_N[idx], labels_N[idx], k)
       for idx in _groups(group_ids).values()], k)


def per_group_metrics(group_ids: Sequence[Any], scores: Sequence[float],
                      labels: Sequence[int], k: int = K) -> dict[Any, dict[str, float] | None]:
  """Each group's metrics (`group_metrics`; None without a positive), groups in order of
  first appearance: what a paired test over groups compares."""
  group_ids, scores_N, labels_N = _check(group_ids, scores, labels)
  return {g: group_metrics(scores_N[idx], labels_N[idx], k)
          for g, idx in _groups(group_ids).items()}


def _mean_over_groups(per_group: Sequence[dict[str, float] | None], k: int
                      ) -> dict[str, float]:
  """Means over the groups with a positive (None marks one without), and both counts."""
  kept = [m for m in per_group if m is not None]
  out = {name: (float(np.mean([m[name] for m in kept])) if kept else math.nan)
         for name in metric_names(k)}
  out['num_groups'] = len(kept)
  out['num_groups_without_positive'] = len(per_group) - len(kept)
  return out


def random_group_metrics(num_items: int, num_positive: int, k: int = K
                         ) -> dict[str, float] | None:
  """Exact expectations of the four metrics for one group under a uniformly random
  ranking; None without a positive.

  Position i holds a positive with probability m / n, so E[DCG@k] = (m / n) *
  sum_{i<=min(k,n)} 1 / log2(i + 1), and the ideal DCG does not depend on the order.
  The first positive is at rank i with probability C(n - i, m - 1) / C(n, m).
  """
  n, m = int(num_items), int(num_positive)
  if m == 0:
    return None
  if not 0 < m <= n:
    raise ValueError(f'{m} positives among {n} items')
  top = min(k, n)
  hits = top * m / n
  mrr = sum(math.comb(n - i, m - 1) / math.comb(n, m) / i for i in range(1, top + 1))
  return {
      f'ndcg@{k}': (m / n) * float(_discounts(top).sum()) / float(_discounts(min(k, m)).sum()),
      f'recall@{k}': hits / m,
      f'precision@{k}': hits / k,
      f'mrr@{k}': mrr,
  }


def random_ranking_metrics(group_ids: Sequence[Any], labels: Sequence[int],
                           k: int = K) -> dict[str, float]:
  """Exact expected metrics of a random ranking, averaged like `ranking_metrics`."""
  group_ids, _, labels_N = _check(group_ids, np.zeros(len(list(group_ids))), labels)
  return _mean_over_groups(
      [random_group_metrics(idx.size, int(labels_N[idx].sum()), k)
       for idx in _groups(group_ids).values()], k)


def random_ndcg(group_ids: Sequence[Any], labels: Sequence[int], k: int = K) -> float:
  """Exact expected NDCG@k of a uniformly random ranking within each group."""
  return random_ranking_metrics(group_ids, labels, k)[f'ndcg@{k}']


# ------------------------------------------------------------------ person-job fit

def side_groups_and_labels(pairs: Iterable[Any], side: str) -> tuple[list[str], np.ndarray]:
  """(group id, label) per pair for one side of the match.

  'candidate': each candidate ranks its jobs, the label is `candidate_accepts`;
  'job': each job ranks its candidates, the label is `job_accepts`.
  """
  pairs = list(pairs)
  if side == 'candidate':
    return [p.candidate_id for p in pairs], np.asarray(
        [p.candidate_accepts for p in pairs], np.int64)
  if side == 'job':
    return [p.job_id for p in pairs], np.asarray([p.job_accepts for p in pairs], np.int64)
  raise ValueError(f'unknown side {side!r}; expected one of {SIDES}')


def pjf_side_metrics(pairs: Sequence[Any], scores: Sequence[float], side: str,
                     k: int = K) -> dict[str, float]:
  """Ranking metrics of one side of a person-job-fit split (`side_groups_and_labels`)."""
  groups, labels = side_groups_and_labels(pairs, side)
  return ranking_metrics(groups, scores, labels, k)


def pjf_random_metrics(pairs: Sequence[Any], side: str, k: int = K) -> dict[str, float]:
  """Exact expected metrics of a random ranking on one side of a split."""
  groups, labels = side_groups_and_labels(pairs, side)
  return random_ranking_metrics(groups, labels, k)


def macro_prf(labels: Sequence[int], predictions: Sequence[int]) -> dict[str, float]:
  """Macro precision, recall and F1 over the classes {0, 1} of a binary decision.

  As scikit-learn's `precision_recall_fscore_support(average='macro', labels=[0, 1])`:
  each class's precision (recall) is 0 when it is never predicted (never labelled),
  and the macro F1 is the mean of the per-class F1s.
  """
  y = np.asarray(labels, np.int64).reshape(-1)
  p = np.asarray(predictions, np.int64).reshape(-1)
  if y.shape != p.shape:
    raise ValueError(f'{y.size} labels but {p.size} predictions')
  precisions, recalls, f1s = [], [], []
  for c in (0, 1):
    tp = int(((p == c) & (y == c)).sum())
    predicted, actual = int((p == c).sum()), int((y == c).sum())
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    precisions.append(precision)
    recalls.append(recall)
    f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
  return {'precision': float(np.mean(precisions)), 'recall': float(np.mean(recalls)),
          'f1': float(np.mean(f1s))}


def handshake(job_scores: Sequence[float], candidate_scores: Sequence[float],
              job_threshold: float, candidate_threshold: float) -> np.ndarray:
  """The two-sided decision (paper eq. 11): a match iff both sides' scores pass."""
  return ((np.asarray(job_scores) >= job_threshold)
          & (np.asarray(candidate_scores) >= candidate_threshold)).astype(np.int64)


def _threshold_grid(scores: np.ndarray, num_quantiles: int) -> np.ndarray:
  if not scores.size:
    return np.asarray([0.5])
  distinct = np.unique(scores)
  below = np.concatenate([[distinct[0] - 1e-6], (distinct[:-1] + distinct[1:]) / 2])
  q = np.quantile(scores, np.linspace(0.0, 1.0, num_quantiles), method='lower')
  return np.unique(np.concatenate([below[np.searchsorted(distinct, q)], [0.5]]))


def select_handshake_thresholds(job_scores: Sequence[float],
                                candidate_scores: Sequence[float],
                                matches: Sequence[int], num_quantiles: int = 41
                                ) -> tuple[float, float, float]:
  """(job threshold, candidate threshold, macro F1) maximising the handshake's macro F1.

  Candidates sit just below the scores' quantiles on a grid (midway to the next lower
  distinct score, so no threshold sits on a validation score), and 0.5 on both sides;
  ties in F1 go to the pair closest to (0.5, 0.5), so the choice is deterministic.
  """
  job = np.asarray(job_scores, np.float64)
  cand = np.asarray(candidate_scores, np.float64)
  job_grid = _threshold_grid(job, num_quantiles)
  cand_grid = _threshold_grid(cand, num_quantiles)
  best = (-1.0, math.inf, 0.5, 0.5)
  for tj in job_grid:
    for tc in cand_grid:
      f1 = macro_prf(matches, handshake(job, cand, tj, tc))['f1']
      distance = abs(tj - 0.5) + abs(tc - 0.5)
      if f1 > best[0] + 1e-12 or (abs(f1 - best[0]) <= 1e-12 and distance < best[1]):
        best = (f1, distance, float(tj), float(tc))
  return best[2], best[3], best[0]


# ------------------------------------------------------------------ HireNet reports

def read_predictions(path: str) -> list[dict[str, str]]:
  """The rows of a predictions.csv (candidate_id, position_id, label, score, split)."""
  import csv  # pylint: disable=g-import-not-at-top
  with open(path, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  missing = {'position_id', 'label', 'score', 'split'} - set(rows[0] if rows else {})
  if rows and missing:
    raise ValueError(f'{path}: no column {", ".join(sorted(missing))}')
  return rows


def predictions_ranking(rows: Iterable[Mapping[str, Any]], split: str = 'test',
                        k: int = K) -> dict[str, float]:
  """NDCG@k / MRR@k (and the others) of each position's candidates ranked by score.

  `rows` are predictions.csv rows (candidate_id, position_id, label, score, split) as
  the HireNet training writes them; only `split`'s rows are ranked.
  """
  rows = [r for r in rows if r['split'] == split]
  return ranking_metrics([r['position_id'] for r in rows],
                         [float(r['score']) for r in rows],
                         [int(r['label']) for r in rows], k)
