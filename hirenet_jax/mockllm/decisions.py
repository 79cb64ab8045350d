"""Two-sided evaluation (eq 5-10): each side's E from its two scores, and fitting the
weights. The handshake (eq 11) and its thresholds are `hirenet_jax.core.ranking`'s.

Scores S_r, S_q, S_j, S_a are in [0, 1] (a judge's P(yes), a parsed 1-10 rating mapped to
[0, 1], or a learned scorer's probability). Choices the paper leaves open:
- eq 7 and 10 have no intercept; we fit one (logistic regression with a bias, L2 C=1 on
  the two scores) because scores in [0, 1] are not centred, so without a bias every E is
  above 0.5. The weights are fit on the training pairs, each side on its own label
  (interviewer: job_accepts, candidate: candidate_accepts).
- "E = 1" in eq 11 is E above a threshold; the two thresholds are fit jointly on the
  validation pairs to maximise the macro F1 of the handshake against the recorded match
  (`ranking.select_handshake_thresholds`).
- The memory is written during the training pass, before any weight exists: there each
  side's E is the mean of its two scores and accepts at 0.5 (`provisional_handshake`).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from hirenet_jax.core import ranking


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@dataclasses.dataclass(frozen=True)
class SideWeights:
  """E = sigmoid(w_doc * S_doc + w_dialogue * S_dialogue + bias) for one side.

  Interviewer: S_doc = S_r, S_dialogue = S_q (eq 7); candidate: S_doc = S_j,
  S_dialogue = S_a (eq 10). w_dialogue = 0 for the ablation without the interview.
  """
  w_doc: float
  w_dialogue: float
  bias: float

  def evaluate(self, s_doc_N, s_dialogue_N) -> np.ndarray:
    """Eq 7 / eq 10 for N pairs."""
    s_doc_N = np.asarray(s_doc_N, dtype=np.float64)
    s_dialogue_N = np.asarray(s_dialogue_N, dtype=np.float64)
    return sigmoid(self.w_doc * s_doc_N + self.w_dialogue * s_dialogue_N + self.bias)


def provisional_handshake(s_r, s_q, s_j, s_a, threshold: float = 0.5) -> np.ndarray:
  """Eq 11 during the training pass, which decides what the memory stores (eq 12-15):
  E = (S_doc + S_dialogue) / 2 on each side, a match when both reach `threshold`."""
  e_job = (np.asarray(s_r, np.float64) + np.asarray(s_q, np.float64)) / 2
  e_candidate = (np.asarray(s_j, np.float64) + np.asarray(s_a, np.float64)) / 2
  return ranking.handshake(e_job, e_candidate, threshold, threshold)


def fit_side(s_doc_N: Sequence[float], s_dialogue_N: Sequence[float] | None,
             labels_N: Sequence[int]) -> SideWeights:
  """Logistic regression of one side's label on its scores (s_dialogue_N None: doc only).

  A single-class label set cannot be fit; it gets w = 0 and the bias of its base rate.
  """
  from sklearn.linear_model import LogisticRegression
  labels_N = np.asarray(labels_N, dtype=np.int64)
  s_doc_N = np.asarray(s_doc_N, dtype=np.float64)
  columns = [s_doc_N]
  if s_dialogue_N is not None:
    columns.append(np.asarray(s_dialogue_N, dtype=np.float64))
  x_NxF = np.stack(columns, axis=1)
  if labels_N.size == 0:
    raise ValueError('fit_side: no training pairs')
  if len(np.unique(labels_N)) < 2:
    rate = np.clip(labels_N.mean(), 1e-3, 1 - 1e-3)
    return SideWeights(0.0, 0.0, float(np.log(rate / (1 - rate))))
  model = LogisticRegression(C=1.0, solver='lbfgs', max_iter=1000)
  model.fit(x_NxF, labels_N)
  w = model.coef_[0]
  return SideWeights(float(w[0]), float(w[1]) if len(w) > 1 else 0.0,
                     float(model.intercept_[0]))
