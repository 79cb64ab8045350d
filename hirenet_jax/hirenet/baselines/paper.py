"""Runs the paper's baselines for one modality of a prepared dataset (Tables 3 and 4).

Reads the same array_record shards as training (docs/contracts.md), splits every
candidate into its answers, builds the answer-level features of each baseline and
evaluates every baseline with the shared metrics function:

- vote: random vote and position-wise majority vote;
- non_sequential: Doc2Vec (text), eGeMAPS functionals (audio, computed by the caller
  from the audio files), video functionals (video);
- bow: Bag-of-*-Words over word vectors, LLD frames or smoothed video frames.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable, Mapping, Sequence

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from hirenet_jax.hirenet.baselines import classifiers as shallow_models
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.core import metrics
from hirenet_jax.hirenet.dataset_spec import SPLITS

BASELINES = ('vote', 'non_sequential', 'bow')


@dataclasses.dataclass
class SplitAnswers:
  """The answers of one split, candidates in record order.

  sequences[k]: word ids [T] (text) or frames [T, D] of answer k; candidate[k]: its
  candidate's row in `candidate_ids` / `labels` / `position_ids`; answer_index[k]: its
  position in the raw interview.
  """
  sequences: list[np.ndarray]
  candidate: np.ndarray
  answer_index: np.ndarray
  candidate_ids: list[str]
  position_ids: list[str]
  labels: np.ndarray

  def answer_set(self, features: np.ndarray) -> shallow_models.AnswerSet:
    return shallow_models.AnswerSet(np.asarray(features, np.float32), self.candidate, self.labels)


def _text(value) -> str:
  return value.decode('utf-8') if isinstance(value, bytes) else str(value)


def load_split_answers(data_dir: str, modality: str, split: str) -> SplitAnswers:
  """All answers of `split` (answers of length 0 are left out)."""
  path = input_pipeline.dataset_dir(data_dir, modality)
  source = tfds.builder_from_directory(path).as_data_source(split=split)
  sequences, candidate, answer_index = [], [], []
  ids, positions, labels = [], [], []
  records = source.__getitems__(list(range(len(source)))) if len(source) else []
  for row, rec in enumerate(records):
    ids.append(_text(rec['candidate_id']))
    positions.append(_text(rec['position_id']))
    labels.append(int(rec['label']))
    lengths = np.asarray(rec['answer_lengths'])
    starts = np.concatenate([[0], np.cumsum(lengths)])
    answers, slots = np.asarray(rec['answers']), np.asarray(rec['answer_index'])
    for k, n in enumerate(lengths):
      if n > 0:
        sequences.append(answers[starts[k]:starts[k] + n])
        candidate.append(row)
        answer_index.append(int(slots[k]))
  return SplitAnswers(sequences=sequences, candidate=np.asarray(candidate, np.int64),
                      answer_index=np.asarray(answer_index, np.int64), candidate_ids=ids,
                      position_ids=positions, labels=np.asarray(labels, np.int64))


def feature_stats(data_dir: str, modality: str) -> tuple[np.ndarray, np.ndarray] | None:
  """(mean, std) that normalised the audio/video frames in the shards; None for text."""
  path = os.path.join(input_pipeline.assets_dir(data_dir, modality), 'feature_stats.npz')
  if not os.path.exists(path):
    return None
  stats = np.load(path)
  return stats['mean'], stats['std']


# ------------------------------------------------------------------ answer features


def doc2vec_features(splits: Mapping[str, SplitAnswers], vocab: Sequence[str], *,
                     seed: int = 0, vector_size: int = 100, epochs: int = 20
                     ) -> dict[str, np.ndarray]:
  """Non-sequential text: Doc2Vec (PV-DM) trained on the training answers.

  Every answer, training ones included, is represented by its inferred vector so the
  three splits are encoded the same way. One worker: deterministic for a seed.
  """
  from gensim.models import doc2vec  # pylint: disable=g-import-not-at-top
  words = {s: [[vocab[i] for i in seq] for seq in a.sequences] for s, a in splits.items()}
  corpus = [doc2vec.TaggedDocument(w, [k]) for k, w in enumerate(words['train'])]
  model = doc2vec.Doc2Vec(corpus, vector_size=vector_size, min_count=2, epochs=epochs,
                          workers=1, seed=seed)
  return {s: np.stack([model.infer_vector(w, epochs=epochs) for w in docs])
          if docs else np.zeros((0, vector_size), np.float32) for s, docs in words.items()}


def video_functional_features(splits: Mapping[str, SplitAnswers], feature_names: Sequence[str],
                              stats: tuple[np.ndarray, np.ndarray] | None,
                              frame_rate: float) -> dict[str, np.ndarray]:
  """Non-sequential video: functionals of the de-normalised smoothed frames."""
  binary = [name.endswith('_c') for name in feature_names]  # OpenFace AU presences.
  mean, std = stats if stats is not None else (0.0, 1.0)
  return {s: np.stack([shallow_models.video_functionals(seq * std + mean, binary, frame_rate)
                       for seq in a.sequences]) for s, a in splits.items()}


def bow_features(splits: Mapping[str, SplitAnswers], *, embeddings: np.ndarray | None,
                 num_clusters: int, seed: int) -> dict[str, np.ndarray]:
  """Bag-of-*-Words: word vectors (text) or frames, k-means on training frames, TF-IDF."""
  frames = lambda seqs: [embeddings[s] if embeddings is not None else s for s in seqs]
  bag = shallow_models.BagOfFrames(num_clusters, seed=seed).fit(frames(splits['train'].sequences))
  return {s: bag.transform(frames(a.sequences)) for s, a in splits.items()}


# ---------------------------------------------------------------------- running


def _selection_result(sel: shallow_models.Selection) -> dict:
  return {'family': sel.family, 'params': sel.params,
          'validation': metrics.json_safe(sel.validation),
          'test': metrics.json_safe(sel.test), 'search': sel.search}


def vote_results(splits: Mapping[str, SplitAnswers], *, seed: int,
                 num_draws: int = 1000) -> dict:
  train = splits['train']
  rate = float(train.labels.mean())
  out = {'random_vote': {}, 'majority_vote': {}}
  for split in ('validation', 'test'):
    labels = splits[split].labels
    out['random_vote'][split] = metrics.json_safe(
        shallow_models.random_vote(labels, rate, num_draws=num_draws, seed=seed))
    scores = shallow_models.position_majority_scores(train.position_ids, train.labels,
                                                splits[split].position_ids)
    out['majority_vote'][split] = metrics.json_safe(
        metrics.classification_metrics(labels, scores))
  out['random_vote']['train_positive_rate'] = rate
  return out


def run_baselines(data_dir: str, modality: str, *, seed: int = 0, num_clusters: int = 100,
                  which: Sequence[str] = BASELINES,
                  audio_functionals: Callable[[Mapping[str, SplitAnswers]],
                                              dict[str, np.ndarray]] | None = None,
                  log: Callable[[str], None] = logging.info) -> dict:
  """Every requested baseline of one modality; returns a JSON-ready dict.

  Args:
    data_dir: prepared dataset (data_prep.hirenet.build).
    modality: text | audio | video.
    seed: k-means, Doc2Vec, random forests and random votes.
    num_clusters: Bag-of-*-Words codebook size.
    which: subset of BASELINES.
    audio_functionals: for the audio non-sequential baseline, maps the splits to
      [num_answers, 88] eGeMAPS functionals (it needs the audio files, which this
      library does not read). Without it that baseline is reported as skipped.
    log: progress messages.
  """
  unknown = set(which) - set(BASELINES)
  if unknown:
    raise ValueError(f'unknown baselines {sorted(unknown)}; expected some of {BASELINES}')
  meta = input_pipeline.load_meta(data_dir, modality)
  splits = {s: load_split_answers(data_dir, modality, s) for s in SPLITS}
  for s, a in splits.items():
    if not a.candidate_ids:
      raise ValueError(f'the {s} split of {data_dir} ({modality}) is empty')
  log(f'{modality}: ' + ', '.join(f'{s} {len(a.candidate_ids)} candidates / '
                                  f'{len(a.sequences)} answers' for s, a in splits.items()))
  results = {'modality': modality, 'seed': seed, 'data_dir': data_dir,
             'num_candidates': {s: len(a.candidate_ids) for s, a in splits.items()}}
  if 'vote' in which:
    results.update(vote_results(splits, seed=seed))
    log('vote baselines done')

  def classify(name, features):
    sel = shallow_models.fit_and_select(*(splits[s].answer_set(features[s]) for s in SPLITS),
                                   seed=seed)
    results[name] = _selection_result(sel)
    log(f'{name}: best {sel.family} {sel.params}, validation F1 '
        f'{sel.validation["f1"]:.3f}, test F1 {sel.test["f1"]:.3f}')

  spec = dataset_spec.modality(modality)
  if 'non_sequential' in which:
    if spec.non_sequential == 'doc2vec':
      classify('non_sequential', doc2vec_features(
          splits, input_pipeline.load_vocab(data_dir, modality), seed=seed))
    elif spec.non_sequential == 'frame_functionals':
      classify('non_sequential', video_functional_features(
          splits, meta['feature_names'], feature_stats(data_dir, modality),
          float(meta['frame_rate'])))
    elif audio_functionals is not None:
      classify('non_sequential', audio_functionals(splits))
    else:
      results['non_sequential'] = {'skipped': 'eGeMAPS functionals need the audio files'}
  if 'bow' in which:
    embeddings = (input_pipeline.load_embeddings(data_dir, modality)
                  if spec.words else None)
    classify('bow', bow_features(splits, embeddings=embeddings, num_clusters=num_clusters,
                                 seed=seed))
  return results


# ---------------------------------------------------------------------- fusion


@dataclasses.dataclass
class ModalityOutputs:
  """A trained monomodal model's outputs on one split, candidates in any order."""
  candidate_ids: list[str]
  position_ids: list[str]
  labels: np.ndarray
  scores: np.ndarray  # ỹ (eq. 15) per candidate.
  vectors: np.ndarray  # v (eq. 14) per candidate: [num_candidates, 2H].


