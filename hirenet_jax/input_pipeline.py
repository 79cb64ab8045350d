"""Reads the prepared interviews and yields padded, length-bucketed batches.

Records come from the array_record shards written by data_prep.build (docs/contracts.md)
through `tfds` data sources and `grain`. Every epoch has a batch plan computed from
(seed, epoch) alone: shuffle record indices, put each record in the smallest length
bucket that holds its longest answer, cut each bucket into fixed-size batches (the last
one padded with weight-0 rows), shuffle the batch order. So every batch has one of
`len(boundaries)` shapes [B, Q, T_bucket(, D)] and jit compiles that many programs.

Multi-host: every process computes the same global plan and loads only its contiguous
rows [p*B/P, (p+1)*B/P) of each global batch, so P hosts see exactly what one host
would. `start_step` skips batches without loading them (resume mid-epoch).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from typing import Iterator, Sequence

from absl import logging
import grain
import numpy as np
import tensorflow_datasets as tfds

DATASET_NAME = 'hirenet_interviews'
DATASET_VERSION = '1.0.0'
SPLITS = ('train', 'validation', 'test')


def dataset_dir(data_dir: str, modality: str) -> str:
  return os.path.join(data_dir, DATASET_NAME, modality, DATASET_VERSION)


def assets_dir(data_dir: str, modality: str) -> str:
  return os.path.join(data_dir, 'assets', modality)


@functools.lru_cache(maxsize=16)
def _load_meta_cached(path: str, mtime_ns: int) -> dict:
  del mtime_ns  # Only part of the cache key.
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def load_meta(data_dir: str, modality: str) -> dict:
  """The dataset's meta.json (do not mutate: it is cached)."""
  path = os.path.join(assets_dir(data_dir, modality), 'meta.json')
  if not os.path.exists(path):
    raise FileNotFoundError(
        f'{path} not found: build the dataset first with '
        f'`python -m data_prep.build --modality={modality} --data_dir={data_dir} ...`')
  return _load_meta_cached(path, os.stat(path).st_mtime_ns)


def load_embeddings(data_dir: str, modality: str) -> np.ndarray:
  """<float32>[V, E] word vectors; row 0 (padding) is zero."""
  return np.load(os.path.join(assets_dir(data_dir, modality), 'embeddings.npy'))


def load_vocab(data_dir: str, modality: str) -> list[str]:
  with open(os.path.join(assets_dir(data_dir, modality), 'vocab.txt'),
            encoding='utf-8') as f:
    return [line.rstrip('\n') for line in f]


def candidate_ids(data_dir: str, modality: str, split: str) -> list[str]:
  """Candidate id of each record of `split`, in record (batch 'index') order."""
  return list(load_meta(data_dir, modality)['candidate_ids'][split])


def record_info(data_dir: str, modality: str, split: str) -> dict[str, list]:
  """Per record of `split`, in record order: candidate_id, position_id, label."""
  meta = load_meta(data_dir, modality)
  return {'candidate_id': list(meta['candidate_ids'][split]),
          'position_id': list(meta['position_ids'][split]),
          'label': [int(x) for x in meta['labels'][split]]}


def record_lengths(meta: dict, split: str) -> np.ndarray:
  """<int64>[N] longest answer of each record of `split`."""
  return np.asarray([max(r) for r in meta['lengths'][split]], np.int64)


