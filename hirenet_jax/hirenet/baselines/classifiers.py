"""The paper's non-neural baselines (Experiments: Baselines), on numpy arrays.

- Vote baselines: random vote respecting the training label balance, and the
  position-wise majority vote.
- Non-sequential and Bag-of-*-Words baselines: answer-level feature vectors, trained
  answer-wise with the candidate's label; a candidate's score is the mean over its
  answers. SVM, Ridge and Random Forest, hyper-parameters picked on validation F1,
  the best of the three kept.
- Late fusion: the mean of the modalities' scores.

Every figure goes through `metrics.classification_metrics`, as for the neural models.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from sklearn import cluster, ensemble, feature_extraction, linear_model, pipeline, preprocessing, svm

from hirenet_jax.core import metrics

METRIC_KEYS = ('precision', 'recall', 'f1', 'accuracy', 'roc_auc')


# ----------------------------------------------------------------------------- votes


def random_vote(test_labels: Sequence[int], train_positive_rate: float, *,
                num_draws: int = 1000, seed: int = 0) -> dict[str, float]:
  """Metrics of random votes ~ Bernoulli(train rate), averaged over `num_draws` draws."""
  labels = np.asarray(test_labels)
  rng = np.random.default_rng(seed)
  draws = rng.random((num_draws, labels.size)) < train_positive_rate
  per_draw = [metrics.classification_metrics(labels, d.astype(np.float64)) for d in draws]
  out = {k: _mean_of_defined([m[k] for m in per_draw]) for k in METRIC_KEYS}
  out['f1_std'] = float(np.std([m['f1'] for m in per_draw]))
  out['num_draws'] = num_draws
  return out


def _mean_of_defined(values: Sequence[float]) -> float:
  """Mean of the values that are not NaN; NaN if none is (ROC AUC of a one-class split)."""
  values = np.asarray(values, np.float64)
  defined = values[~np.isnan(values)]
  return float(defined.mean()) if defined.size else float('nan')


def expected_random_vote_f1(test_positive_rate: float, train_positive_rate: float) -> float:
  """Large-sample F1 of random votes: precision -> pi, recall -> p, F1 = 2 pi p / (pi + p)."""
  pi, p = test_positive_rate, train_positive_rate
  return 2 * pi * p / (pi + p) if pi + p else 0.0


def position_majority_scores(train_positions: Sequence[str], train_labels: Sequence[int],
                             test_positions: Sequence[str]) -> np.ndarray:
  """1.0 where the position's training majority is hirable (a draw counts as hirable,
  as in the paper's labels); unseen positions get the overall training majority."""
  votes: dict[str, list[int]] = collections.defaultdict(list)
  for position, label in zip(train_positions, train_labels):
    votes[position].append(int(label))
  overall = float(np.mean(train_labels) >= 0.5)
  majority = {p: float(np.mean(v) >= 0.5) for p, v in votes.items()}
  return np.array([majority.get(p, overall) for p in test_positions], np.float64)


# ----------------------------------------------------------------- answer features


def video_functionals(frames_TxD: np.ndarray, binary_D: Sequence[bool],
                      frame_rate: float) -> np.ndarray:
  """Non-sequential video descriptor of one answer (paper, after Ryoo et al. 2015).

  Continuous descriptors: mean, std, min, max, sum of positive and sum of negative
  gradients. Binary descriptors (active where > 0.5): mean, number of active segments,
  mean and std of active-segment duration in seconds.
  """
  frames = np.asarray(frames_TxD, np.float64)
  binary = np.asarray(binary_D, bool)
  cont = frames[:, ~binary]
  grads = np.diff(cont, axis=0) if len(cont) > 1 else np.zeros((1, cont.shape[1]))
  features = [cont.mean(0), cont.std(0), cont.min(0), cont.max(0),
              np.where(grads > 0, grads, 0).sum(0), np.where(grads < 0, grads, 0).sum(0)]
  active = frames[:, binary] > 0.5
  padded = np.pad(active.astype(np.int8), ((1, 1), (0, 0)))
  edges = np.diff(padded, axis=0)
  seg_stats = []
  for j in range(active.shape[1]):
    starts, ends = np.flatnonzero(edges[:, j] == 1), np.flatnonzero(edges[:, j] == -1)
    durations = (ends - starts) / frame_rate
    seg_stats.append([active[:, j].mean(), len(durations),
                      durations.mean() if len(durations) else 0.0,
                      durations.std() if len(durations) else 0.0])
  seg = np.array(seg_stats, np.float64).reshape(-1, 4)
  return np.concatenate(features + [seg[:, k] for k in range(4)]).astype(np.float32)


