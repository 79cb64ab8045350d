"""metrics: the shared precision / recall / F1 / accuracy / ROC AUC and threshold choice."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as sk

from hirenet_jax.core import metrics


@pytest.fixture
def labels_scores():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 2, 200)
  scores = np.clip(0.3 * labels + rng.normal(0.35, 0.25, 200), 0, 1).round(2)  # Ties.
  return labels, scores


@pytest.mark.parametrize('threshold', [0.2, 0.5, 0.7])
def test_matches_sklearn(labels_scores, threshold):
  labels, scores = labels_scores
  got = metrics.classification_metrics(labels, scores, threshold)
  predicted = (scores >= threshold).astype(int)
  assert got['precision'] == pytest.approx(sk.precision_score(labels, predicted))
  assert got['recall'] == pytest.approx(sk.recall_score(labels, predicted))
  assert got['f1'] == pytest.approx(sk.f1_score(labels, predicted))
  assert got['accuracy'] == pytest.approx(sk.accuracy_score(labels, predicted))
  assert got['roc_auc'] == pytest.approx(sk.roc_auc_score(labels, scores))
  assert got['num_examples'] == 200 and got['num_positive'] == labels.sum()


def test_score_equal_to_threshold_is_hirable():
  got = metrics.classification_metrics([1, 0], [0.5, 0.49])
  assert got['precision'] == got['recall'] == got['f1'] == got['accuracy'] == 1.0


def test_degenerate_cases_give_zero_not_nan():
  none_predicted = metrics.classification_metrics([1, 0, 1], [0.1, 0.2, 0.3])
  assert none_predicted['precision'] == none_predicted['f1'] == 0.0
  one_class = metrics.classification_metrics([0, 0], [0.1, 0.9])
  assert one_class['recall'] == 0.0 and math.isnan(one_class['roc_auc'])
  assert metrics.json_safe(one_class)['roc_auc'] is None


def test_selected_threshold_maximises_f1(labels_scores):
  labels, scores = labels_scores
  threshold, f1 = metrics.select_threshold(labels, scores)
  assert metrics.classification_metrics(labels, scores, threshold)['f1'] == pytest.approx(f1)
  brute = max(sk.f1_score(labels, scores >= t) for t in np.unique(scores))
  assert f1 == pytest.approx(brute)
  assert threshold not in set(scores)  # Midway between validation scores.


def test_threshold_ties_prefer_the_default():
  threshold, f1 = metrics.select_threshold([0, 1], [0.1, 0.9])
  assert f1 == 1.0 and threshold == pytest.approx(0.5)


def test_mismatched_or_bad_labels_raise():
  with pytest.raises(ValueError):
    metrics.classification_metrics([0, 1], [0.5])
  with pytest.raises(ValueError):
    metrics.classification_metrics([0, 2], [0.5, 0.5])