def bucket_boundaries(train_lengths: Sequence[int], max_length: int, *,
                      num_buckets: int = 4, multiple: int = 8) -> tuple[int, ...]:
  """Padded T of each bucket: training-length quantiles, the last one `max_length`.

  Boundaries are rounded up to a multiple of `multiple` and deduplicated, so there are
  at most `num_buckets` of them.
  """
  if num_buckets < 1:
    raise ValueError(f'num_buckets must be >= 1, got {num_buckets}')
  round_up = lambda x: int(-(-max(int(x), 1) // multiple) * multiple)
  qs = np.quantile(np.asarray(train_lengths, np.float64),
                   np.arange(1, num_buckets) / num_buckets) if len(train_lengths) else []
  edges = {round_up(np.ceil(q)) for q in qs}
  top = round_up(max_length)
  return tuple(sorted({e for e in edges if e < top} | {top}))


def dataset_boundaries(meta: dict, num_buckets: int = 4,
                       multiple: int = 8) -> tuple[int, ...]:
  """Bucket boundaries of a dataset: training quantiles, the longest record of any split.

  A dataset without a training split (data_prep.build.featurize_corpus) uses the
  quantiles of all its records.
  """
  splits = [s for s, lengths in meta['lengths'].items() if lengths]
  max_length = max(int(record_lengths(meta, s).max()) for s in splits)
  if 'train' in splits:
    reference = record_lengths(meta, 'train')
  else:
    reference = np.concatenate([record_lengths(meta, s) for s in splits])
  return bucket_boundaries(reference, max_length, num_buckets=num_buckets,
                           multiple=multiple)


@dataclasses.dataclass(frozen=True)
class PlannedBatch:
  """One global batch: record indices (-1 = padding row) and its padded T."""
  indices: np.ndarray
  length: int


def batch_plan(lengths: Sequence[int], boundaries: Sequence[int], *, batch_size: int,
               seed: int, epoch: int, shuffle: bool) -> list[PlannedBatch]:
  """The epoch's global batches; each record appears exactly once.

  Deterministic in (seed, epoch). Without shuffle, records keep their order within a
  bucket and buckets go from short to long.
  """
  lengths = np.asarray(lengths, np.int64)
  if len(lengths) and lengths.max() > boundaries[-1]:
    raise ValueError(f'a record of length {lengths.max()} exceeds the largest bucket '
                     f'{boundaries[-1]}')
  rng = np.random.default_rng([seed, epoch])
  order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
  bucket_of = np.searchsorted(np.asarray(boundaries), lengths, side='left')
  plan = []
  for b, boundary in enumerate(boundaries):
    members = order[bucket_of[order] == b]
    for start in range(0, len(members), batch_size):
      chunk = members[start:start + batch_size]
      indices = np.full(batch_size, -1, np.int64)
      indices[:len(chunk)] = chunk
      plan.append(PlannedBatch(indices=indices, length=int(boundary)))
  if shuffle:
    plan = [plan[i] for i in rng.permutation(len(plan))]
  return plan


def plan_padding_efficiency(plan: Sequence[PlannedBatch], answer_lengths,
                            max_questions: int) -> float:
  """Valid time steps / padded time steps (B * Q * T summed over the plan)."""
  valid = padded = 0
  for batch in plan:
    real = batch.indices[batch.indices >= 0]
    valid += sum(sum(answer_lengths[i]) for i in real)
    padded += len(batch.indices) * max_questions * batch.length
  return valid / padded if padded else 0.0


class Batches:
  """One epoch of numpy batch dicts (docs/contracts.md) for one process.

  Iterating loads and pads records through grain with `num_threads` reading threads
  (and `worker_count` worker processes, off by default: records are small and
  padding is cheap); `len()` is the number of batches left after `start_step`.
  """

  def __init__(self, data_dir: str, modality: str, split: str, *, batch_size: int,
               seed: int = 0, epoch: int = 0, shuffle: bool = False,
               num_buckets: int = 4, process_index: int = 0, process_count: int = 1,
               start_step: int = 0, pad_multiple: int = 8, num_threads: int = 4,
               prefetch: int = 8, worker_count: int = 0):
    if batch_size < 1 or batch_size % process_count:
      raise ValueError(f'batch_size {batch_size} must be a positive multiple of '
                       f'process_count {process_count}')
    if not 0 <= process_index < process_count:
      raise ValueError(f'process_index {process_index} not in [0, {process_count})')
    self.meta = meta = load_meta(data_dir, modality)
    if split not in meta['lengths']:
      raise ValueError(f'unknown split {split!r}; the dataset has {list(meta["lengths"])}')
    self.data_dir, self.modality, self.split = data_dir, modality, split
    self.batch_size = batch_size
    self.local_batch_size = batch_size // process_count
    self._rows = slice(process_index * self.local_batch_size,
                       (process_index + 1) * self.local_batch_size)
    self.boundaries = dataset_boundaries(meta, num_buckets, pad_multiple)
    self.max_questions = int(meta['max_questions'])
    self.max_question_length = max(1, int(meta['max_question_length']))
    self.max_job_title_length = max(1, int(meta['max_job_title_length']))
    self.feature_dim = int(meta['feature_dim'])
    self._answer_lengths = meta['lengths'][split]
    self.full_plan = batch_plan(record_lengths(meta, split), self.boundaries,
                                batch_size=batch_size, seed=seed, epoch=epoch,
                                shuffle=shuffle)
    self.plan = self.full_plan[start_step:]
    self._num_threads, self._prefetch = num_threads, prefetch
    self._worker_count = worker_count
    self._source = None
    logging.info('%s/%s epoch %d: %d batches of %d, T buckets %s, padding efficiency '
                 '%.1f%%.', modality, split, epoch, len(self.full_plan), batch_size,
                 self.boundaries, 100 * self.padding_efficiency)

  def __getstate__(self):
    # Worker processes open their own data source.
    return self.__dict__ | {'_source': None}

  def __len__(self) -> int:
    return len(self.plan)

  @property
  def padding_efficiency(self) -> float:
    """Over the whole epoch's global plan (start_step ignored)."""
    return plan_padding_efficiency(self.full_plan, self._answer_lengths,
                                   self.max_questions)

  @property
  def shapes(self) -> list[tuple[int, ...]]:
    """The padded `answers` shapes this split can produce (per process)."""
    d = (self.feature_dim,) if self.feature_dim else ()
    return [(self.local_batch_size, self.max_questions, t) + d for t in self.boundaries]

  def _data_source(self):
    if self._source is None:
      builder = tfds.builder_from_directory(dataset_dir(self.data_dir, self.modality))
      self._source = builder.as_data_source(split=self.split)
    return self._source

  def load(self, batch: PlannedBatch) -> dict[str, np.ndarray]:
    """This process's rows of one planned batch, padded to the contract shapes."""
    indices = batch.indices[self._rows]
    b, q, t = len(indices), self.max_questions, batch.length
    d = (self.feature_dim,) if self.feature_dim else ()
    out = {
        'answers': np.zeros((b, q, t) + d, np.float32 if d else np.int32),
        'answer_lengths': np.zeros((b, q), np.int32),
        'questions': np.zeros((b, q, self.max_question_length), np.int32),
        'question_lengths': np.zeros((b, q), np.int32),
        'job_title': np.zeros((b, self.max_job_title_length), np.int32),
        'job_title_length': np.zeros((b,), np.int32),
        'label': np.zeros((b,), np.int32),
        'weight': np.zeros((b,), np.float32),
        'index': np.full((b,), -1, np.int32),
    }
    real = [(row, int(i)) for row, i in enumerate(indices) if i >= 0]
    if not real:
      return out
    records = self._data_source().__getitems__([i for _, i in real])
    for (row, i), rec in zip(real, records):
      _fill_row(out, row, rec)
      out['index'][row] = i
    return out

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    if not self.plan:
      return
    ds = grain.MapDataset.source(self.plan).map(self.load).to_iter_dataset(
        grain.ReadOptions(num_threads=self._num_threads,
                          prefetch_buffer_size=self._prefetch))
    if self._worker_count > 0:
      # Needs parsed absl flags (grain defines some), as under app.run.
      ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=self._worker_count))
    it = iter(ds)
    try:
      yield from it
    finally:
      if hasattr(it, 'close'):
        it.close()  # Stops prefetch threads/processes and frees shared memory.