def align(outputs: Mapping[str, ModalityOutputs]) -> tuple[list[str], dict[str, np.ndarray]]:
  """Candidates present in every modality (sorted) and each modality's row of them."""
  common = sorted(set.intersection(*(set(o.candidate_ids) for o in outputs.values())))
  rows = {}
  for m, o in outputs.items():
    where = {c: i for i, c in enumerate(o.candidate_ids)}
    rows[m] = np.array([where[c] for c in common], np.int64)
  return common, rows


def run_fusion(outputs: Mapping[str, Mapping[str, ModalityOutputs]], *, seed: int = 0,
               num_draws: int = 1000) -> dict:
  """Table 4: early and late fusion and the vote baselines on the candidates that have
  every modality.

  Args:
    outputs: {modality: {split: ModalityOutputs}} for train, validation and test.
    seed: classifiers of early fusion and random votes.
    num_draws: random-vote draws.

  Early fusion concatenates the modalities' v and goes through the non-sequential
  classifiers (one example per candidate, tuned on validation F1); late fusion averages
  the modalities' scores ỹ.
  """
  modalities = sorted(outputs)
  if len(modalities) < 2:
    raise ValueError(f'fusion needs at least two modalities, got {modalities}')
  aligned: dict[str, dict] = {}
  for split in SPLITS:
    per_split = {m: outputs[m][split] for m in modalities}
    ids, rows = align(per_split)
    if not ids:
      raise ValueError(f'no {split} candidate has all of {modalities}')
    first = per_split[modalities[0]]
    labels = first.labels[rows[modalities[0]]]
    for m in modalities[1:]:
      if not np.array_equal(per_split[m].labels[rows[m]], labels):
        raise ValueError(f'{split}: the {m} model has other labels than the '
                         f'{modalities[0]} model for the same candidates')
    aligned[split] = {
        'ids': ids, 'labels': labels,
        'positions': [first.position_ids[i] for i in rows[modalities[0]]],
        'scores': {m: per_split[m].scores[rows[m]] for m in modalities},
        'vectors': np.concatenate([per_split[m].vectors[rows[m]] for m in modalities], -1),
    }
  results: dict = {'modalities': modalities, 'seed': seed,
                   'num_candidates': {s: len(a['ids']) for s, a in aligned.items()}}
  results['late_fusion'] = {
      s: metrics.json_safe(metrics.classification_metrics(
          aligned[s]['labels'], shallow_models.late_fusion(aligned[s]['scores'])))
      for s in ('validation', 'test')}
  sets = [shallow_models.AnswerSet(aligned[s]['vectors'], np.arange(len(aligned[s]['ids'])),
                              aligned[s]['labels']) for s in SPLITS]
  results['early_fusion'] = _selection_result(shallow_models.fit_and_select(*sets, seed=seed))
  splits = {s: SplitAnswers([], np.zeros(0, np.int64), np.zeros(0, np.int64), a['ids'],
                            a['positions'], a['labels']) for s, a in aligned.items()}
  results.update(vote_results(splits, seed=seed, num_draws=num_draws))
  return results
