"""The linear probe of a text representation: each candidate's mean-pooled vectors
(a frozen language model's states, or word vectors) and logistic regression.

Beside a run on that representation it says whether HireNet's hierarchy adds anything
over the pooled representation itself. It follows `beside_run`'s baselines: C picked on
validation ROC AUC, the decision threshold maximising validation F1 without predicting a
single class, so `probe_logreg_scores` can be one more row of `beside_run.fit` and
`probe_logreg` is that row on its own. Features are standardised first: the residual
stream of a language model has a few dimensions hundreds of times larger than the rest,
which would otherwise set the regularisation alone. Hundreds of dense standardised
features on a few hundred candidates need stronger regularisation than TF-IDF's sparse
ones, hence a grid reaching lower C than `beside_run.C_GRID`.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn import linear_model, pipeline, preprocessing

from hirenet_jax.core import metrics
from hirenet_jax.hirenet.baselines import beside_run

NAME = 'linear probe'
C_GRID = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)  # Inverse L2 strengths, picked on validation.


def mean_states(states_NxTxD: np.ndarray, lengths_N: np.ndarray) -> np.ndarray:
  """<float32>[N, D] mean of each row's first `lengths` states (zeros for length 0)."""
  t = states_NxTxD.shape[1]
  mask_NxT = (np.arange(t)[None] < np.asarray(lengths_N)[:, None]).astype(np.float32)
  sums = np.einsum('nt,ntd->nd', mask_NxT, np.asarray(states_NxTxD, np.float32))
  return sums / np.maximum(mask_NxT.sum(axis=1), 1)[:, None]


def mean_word_vectors(sequences: Sequence[np.ndarray], embeddings_VxD: np.ndarray, *,
                      skip_ids: Sequence[int] = (0,)) -> np.ndarray:
  """<float32>[A, D] mean embedding of each answer's word ids, `skip_ids` left out."""
  out = np.zeros((len(sequences), embeddings_VxD.shape[1]), np.float32)
  for k, ids in enumerate(sequences):
    ids = np.asarray(ids)
    ids = ids[~np.isin(ids, skip_ids)]
    if ids.size:
      out[k] = embeddings_VxD[ids].mean(axis=0)
  return out


def by_candidate(answer_features_AxD: np.ndarray, candidate_A: np.ndarray,
                 num_candidates: int, weights_A: np.ndarray | None = None) -> np.ndarray:
  """<float32>[C, D] weighted mean of each candidate's answers (zeros without answers).

  With the answers' token counts as weights, a candidate's vector is the mean over all
  of its tokens; with none, each answer counts the same.
  """
  weights = np.ones(len(candidate_A)) if weights_A is None else np.asarray(weights_A, float)
  out = np.zeros((num_candidates, answer_features_AxD.shape[1]), np.float64)
  np.add.at(out, candidate_A, answer_features_AxD * weights[:, None])
  total = np.bincount(candidate_A, weights=weights, minlength=num_candidates)
  return (out / np.maximum(total, 1e-12)[:, None] * (total > 0)[:, None]).astype(np.float32)


def candidate_word_vectors(sequences: Sequence[np.ndarray], candidate_A: np.ndarray,
                           num_candidates: int, embeddings_VxD: np.ndarray, *,
                           skip_ids: Sequence[int] = (0,)) -> np.ndarray:
  """<float32>[C, D] mean embedding over all of each candidate's answer words.

  Answers are weighted by their words left after `skip_ids`, so padding (padded words or
  wholly padded answers) changes nothing.
  """
  means_AxD = mean_word_vectors(sequences, embeddings_VxD, skip_ids=skip_ids)
  counts_A = np.asarray([np.count_nonzero(~np.isin(np.asarray(ids), skip_ids))
                         for ids in sequences], np.float64)
  return by_candidate(means_AxD, np.asarray(candidate_A, np.int64), num_candidates,
                      weights_A=counts_A)


def probe_logreg_scores(features: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray],
                        *, seed: int = 0) -> tuple[dict, dict[str, np.ndarray]]:
  """(params, {validation, test: scores}) of standardised features + logistic regression.

  `features[split]` is <float>[num_candidates, D] for 'train', 'validation', 'test';
  `labels[split]` their 0/1 labels.
  """
  def fit_scores(c):
    model = pipeline.make_pipeline(
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(C=c, max_iter=5000, random_state=seed))
    model.fit(features['train'], labels['train'])
    return {s: model.predict_proba(features[s])[:, 1] for s in ('validation', 'test')}

  best = None
  for c in C_GRID:  # The best validation ROC AUC, the first on ties.
    scores = fit_scores(c)
    auc = metrics.roc_auc(labels['validation'], scores['validation'])
    auc = -np.inf if np.isnan(auc) else auc
    if best is None or auc > best[0]:
      best = (auc, c, scores)
  _, c, scores = best
  return {'C': c, 'num_features': int(features['train'].shape[1])}, scores


def probe_logreg(features: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray], *,
                 seed: int = 0) -> dict[str, Any]:
  """The probe as a baseline row: {name, threshold, validation, test, C, ..., time_s}."""
  start = time.perf_counter()
  params, scores = probe_logreg_scores(features, labels, seed=seed)
  row = {**beside_run._evaluate(labels, scores), **params}  # pylint: disable=protected-access
  return {**row, 'time_s': time.perf_counter() - start, 'name': NAME}