def _fill_row(out: dict[str, np.ndarray], row: int, rec: dict) -> None:
  answer_lengths = np.asarray(rec['answer_lengths'])
  question_lengths = np.asarray(rec['question_lengths'])
  answers, questions = np.asarray(rec['answers']), np.asarray(rec['questions'])
  a_start = np.concatenate([[0], np.cumsum(answer_lengths)])
  q_start = np.concatenate([[0], np.cumsum(question_lengths)])
  for k, (n, m) in enumerate(zip(answer_lengths, question_lengths)):
    out['answers'][row, k, :n] = answers[a_start[k]:a_start[k] + n]
    out['questions'][row, k, :m] = questions[q_start[k]:q_start[k] + m]
  out['answer_lengths'][row, :len(answer_lengths)] = answer_lengths
  out['question_lengths'][row, :len(question_lengths)] = question_lengths
  title = np.asarray(rec['job_title'])
  out['job_title'][row, :len(title)] = title
  out['job_title_length'][row] = len(title)
  out['label'][row] = int(rec['label'])
  out['weight'][row] = 1.0


def make_batches(data_dir: str, modality: str, split: str, *, batch_size: int,
                 seed: int = 0, epoch: int = 0, shuffle: bool = False,
                 num_buckets: int = 4, process_index: int = 0, process_count: int = 1,
                 start_step: int = 0, **kwargs) -> Batches:
  """One epoch of batches (see `Batches`); shuffle for training, not for evaluation."""
  return Batches(data_dir, modality, split, batch_size=batch_size, seed=seed,
                 epoch=epoch, shuffle=shuffle, num_buckets=num_buckets,
                 process_index=process_index, process_count=process_count,
                 start_step=start_step, **kwargs)


def num_batches(data_dir: str, modality: str, split: str, *, batch_size: int,
                num_buckets: int = 4, pad_multiple: int = 8) -> int:
  """Batches per epoch; the same for every seed and epoch (bucket sizes are fixed)."""
  meta = load_meta(data_dir, modality)
  boundaries = dataset_boundaries(meta, num_buckets, pad_multiple)
  bucket_of = np.searchsorted(np.asarray(boundaries), record_lengths(meta, split),
                              side='left')
  counts = np.bincount(bucket_of, minlength=len(boundaries))
  return int(sum(-(-c // batch_size) for c in counts))


def padding_efficiency(data_dir: str, modality: str, split: str, *, batch_size: int,
                       seed: int = 0, epoch: int = 0, shuffle: bool = False,
                       num_buckets: int = 4, pad_multiple: int = 8) -> float:
  """Valid time steps / padded time steps over one epoch's plan."""
  meta = load_meta(data_dir, modality)
  boundaries = dataset_boundaries(meta, num_buckets, pad_multiple)
  plan = batch_plan(record_lengths(meta, split), boundaries, batch_size=batch_size,
                    seed=seed, epoch=epoch, shuffle=shuffle)
  return plan_padding_efficiency(plan, meta['lengths'][split], int(meta['max_questions']))