class BagOfFrames:
  """Bag-of-*-Words: k-means codebook over frames, TF-IDF of cluster counts per answer.

  For text the frames are word vectors (Bag of Text Words), for audio the LLD frames,
  for video the smoothed frames.
  """

  def __init__(self, num_clusters: int = 100, *, max_fit_frames: int = 200_000,
               seed: int = 0):
    self.num_clusters = num_clusters
    self.max_fit_frames = max_fit_frames
    self.seed = seed

  def fit(self, train_docs: Sequence[np.ndarray]) -> 'BagOfFrames':
    frames = np.concatenate([d for d in train_docs if len(d)]).astype(np.float32)
    rng = np.random.default_rng(self.seed)
    if len(frames) > self.max_fit_frames:  # k-means on a uniform sample of frames.
      frames = frames[rng.choice(len(frames), self.max_fit_frames, replace=False)]
    k = min(self.num_clusters, len(frames))
    self.kmeans_ = cluster.MiniBatchKMeans(k, random_state=self.seed, n_init=3,
                                           batch_size=4096).fit(frames)
    self.tfidf_ = feature_extraction.text.TfidfTransformer().fit(self._counts(train_docs))
    return self

  def _counts(self, docs: Sequence[np.ndarray]) -> np.ndarray:
    k = self.kmeans_.n_clusters
    counts = np.zeros((len(docs), k), np.float64)
    for i, doc in enumerate(docs):
      if len(doc):
        counts[i] = np.bincount(self.kmeans_.predict(np.asarray(doc, np.float32)),
                                minlength=k)
    return counts

  def transform(self, docs: Sequence[np.ndarray]) -> np.ndarray:
    return self.tfidf_.transform(self._counts(docs)).toarray().astype(np.float32)


# ---------------------------------------------------------------- classification


@dataclasses.dataclass
class AnswerSet:
  """Answer-level examples of one split.

  features: [num_answers, F]; candidate: [num_answers] index of each answer's
  candidate in `labels` [num_candidates].
  """
  features: np.ndarray
  candidate: np.ndarray
  labels: np.ndarray

  def answer_labels(self) -> np.ndarray:
    return self.labels[self.candidate]


def mean_by_candidate(answer_scores: np.ndarray, candidate: np.ndarray,
                      num_candidates: int) -> np.ndarray:
  """Candidate score = mean of its answers' scores (NaN for a candidate with none)."""
  sums = np.bincount(candidate, weights=answer_scores, minlength=num_candidates)
  counts = np.bincount(candidate, minlength=num_candidates)
  with np.errstate(invalid='ignore', divide='ignore'):
    return sums / counts


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def _score_fn(model) -> Callable[[np.ndarray], np.ndarray]:
  """Answer scores in [0, 1] with 0.5 as the decision boundary."""
  if hasattr(model, 'predict_proba'):
    return lambda x: model.predict_proba(x)[:, 1]
  return lambda x: _sigmoid(model.decision_function(x))


def classifier_grid(seed: int = 0) -> dict[str, list[tuple[dict, Callable[[], Any]]]]:
  """The three classifier families and their hyper-parameter grids."""
  scaled = lambda est: pipeline.make_pipeline(preprocessing.StandardScaler(), est)
  svm_grid = [({'C': c}, lambda c=c: scaled(svm.LinearSVC(C=c, random_state=seed,
                                                           max_iter=5000)))
              for c in (0.01, 0.1, 1.0)]
  ridge_grid = [({'alpha': a}, lambda a=a: scaled(linear_model.RidgeClassifier(alpha=a)))
                for a in (1.0, 10.0, 100.0)]
  rf_grid = [({'max_depth': d, 'min_samples_leaf': leaf},
              lambda d=d, leaf=leaf: ensemble.RandomForestClassifier(
                  n_estimators=200, max_depth=d, min_samples_leaf=leaf,
                  random_state=seed, n_jobs=-1))
             for d, leaf in itertools.product((8, None), (1, 5))]
  return {'svm': svm_grid, 'ridge': ridge_grid, 'random_forest': rf_grid}


@dataclasses.dataclass
class Selection:
  family: str
  params: dict
  validation: dict
  test: dict
  search: list  # Every (family, params, validation f1) tried.
  test_scores: np.ndarray
  validation_scores: np.ndarray


def fit_and_select(train: AnswerSet, validation: AnswerSet, test: AnswerSet, *,
                   seed: int = 0,
                   grid: Mapping[str, Sequence[tuple[dict, Callable[[], Any]]]] | None = None
                   ) -> Selection:
  """Trains every family x hyper-parameters answer-wise; keeps the best validation F1.

  Candidate scores are the mean of the answer scores; ties in validation F1 keep the
  first configuration tried.
  """
  grid = grid or classifier_grid(seed)
  best, search = None, []
  y_train = train.answer_labels()
  for family, configs in grid.items():
    for params, make in configs:
      model = make().fit(train.features, y_train)
      score = _score_fn(model)
      val_scores = mean_by_candidate(score(validation.features), validation.candidate,
                                     len(validation.labels))
      val_metrics = metrics.classification_metrics(validation.labels, val_scores)
      search.append({'family': family, 'params': params, 'validation_f1': val_metrics['f1']})
      if best is None or val_metrics['f1'] > best[2]['f1']:
        best = (family, params, val_metrics, score, val_scores)
  family, params, val_metrics, score, val_scores = best
  test_scores = mean_by_candidate(score(test.features), test.candidate, len(test.labels))
  return Selection(family=family, params=params, validation=val_metrics,
                   test=metrics.classification_metrics(test.labels, test_scores),
                   search=search, test_scores=test_scores, validation_scores=val_scores)


def late_fusion(scores_by_modality: Mapping[str, np.ndarray]) -> np.ndarray:
  """Mean of the modalities' candidate scores (same candidates, same order)."""
  stacked = np.stack([np.asarray(s, np.float64) for s in scores_by_modality.values()])
  return stacked.mean(0)
