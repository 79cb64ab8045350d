"""Evaluation metrics shared by HireNet and the baselines (paper: Experimental settings).

The paper reports precision, recall and F1 of the hirable class (label 1); we add
accuracy and ROC AUC. A candidate is predicted hirable iff `score >= threshold`.
Model selection (`select_epoch`) ranks epochs on a validation metric, threshold-free by
default, and never prefers an epoch whose scores are constant; the decision threshold is
then the one maximising validation F1 (`select_threshold`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.5
# Scores whose standard deviation is below this are a constant predictor: a sigmoid
# collapsed to the bias, whatever ranking its float noise may carry.
CONSTANT_SCORE_STD = 1e-4
# Selection metric -> (history key of its validation value, +1 higher is better / -1).
SELECTION_METRICS = {
    'roc_auc': ('validation_roc_auc', 1.0),
    'log_loss': ('validation_loss', -1.0),
    'f1': ('validation_f1', 1.0),
}


def _as_arrays(labels, scores) -> tuple[np.ndarray, np.ndarray]:
  labels_N = np.asarray(labels).reshape(-1).astype(np.int64)
  scores_N = np.asarray(scores, dtype=np.float64).reshape(-1)
  if labels_N.shape != scores_N.shape:
    raise ValueError(f'{labels_N.shape[0]} labels but {scores_N.shape[0]} scores')
  if not np.isin(labels_N, (0, 1)).all():
    raise ValueError('labels must be 0 or 1')
  return labels_N, scores_N


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
  """Area under the ROC curve (Mann-Whitney U, ties count 1/2); NaN with one class."""
  labels_N, scores_N = _as_arrays(labels, scores)
  num_pos = int(labels_N.sum())
  num_neg = labels_N.size - num_pos
  if num_pos == 0 or num_neg == 0:
    return float('nan')
  # Average ranks (1-based) with ties sharing their mean rank.
  order = np.argsort(scores_N, kind='mergesort')
  sorted_scores = scores_N[order]
  ranks = np.empty(labels_N.size, np.float64)
  _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
  mean_ranks = first + (counts + 1) / 2.0
  ranks[order] = np.repeat(mean_ranks, counts)
  u = ranks[labels_N == 1].sum() - num_pos * (num_pos + 1) / 2.0
  return float(u / (num_pos * num_neg))


def classification_metrics(
    labels: Sequence[int], scores: Sequence[float], threshold: float = DEFAULT_THRESHOLD
) -> dict[str, float]:
  """Precision, recall and F1 of the hirable class, accuracy and ROC AUC.

  Args:
    labels: 0/1 per candidate (1 = hirable).
    scores: hirability score per candidate (a probability for the neural models).
    threshold: predict hirable iff `score >= threshold`.

  Returns:
    A dict with precision, recall, f1, accuracy, roc_auc (NaN with one class),
    threshold, num_examples and num_positive. Precision (recall) is 0 when nothing is
    predicted (labelled) hirable, F1 is 0 when precision + recall is 0.
  """
  labels_N, scores_N = _as_arrays(labels, scores)
  predicted_N = scores_N >= threshold
  positive_N = labels_N == 1
  tp = int((predicted_N & positive_N).sum())
  fp = int((predicted_N & ~positive_N).sum())
  fn = int((~predicted_N & positive_N).sum())
  precision = tp / (tp + fp) if tp + fp else 0.0
  recall = tp / (tp + fn) if tp + fn else 0.0
  f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  n = labels_N.size
  return {
      'precision': float(precision),
      'recall': float(recall),
      'f1': float(f1),
      'accuracy': float((predicted_N == positive_N).sum() / n) if n else float('nan'),
      'roc_auc': roc_auc(labels_N, scores_N) if n else float('nan'),
      'threshold': float(threshold),
      'num_examples': int(n),
      'num_positive': int(positive_N.sum()),
  }


def select_threshold(labels: Sequence[int], scores: Sequence[float], *,
                     allow_constant: bool = True) -> tuple[float, float]:
  """The threshold maximising F1 of the hirable class; returns (threshold, f1).

  Candidates are the midpoints between consecutive distinct scores (and one below the
  lowest, predicting everyone hirable, and one above the highest), so the threshold does
  not sit on a validation score. Ties in F1 go to the threshold closest to
  DEFAULT_THRESHOLD. With `allow_constant=False` the two outer candidates, which predict
  a single class, are left out whenever the scores take two values or more: the
  all-hirable vote often has the best F1 of a weak model, and is no classifier.
  """
  labels_N, scores_N = _as_arrays(labels, scores)
  if labels_N.size == 0:
    return DEFAULT_THRESHOLD, 0.0
  distinct = np.unique(scores_N)
  if allow_constant or distinct.size < 2:
    candidates = np.concatenate([[distinct[0] - 1e-6], (distinct[:-1] + distinct[1:]) / 2,
                                 [distinct[-1] + 1e-6]])
  else:
    candidates = (distinct[:-1] + distinct[1:]) / 2
  # Vectorised confusion counts: predicted positive iff score >= candidate.
  order = np.argsort(-scores_N, kind='mergesort')
  sorted_scores, sorted_pos = scores_N[order], labels_N[order]
  num_predicted = np.searchsorted(-sorted_scores, -candidates, side='right')
  tp_cum = np.concatenate([[0], np.cumsum(sorted_pos)])
  tp = tp_cum[num_predicted]
  fp = num_predicted - tp
  fn = labels_N.sum() - tp
  denom = 2 * tp + fp + fn
  f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
  best = np.flatnonzero(np.isclose(f1, f1.max(), rtol=0, atol=1e-12))
  pick = best[np.argmin(np.abs(candidates[best] - DEFAULT_THRESHOLD))]
  return float(candidates[pick]), float(f1[pick])


def is_constant(scores: Sequence[float], threshold: float | None = None) -> bool:
  """True for scores with std below CONSTANT_SCORE_STD or, given a threshold, scores
  that put every candidate in one class."""
  scores_N = np.asarray(scores, np.float64).reshape(-1)
  if scores_N.size == 0:
    return False
  if float(np.std(scores_N)) < CONSTANT_SCORE_STD:
    return True
  if threshold is None:
    return False
  predicted_N = scores_N >= threshold
  return bool(predicted_N.all() or not predicted_N.any())


def constant_warning(split: str, scores: Sequence[float], threshold: float) -> str | None:
  """A sentence for the user when `scores` of `split` are a (near-)constant predictor."""
  scores_N = np.asarray(scores, np.float64).reshape(-1)
  if not is_constant(scores_N, threshold):
    return None
  std = float(np.std(scores_N))
  hirable = int((scores_N >= threshold).sum())
  if hirable in (0, scores_N.size):
    what = 'hirable' if hirable else 'not hirable'
    return (f'the selected model predicts every {split} candidate {what} (threshold '
            f'{threshold:.3f}, score std {std:.2g}): a constant classifier, whatever its F1')
  return (f'the selected model\'s {split} scores are near-constant (std {std:.2g} < '
          f'{CONSTANT_SCORE_STD:g}): its ranking is noise')


def check_selection_metric(name: str) -> None:
  if name not in SELECTION_METRICS:
    raise ValueError(f'unknown selection metric {name!r}; expected one of '
                     f'{", ".join(SELECTION_METRICS)}')


def selection_key(entry: Mapping[str, Any], metric: str) -> tuple[bool, float]:
  """How an epoch's history entry ranks (larger is better): any epoch with non-constant
  validation scores before any constant one, then the selection metric."""
  check_selection_metric(metric)
  key, sign = SELECTION_METRICS[metric]
  value = entry.get(key)
  value = -math.inf if value is None or not math.isfinite(value) else sign * value
  return (not entry.get('constant', False), value)


def is_better(entry: Mapping[str, Any], best: Mapping[str, Any] | None, metric: str
              ) -> bool:
  """Whether `entry` strictly improves on the `best` epoch so far (None: nothing yet)."""
  return best is None or selection_key(entry, metric) > selection_key(best, metric)


def select_epoch(history: Sequence[Mapping[str, Any]], metric: str) -> int:
  """Index in `history` of the selected epoch: the best selection metric among epochs
  whose validation scores are not constant (among all if every one is), the earliest on
  ties; what the training loop's incremental `is_better` arrives at."""
  best = None
  for i, entry in enumerate(history):
    if is_better(entry, None if best is None else history[best], metric):
      best = i
  if best is None:
    raise ValueError('no epoch to select from')
  return best


def json_safe(obj: Any) -> Any:
  """`obj` with NaN / inf floats replaced by None and numpy scalars by Python ones, in
  nested dicts, lists and tuples, so that it is valid JSON."""
  if isinstance(obj, dict):
    return {key: json_safe(value) for key, value in obj.items()}
  if isinstance(obj, (list, tuple)):
    values = [json_safe(value) for value in obj]
    return values if isinstance(obj, list) else tuple(values)
  if isinstance(obj, (float, np.floating)):
    return float(obj) if math.isfinite(obj) else None
  if isinstance(obj, np.integer):
    return int(obj)
  return obj
