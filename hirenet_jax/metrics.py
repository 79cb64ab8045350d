"""Evaluation metrics shared by HireNet and the baselines (paper: Experimental settings).

The paper reports precision, recall and F1 of the hirable class (label 1); we add
accuracy and ROC AUC. A candidate is predicted hirable iff `score >= threshold`.
Model selection uses validation F1, optionally with the threshold that maximises it.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.5


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


def select_threshold(labels: Sequence[int], scores: Sequence[float]) -> tuple[float, float]:
  """The threshold maximising F1 of the hirable class; returns (threshold, f1).

  Candidates are the midpoints between consecutive distinct scores (and one below the
  lowest, predicting everyone hirable), so the threshold does not sit on a validation
  score. Ties in F1 go to the threshold closest to DEFAULT_THRESHOLD.
  """
  labels_N, scores_N = _as_arrays(labels, scores)
  if labels_N.size == 0:
    return DEFAULT_THRESHOLD, 0.0
  distinct = np.unique(scores_N)
  candidates = np.concatenate([[distinct[0] - 1e-6], (distinct[:-1] + distinct[1:]) / 2,
                               [distinct[-1] + 1e-6]])
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


def json_safe(metrics: dict) -> dict:
  """Replaces NaN / inf floats by None so the dict is valid JSON."""
  out = {}
  for key, value in metrics.items():
    if isinstance(value, dict):
      out[key] = json_safe(value)
    elif isinstance(value, float) and not math.isfinite(value):
      out[key] = None
    else:
      out[key] = value
  return out
