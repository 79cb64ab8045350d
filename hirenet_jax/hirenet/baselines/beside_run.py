"""The cheap baselines fitted beside every training run, on the run's own split, so the
user sees at once whether the neural model adds anything over a simple one.

- `majority_vote`: the paper's position-wise majority vote.
- `tfidf_logreg` (text): TF-IDF of each candidate's answer words (unigrams and bigrams)
  and logistic regression.
- `probe_logreg` (text): the linear probe of the run's own representation (`probe`): the
  prepared dataset's embedding table, which the model starts from (split-trained
  word2vec or a pretrained vector file), averaged over each candidate's answer words,
  padding left out (an llm dataset: the language-model word states its shards hold, the
  model's own input); standardised + logistic regression. It says whether the hierarchy
  adds anything over the pooled representation.
- `functionals_logreg` (audio, video): the non-sequential baseline's per-answer
  functionals of the shard's frames (`shallow_models.video_functionals`; audio has no
  binary descriptors) and logistic regression trained answer-wise, a candidate's score
  the mean of its answers'. The audio baseline of `experiments.baselines` uses openSMILE's
  eGeMAPS functionals of the audio files instead, which takes minutes, not seconds.

Logistic regression's C is picked on validation ROC AUC; like the neural model's, each
baseline's decision threshold maximises validation F1 without predicting a single class.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import numpy as np
from sklearn import feature_extraction, linear_model, pipeline, preprocessing

from hirenet_jax.hirenet.baselines import paper as baseline_features
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.core import metrics
from hirenet_jax.hirenet.baselines import classifiers as shallow_models
from hirenet_jax.hirenet.dataset_spec import SPLITS

C_GRID = (0.1, 1.0, 10.0)  # Inverse L2 strengths of logistic regression.
NAMES = {'majority_vote': 'majority vote', 'tfidf_logreg': 'TF-IDF + LR',
         'probe_logreg': 'probe (mean vectors) + LR', 'functionals_logreg': 'functionals + LR'}


def _evaluate(labels: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray],
              threshold: float | None = None) -> dict[str, Any]:
  """Validation and test metrics at `threshold` (default: chosen on validation F1)."""
  if threshold is None:
    threshold, _ = metrics.select_threshold(labels['validation'], scores['validation'],
                                            allow_constant=False)
  return {'threshold': threshold,
          **{s: metrics.json_safe(metrics.classification_metrics(labels[s], scores[s],
                                                                 threshold))
             for s in ('validation', 'test')}}


def _pick_c(fit_scores: Callable[[float], dict[str, np.ndarray]],
            validation_labels: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
  """The C of C_GRID with the best validation ROC AUC (the first on ties), its scores."""
  best = None
  for c in C_GRID:
    scores = fit_scores(c)
    auc = metrics.roc_auc(validation_labels, scores['validation'])
    auc = -np.inf if np.isnan(auc) else auc
    if best is None or auc > best[0]:
      best = (auc, c, scores)
  return best[1], best[2]


def tfidf_logreg_scores(splits: Mapping[str, baseline_features.SplitAnswers], *,
                        seed: int = 0) -> tuple[dict, dict[str, np.ndarray]]:
  """TF-IDF + logistic regression on one document per candidate (its answers' word ids)."""
  docs = {}
  for s, answers in splits.items():
    words = [[] for _ in answers.labels]
    for row, sequence in zip(answers.candidate, answers.sequences):
      words[row].append(' '.join(map(str, np.asarray(sequence).tolist())))
    docs[s] = [' '.join(w) for w in words]
  vectorizer = feature_extraction.text.TfidfVectorizer(
      token_pattern=r'\S+', ngram_range=(1, 2), min_df=2, sublinear_tf=True)
  x = {'train': vectorizer.fit_transform(docs['train'])}
  x.update({s: vectorizer.transform(docs[s]) for s in ('validation', 'test')})

  def fit_scores(c):
    model = linear_model.LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit(x['train'], splits['train'].labels)
    return {s: model.predict_proba(x[s])[:, 1] for s in ('validation', 'test')}

  c, scores = _pick_c(fit_scores, splits['validation'].labels)
  return {'C': c, 'num_features': int(x['train'].shape[1])}, scores


def functionals_logreg_scores(splits: Mapping[str, baseline_features.SplitAnswers],
                              meta: Mapping[str, Any], stats, *, seed: int = 0
                              ) -> tuple[dict, dict[str, np.ndarray]]:
  """Per-answer frame functionals + logistic regression, candidate = mean of answers."""
  names = list(meta.get('feature_names') or [])
  binary = [n.endswith('_c') for n in names]  # OpenFace AU presences (video only).
  mean, std = stats if stats is not None else (0.0, 1.0)
  rate = float(meta.get('frame_rate') or 1.0)
  features = {}
  for s, answers in splits.items():
    rows = [shallow_models.video_functionals(np.asarray(seq) * std + mean,
                                             binary or [False] * np.shape(seq)[-1], rate)
            for seq in answers.sequences]
    features[s] = np.nan_to_num(np.stack(rows)) if rows else np.zeros((0, 1), np.float32)

  def fit_scores(c):
    model = pipeline.make_pipeline(
        preprocessing.StandardScaler(),
        linear_model.LogisticRegression(C=c, max_iter=2000, random_state=seed))
    model.fit(features['train'], splits['train'].answer_set(features['train']).answer_labels())
    return {s: shallow_models.mean_by_candidate(model.predict_proba(features[s])[:, 1],
                                                splits[s].candidate, len(splits[s].labels))
            for s in ('validation', 'test')}

  c, scores = _pick_c(fit_scores, splits['validation'].labels)
  scores = {s: np.nan_to_num(v, nan=float(splits['train'].labels.mean()))
            for s, v in scores.items()}  # A candidate without answers: the base rate.
  return {'C': c, 'num_features': int(features['train'].shape[1])}, scores


def _candidate_states(data_dir: str, modality: str, split: str) -> np.ndarray:
  """<float32>[N, D] each record's mean answer word state (an llm dataset's shards)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  source = tfds.builder_from_directory(
      input_pipeline.dataset_dir(data_dir, modality)).as_data_source(split=split)
  rows = [np.asarray(r['answer_states'], np.float32).mean(axis=0)
          for r in source.__getitems__(list(range(len(source))))]
  return np.stack(rows) if rows else np.zeros((0, 1), np.float32)


def word_vector_probe_scores(splits: Mapping[str, baseline_features.SplitAnswers],
                             data_dir: str, modality: str, *, seed: int = 0
                             ) -> tuple[dict, dict[str, np.ndarray]]:
  """The probe of the dataset's representation: each candidate's mean word vector, or
  its mean language-model word state for an llm dataset."""
  # Imported here: probe imports this module.
  from hirenet_jax.hirenet.baselines import probe  # pylint: disable=g-import-not-at-top
  meta = input_pipeline.load_meta(data_dir, modality)
  if meta.get('state_dim'):  # Records in candidate order, as load_split_answers reads them.
    features = {s: _candidate_states(data_dir, modality, s) for s in splits}
  else:
    table_VxD = input_pipeline.load_embeddings(data_dir, modality)
    skip_ids = (int(meta.get('pad_id', 0)),)
    features = {s: probe.candidate_word_vectors(a.sequences, a.candidate, len(a.labels),
                                                table_VxD, skip_ids=skip_ids)
                for s, a in splits.items()}
  return probe.probe_logreg_scores(features, {s: a.labels for s, a in splits.items()},
                                   seed=seed)


def fit(data_dir: str, modality: str, *, seed: int = 0) -> dict[str, dict[str, Any]]:
  """The baselines of one prepared dataset: {name: {validation, test, threshold, ...}}."""
  splits = {s: baseline_features.load_split_answers(data_dir, modality, s) for s in SPLITS}
  labels = {s: a.labels for s, a in splits.items()}
  start = time.perf_counter()
  train = splits['train']
  majority = {s: shallow_models.position_majority_scores(
      train.position_ids, train.labels, splits[s].position_ids) for s in ('validation', 'test')}
  out = {'majority_vote': _evaluate(labels, majority, metrics.DEFAULT_THRESHOLD)}
  out['majority_vote']['time_s'] = time.perf_counter() - start
  start = time.perf_counter()
  if dataset_spec.modality(modality).words:
    name, (params, scores) = 'tfidf_logreg', tfidf_logreg_scores(splits, seed=seed)
  else:
    name = 'functionals_logreg'
    params, scores = functionals_logreg_scores(
        splits, input_pipeline.load_meta(data_dir, modality),
        baseline_features.feature_stats(data_dir, modality), seed=seed)
  out[name] = {**_evaluate(labels, scores), **params, 'time_s': time.perf_counter() - start}
  if dataset_spec.modality(modality).words:
    start = time.perf_counter()
    params, scores = word_vector_probe_scores(splits, data_dir, modality, seed=seed)
    out['probe_logreg'] = {**_evaluate(labels, scores), **params,
                           'time_s': time.perf_counter() - start}
  for key, baseline in out.items():
    baseline['name'] = NAMES[key]
  return out
