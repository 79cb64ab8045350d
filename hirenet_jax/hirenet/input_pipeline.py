"""Reads the prepared interviews and yields packed, length-bucketed batches.

Records come from the array_record shards written by data_prep.hirenet.build (docs/contracts.md)
through `tfds` data sources and `grain`. Every epoch has a batch plan computed from
(seed, epoch) alone: shuffle record indices, put each record in the narrowest bucket
whose row width holds its longest answer, pack each bucket's records into batches of up
to B interviews whose answers share R rows of W steps (hirenet_jax/hirenet/packing.py; unused
interview rows have weight 0), shuffle the batch order. Every batch of a bucket has the
same shapes, so jit compiles one program per bucket (`Layout`).

Multi-host: every process computes the same global plan; each batch has one or more
packing groups per process (`pack_groups`), and a process loads only its interviews [p*B/P, (p+1)*B/P) and its
rows [p*R/P, (p+1)*R/P). `start_step` skips batches without loading them (resume
mid-epoch).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import math
import os
from typing import Iterator, Protocol, Sequence

from absl import logging
import grain
import jax
import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet import packing
from hirenet_jax.hirenet.dataset_spec import assets_dir
from hirenet_jax.hirenet.dataset_spec import dataset_dir
from hirenet_jax.core.errors import ConfigError


def _meta_version(data_dir: str, modality: str) -> tuple[str, int]:
  """(absolute path, modification time in ns) of the dataset's meta.json: a rebuild
  changes it, which empties a `DatasetCache`."""
  path = os.path.abspath(os.path.join(assets_dir(data_dir, modality), 'meta.json'))
  try:
    return path, os.stat(path).st_mtime_ns
  except FileNotFoundError:
    raise FileNotFoundError(
        f'{path} not found: build the dataset first with '
        f'`python -m data_prep.build --modality={modality} --data_dir={data_dir} ...`'
    ) from None


def load_meta(data_dir: str, modality: str) -> dict:
  """The dataset's meta.json."""
  with open(_meta_version(data_dir, modality)[0], encoding='utf-8') as f:
    return json.load(f)


@dataclasses.dataclass(frozen=True)
class PackingOptions:
  """What decides the batches (docs/contracts.md): `num_buckets` length buckets whose row
  widths are multiples of `pad_multiple` and `width_factor` mean answers wide (deep rows
  suit CPUs; ~1 suits a latency-bound GPU), row counts multiples of `row_multiple` (of the
  device count, so rows shard evenly) and `pack_groups` packing groups per batch
  (0 = one per process; a group's rows hold only its interviews' answers)."""
  num_buckets: int = 4
  pad_multiple: int = 8
  width_factor: float = packing.DEFAULT_WIDTH_FACTOR
  row_multiple: int = 8
  pack_groups: int = 0


@dataclasses.dataclass(frozen=True)
class LoaderOptions:
  """How batches are loaded, never what they hold (tested); the CPU-specific levers:

  num_threads, prefetch: grain's reading threads and batches loaded ahead.
  worker_count: grain worker processes; off, as records are small and packing cheap.
  cache_mb: a split's decoded records stay in memory across epochs when its answers fit
    (decoding, not reading, is most of the loading cost).
  load_window: batches per grain element: the loading thread wakes once per window, not
    per batch, which matters on a 2-core CPU whose cores XLA's step keeps busy.
  window_mb: the most answer data one window may hold (fewer batches per window above).
  Host batches are also 64-byte aligned (`_aligned_empty`), so XLA:CPU takes them in place.
  """
  num_threads: int = 1
  prefetch: int = 4
  worker_count: int = 0
  cache_mb: float = 1024
  load_window: int = 8
  window_mb: float = 64


class DatasetCache:
  """What the pipeline keeps of one prepared dataset between epochs: meta.json, epoch
  plans (training plans every epoch up front to count its steps, then each again when it
  gets there) and the record tables of splits that fit `LoaderOptions.cache_mb`.
  Owned by the dataset object that reads the data; a rebuilt dataset (meta.json changed)
  empties it."""

  max_plans = 64

  def __init__(self, data_dir: str, modality: str):
    self.data_dir, self.modality = data_dir, modality
    self._stamp: int | None = None
    self._meta: dict = {}
    self._plans: collections.OrderedDict[tuple, list[packing.PackedBatch]] = (
        collections.OrderedDict())
    self._tables: dict[str, _RecordTable] = {}

  @property
  def meta(self) -> dict:
    """meta.json (do not mutate), reloaded, with everything else dropped, on a rebuild."""
    stamp = _meta_version(self.data_dir, self.modality)[1]
    if stamp != self._stamp:
      self._meta = load_meta(self.data_dir, self.modality)
      self._plans.clear()
      self._tables.clear()
      self._stamp = stamp
    return self._meta

  def epoch_plan(self, split: str, *, batch_size: int, seed: int = 0, epoch: int = 0,
                 shuffle: bool = False, process_count: int = 1,
                 options: PackingOptions = PackingOptions()
                 ) -> tuple[list[packing.PackedBatch], Layout, dict]:
    """(the epoch's global batches, the dataset's Layout, meta) without loading a record.

    `options.pack_groups` (0 = one per process) must be a multiple of `process_count`
    and divide `batch_size`.
    """
    if batch_size < 1 or batch_size % process_count:
      raise ValueError(f'batch_size {batch_size} must be a positive multiple of '
                       f'process_count {process_count}')
    groups = options.pack_groups or process_count
    if groups % process_count or batch_size % groups:
      raise ValueError(f'pack_groups {groups} must be a multiple of process_count '
                       f'{process_count} and divide batch_size {batch_size}')
    meta = self.meta
    if split not in meta['lengths']:
      raise ValueError(f'unknown split {split!r}; the dataset has {list(meta["lengths"])}')
    layout = packing_layout(meta, batch_size=batch_size, groups=groups,
                            num_buckets=options.num_buckets,
                            pad_multiple=options.pad_multiple,
                            width_factor=options.width_factor,
                            row_multiple=options.row_multiple)
    key = (split, layout, batch_size, seed, epoch, shuffle, groups)
    plan = self._plans.get(key)
    if plan is None:
      plan = batch_plan(meta['lengths'][split], layout, batch_size=batch_size,
                        max_questions=int(meta['max_questions']), seed=seed, epoch=epoch,
                        shuffle=shuffle, groups=groups)
      self._plans[key] = plan
      while len(self._plans) > self.max_plans:
        self._plans.popitem(last=False)
    else:
      self._plans.move_to_end(key)
    return list(plan), layout, meta

  def record_table(self, split: str, cache_mb: float, feature_dim: int,
                   layout: dict[str, slice], state_stats: StateStats | None = None
                   ) -> '_RecordTable | None':
    """The split's in-memory record table, or None if its answers (and word states)
    exceed `cache_mb`."""
    lengths = self.meta['lengths'][split]
    steps = sum(sum(r) for r in lengths)
    size = steps * max(feature_dim, 1) * 4
    if state_stats is not None:  # float16 states of the answers, questions and titles.
      places = (layout['questions'].stop - layout['questions'].start
                + layout['job_title'].stop - layout['job_title'].start)
      size += 2 * state_stats.dim * (steps + len(lengths) * places)
    if size > cache_mb * 2**20:
      return None
    if split not in self._tables:
      self._tables[split] = _RecordTable(lengths, feature_dim, layout, state_stats)
    return self._tables[split]


@dataclasses.dataclass(frozen=True)
class StateStats:
  """Per-dimension mean and std (<float32>[D]) of an llm dataset's training answer word
  states: batches carry the states standardised with them, since a few dimensions of a
  language model's residual stream are tens of times larger than the rest (SmolLM2's
  layer 16: root mean squares of 91 and 71 against a median of 2.7)."""
  mean: np.ndarray
  std: np.ndarray

  @property
  def dim(self) -> int:
    return int(self.mean.shape[0])

  def standardise(self, states: np.ndarray) -> np.ndarray:
    """<float16> (states - mean) / std."""
    return ((np.asarray(states, np.float32) - self.mean) / self.std).astype(np.float16)


def load_state_stats(data_dir: str, modality: str) -> StateStats | None:
  """The word-state statistics of an llm dataset; None for any other dataset."""
  path = os.path.join(assets_dir(data_dir, modality), dataset_spec.STATE_STATS_FILE)
  if not os.path.exists(path):
    return None
  with np.load(path) as z:
    return StateStats(mean=z['mean'].astype(np.float32), std=z['std'].astype(np.float32))


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
  info = {'candidate_id': list(meta['candidate_ids'][split]),
          'position_id': list(meta['position_ids'][split]),
          'label': [int(x) for x in meta['labels'][split]]}
  if 'attributes' in meta:  # Group attributes for audits; no model reads them.
    info['attributes'] = list(meta['attributes'][split])
  return info


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

  A dataset without a training split (data_prep.hirenet.build.featurize_corpus) uses the
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
class Layout:
  """The packed shapes of a dataset: row width W and rows R of each bucket.

  Records go to the first bucket whose width holds their longest answer.
  """
  widths: tuple[int, ...]
  rows: tuple[int, ...]

  def bucket(self, longest_answer: int) -> int:
    return int(np.searchsorted(np.asarray(self.widths), longest_answer, side='left'))


def packing_layout(meta: dict, *, batch_size: int, num_buckets: int = 4,
                   pad_multiple: int = 8, width_factor: float = packing.DEFAULT_WIDTH_FACTOR,
                   row_multiple: int = 8, groups: int = 1) -> Layout:
  """Bucket widths and rows from the training lengths (all splits share them).

  Width of a bucket: its length boundary (`dataset_boundaries`), widened to
  `width_factor` times the mean answer length so that rows hold several answers
  (deeper rows suit CPUs; a latency-bound GPU may prefer a factor near 1), rounded up to
  `pad_multiple`. Buckets of equal width merge. Rows: what `batch_size` interviews of the
  bucket's mean total length fill, rounded down to `row_multiple` (a multiple of the
  device count, so rows shard evenly), at least `max_questions` per packing group.
  """
  if width_factor <= 0:
    raise ValueError(f'width_factor must be positive, got {width_factor}')
  round_up = lambda x, m: int(-(-max(int(np.ceil(x)), 1) // m) * m)  # Rows.
  splits = [s for s, lengths in meta['lengths'].items() if lengths]
  reference = meta['lengths']['train'] if 'train' in splits else [
      r for s in splits for r in meta['lengths'][s]]
  answers = [n for record in reference for n in record if n > 0]
  mean_answer = float(np.mean(answers)) if answers else 1.0
  boundaries = dataset_boundaries(meta, num_buckets, pad_multiple)
  widths = tuple(sorted({packing.row_width(bd, mean_answer, width_factor, pad_multiple)
                         for bd in boundaries}))
  longest = np.asarray([max(r) for r in reference], np.int64)
  totals = np.asarray([sum(r) for r in reference], np.float64)
  bucket_of = np.searchsorted(np.asarray(widths), longest, side='left')
  max_questions = int(meta['max_questions'])
  rows = []
  for k, width in enumerate(widths):
    members = totals[bucket_of == k]
    mean_total = members.mean() if len(members) else totals.mean()
    # Rounded down: rows, not the interview count, should close a batch (full rows).
    multiple = math.lcm(row_multiple, groups)
    fitting = int(batch_size * mean_total / width) // multiple * multiple
    rows.append(max(fitting, round_up(groups * max_questions, multiple)))
  return Layout(widths=widths, rows=tuple(rows))


def batch_plan(lengths: Sequence[Sequence[int]], layout: Layout, *, batch_size: int,
               max_questions: int, seed: int, epoch: int, shuffle: bool,
               groups: int = 1) -> list[packing.PackedBatch]:
  """The epoch's global batches (packing.pack_records per bucket); each record once.

  Deterministic in (seed, epoch). Without shuffle, records keep their order within a
  bucket and buckets go from narrow to wide. The number of batches may change a little
  from epoch to epoch (packing decides how many interviews fit).
  """
  longest = np.asarray([max(r, default=0) for r in lengths], np.int64)
  if len(longest) and longest.max() > layout.widths[-1]:
    raise ValueError(f'a record with an answer of length {longest.max()} exceeds the '
                     f'widest bucket {layout.widths[-1]}')
  rng = np.random.default_rng([seed, epoch])
  order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
  bucket_of = np.searchsorted(np.asarray(layout.widths), longest, side='left')
  plan = []
  for k, (width, rows) in enumerate(zip(layout.widths, layout.rows)):
    members = order[bucket_of[order] == k]
    plan += packing.pack_records(members, lengths, batch_size=batch_size, rows=rows,
                                 width=width, max_questions=max_questions, groups=groups)
  if shuffle:
    plan = [plan[i] for i in rng.permutation(len(plan))]
  return plan


class Batches:
  """One epoch of numpy batch dicts (docs/contracts.md) for one process.

  Iterating loads and packs records through grain with `num_threads` reading threads
  (and `worker_count` worker processes, off by default: records are small and
  packing is cheap); `len()` is the number of batches left after `start_step`.

  Each grain element is a window of `window` consecutive batches (`load_window`, fewer
  where a window's answers would exceed `window_mb`), loaded in one go and handed out
  one by one; `prefetch` batches (rounded up to whole windows) are loaded ahead. Loading
  in windows wakes the loading thread once per window instead of once per batch: on a
  2-core CPU, where XLA's threads use both cores, per-batch wake-ups cost ~7% of the
  training steps' speed and windows of 8 ~3% (benchmarks/training.py `pipeline`).

  Multi-host: each batch has `pack_groups` packing groups (default: one per process), a
  multiple of `process_count`, so a process's packed rows hold only its own interviews'
  answers. A single process with `pack_groups=P` sees exactly what P processes see.
  """

  def __init__(self, data_dir: str, modality: str, split: str, *, batch_size: int,
               seed: int = 0, epoch: int = 0, shuffle: bool = False,
               process_index: int = 0, process_count: int = 1, start_step: int = 0,
               pack: PackingOptions = PackingOptions(),
               loader: LoaderOptions = LoaderOptions(), cache: DatasetCache | None = None):
    if not 0 <= process_index < process_count:
      raise ValueError(f'process_index {process_index} not in [0, {process_count})')
    if loader.load_window < 1:
      raise ValueError(f'load_window must be at least 1, got {loader.load_window}')
    cache = cache or DatasetCache(data_dir, modality)
    self.full_plan, self.layout, meta = cache.epoch_plan(
        split, batch_size=batch_size, seed=seed, epoch=epoch, shuffle=shuffle,
        process_count=process_count, options=pack)
    self.meta = meta
    self.data_dir, self.modality, self.split = data_dir, modality, split
    self.batch_size = batch_size
    self.local_batch_size = batch_size // process_count
    self._process_index, self._process_count = process_index, process_count
    self.max_questions = int(meta['max_questions'])
    self.max_question_length = max(1, int(meta['max_question_length']))
    self.max_job_title_length = max(1, int(meta['max_job_title_length']))
    self.feature_dim = int(meta['feature_dim'])
    self.state_dim = int(meta.get('state_dim') or 0)  # Word states of an llm dataset.
    self._state_stats = None
    if self.state_dim:
      self._state_stats = load_state_stats(data_dir, modality)
      if self._state_stats is None or self._state_stats.dim != self.state_dim:
        raise ValueError(f'{assets_dir(data_dir, modality)} has no '
                         f'{dataset_spec.STATE_STATS_FILE} of {self.state_dim}-d states '
                         '(rebuild the dataset)')
    self._answer_lengths = meta['lengths'][split]
    self.plan = self.full_plan[start_step:]
    self._loader = loader
    # Bytes per answer step: its id or features, and its float16 word state.
    step_bytes = 4 * max(self.feature_dim, 1) + 2 * self.state_dim
    batch_mb = max(r * w for r, w, *_ in self.shapes) * step_bytes / 2**20
    self.window = max(1, min(loader.load_window, int(loader.window_mb // batch_mb)))
    self._source = None
    self._cache = cache.record_table(split, loader.cache_mb, self.feature_dim,
                                     self._fixed_layout(), self._state_stats)
    # The layout is news once per run; later epochs' lines are details (--verbosity=1).
    log = logging.info if epoch == 0 and split == 'train' else functools.partial(logging.vlog, 1)
    log('%s/%s epoch %d: %d batches of up to %d interviews, packed rows '
                 '(R x W) %s, padding efficiency %.1f%%.', modality, split, epoch,
                 len(self.full_plan), batch_size,
                 ', '.join(f'{r}x{w}' for r, w in zip(self.layout.rows, self.layout.widths)),
                 100 * self.padding_efficiency)

  def __getstate__(self):
    # Worker processes open their own data source and, without the table, read their
    # records per batch.
    return self.__dict__ | {'_source': None, '_cache': None}

  def __len__(self) -> int:
    return len(self.plan)

  @property
  def padding_efficiency(self) -> float:
    """Valid / packed steps over the whole epoch's global plan (start_step ignored)."""
    return packing.padding_efficiency(self.full_plan, self._answer_lengths)

  @property
  def shapes(self) -> list[tuple[int, ...]]:
    """The packed `answers` shapes this split can produce (per process)."""
    d = (self.feature_dim,) if self.feature_dim else ()
    return [(r // self._process_count, w) + d
            for r, w in zip(self.layout.rows, self.layout.widths)]

  def _data_source(self):
    if self._source is None:
      builder = tfds.builder_from_directory(dataset_dir(self.data_dir, self.modality))
      self._source = builder.as_data_source(split=self.split)
    return self._source

  def _fixed_layout(self) -> dict[str, slice]:
    return _fixed_layout(self.max_questions, self.max_question_length,
                         self.max_job_title_length)

  def _table(self, indices: list[int]) -> tuple[_RecordTable, np.ndarray]:
    """The records `indices` in a `_RecordTable`, with their row numbers in it: the split's
    table, kept in memory across epochs when the split fits `cache_mb` (decoding, not
    reading, is most of the loading cost), or a table of just these records."""
    if self._cache is None:
      table = _RecordTable([self._answer_lengths[i] for i in indices], self.feature_dim,
                           self._fixed_layout(), self._state_stats)
      table.fill(range(len(indices)), self._data_source().__getitems__(indices),
                 self._names(indices))
      return table, np.arange(len(indices))
    missing = [i for i in indices if not self._cache.filled[i]]
    if missing:
      self._cache.fill(missing, self._data_source().__getitems__(missing),
                       self._names(missing))
    return self._cache, np.asarray(indices, np.int64)

  def _names(self, indices: list[int]) -> list[str]:
    where = f'{dataset_dir(self.data_dir, self.modality)} {self.split}'
    return [f'record {i} of {where}' for i in indices]

  def load(self, batch: packing.PackedBatch) -> dict[str, np.ndarray]:
    """This process's rows of one planned batch, packed to the contract shapes."""
    p = self._process_index
    interviews = slice(p * self.local_batch_size, (p + 1) * self.local_batch_size)
    local_rows = batch.rows // self._process_count
    indices = batch.indices[interviews]
    b, q, r, w = len(indices), self.max_questions, local_rows, batch.width
    d = (self.feature_dim,) if self.feature_dim else ()
    specs = {
        'answers': ((r, w) + d, np.float32 if d else np.int32),
        'answer_segments': ((r, w), np.int32),  # These two are written whole below.
        'answer_lengths': ((b, q), np.int32),
        'answer_rows': ((b, q), np.int32),
        'answer_starts': ((b, q), np.int32),
        'questions': ((b, q, self.max_question_length), np.int32),
        'question_lengths': ((b, q), np.int32),
        'job_title': ((b, self.max_job_title_length), np.int32),
        'job_title_length': ((b,), np.int32),
        'label': ((b,), np.int32),
        'weight': ((b,), np.float32),
        'index': ((b,), np.int32),
    }
    if self.state_dim:  # Written whole below too.
      e = self.state_dim
      specs.update(answer_states=((r, w, e), np.float16),
                   question_states=((b, q, self.max_question_length, e), np.float16),
                   job_title_states=((b, self.max_job_title_length, e), np.float16))
    out = _aligned_empty(specs)
    out['answer_rows'][...] = batch.answer_rows[interviews]
    out['answer_starts'][...] = batch.answer_starts[interviews]
    out['index'][...] = indices  # -1 for padding rows.
    real = indices >= 0
    out['weight'][...] = real
    rows = np.flatnonzero(real)
    table, ids = self._table(indices[rows].tolist())
    _fill_rows(out, rows, table, ids, slot_offset=p * b * q, row_offset=p * local_rows)
    return out

  def _load_window(self, window: Sequence[packing.PackedBatch]) -> list[dict[str, np.ndarray]]:
    return [self.load(batch) for batch in window]

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    if not self.plan:
      return
    w = self.window
    windows = [self.plan[i:i + w] for i in range(0, len(self.plan), w)]
    ds = grain.MapDataset.source(windows).map(self._load_window).to_iter_dataset(
        grain.ReadOptions(num_threads=self._loader.num_threads,
                          prefetch_buffer_size=max(1, -(-self._loader.prefetch // w))))
    if self._loader.worker_count > 0:
      # Needs parsed absl flags (grain defines some), as under app.run.
      ds = ds.mp_prefetch(grain.MultiprocessingOptions(
          num_workers=self._loader.worker_count))
    it = iter(ds)
    try:
      for loaded in it:
        yield from loaded
    finally:
      if hasattr(it, 'close'):
        it.close()  # Stops prefetch threads/processes and frees shared memory.


# XLA:CPU uses host arrays aligned to this many bytes in place and copies the others
# when they are passed to a jitted step; numpy only aligns to 16.
_ALIGNMENT = 64


def _aligned_empty(specs: dict[str, tuple[tuple[int, ...], type]]) -> dict[str, np.ndarray]:
  """Uninitialised C-contiguous arrays {key: (shape, dtype)}, each starting on an
  `_ALIGNMENT`-byte boundary, carved from one allocation."""
  sizes = {key: math.prod(shape) * np.dtype(dtype).itemsize
           for key, (shape, dtype) in specs.items()}
  arena = np.empty(sum(-(-n // _ALIGNMENT) * _ALIGNMENT for n in sizes.values())
                   + _ALIGNMENT, np.uint8)
  start = -arena.ctypes.data % _ALIGNMENT
  out = {}
  for key, (shape, dtype) in specs.items():
    out[key] = arena[start:start + sizes[key]].view(dtype).reshape(shape)
    start += -(-sizes[key] // _ALIGNMENT) * _ALIGNMENT
  return out


@functools.lru_cache(maxsize=64)
def _fixed_layout(max_questions: int, max_question_length: int,
                  max_job_title_length: int) -> dict[str, slice]:
  """Where each small field of a record lies in its fixed-width row (`_fixed_row`)."""
  sizes = {'answer_lengths': max_questions, 'question_lengths': max_questions,
           'job_title': max_job_title_length, 'job_title_length': 1, 'label': 1,
           'questions': max_questions * max_question_length}
  ends = np.cumsum(list(sizes.values()))
  return {key: slice(int(end) - size, int(end))
          for (key, size), end in zip(sizes.items(), ends)}


def _fixed_row(rec: dict, layout: dict[str, slice], max_question_length: int, *,
               name: str) -> np.ndarray:
  """A record's small fields padded to the batch widths, in one int32 row laid out by
  `layout` (question k of `questions` at k * max_question_length). `_RecordTable`
  keeps the rows, and a batch takes its records' rows with one gather instead of a
  ragged scatter per field."""
  lq = max_question_length
  fields = {key: np.asarray(rec[key], np.int32).reshape(-1) for key in
            ('answer_lengths', 'question_lengths', 'job_title', 'questions')}
  fields['job_title_length'] = np.array([len(fields['job_title'])], np.int32)
  fields['label'] = np.array([int(rec['label'])], np.int32)
  question_lengths, questions = fields['question_lengths'], fields['questions']
  width = lambda key: layout[key].stop - layout[key].start
  if (any(len(fields[k]) > width(k) for k in ('answer_lengths', 'question_lengths',
                                                'job_title'))
      or (question_lengths > lq).any() or question_lengths.sum() != len(questions)):
    raise ValueError(
        f'{name} does not fit the widths of its dataset\'s meta.json '
        f'({width("answer_lengths")} questions of up to {lq} tokens, job titles of up to '
        f'{width("job_title")}): answer_lengths {fields["answer_lengths"].tolist()}, '
        f'question_lengths {question_lengths.tolist()}, {len(questions)} question '
        f'tokens, {len(fields["job_title"])} job title tokens (rebuild the dataset)')
  row = np.zeros(max(sl.stop for sl in layout.values()), np.int32)
  for key in ('answer_lengths', 'question_lengths', 'job_title', 'job_title_length',
              'label'):
    row[layout[key].start:layout[key].start + len(fields[key])] = fields[key]
  row[layout['questions'].start + _question_places(question_lengths, lq)] = questions
  return row


def _question_places(question_lengths: np.ndarray, max_question_length: int) -> np.ndarray:
  """Where each word of the concatenated questions goes when question k starts at
  k * max_question_length."""
  starts = np.cumsum(question_lengths) - question_lengths
  within = np.arange(int(question_lengths.sum())) - np.repeat(starts, question_lengths)
  return (np.repeat(np.arange(len(question_lengths)) * max_question_length,
                    question_lengths) + within)


class _RecordTable:
  """Records as batches take them, in flat arrays: every answer of every record back to
  back in one `answers` array (answer q of record i at `starts[i, q]`, with one row of
  zeros at the end for padding), and each record's small fields in one fixed-width
  int32 row (`_fixed_row`). A batch is then one gather from `answers` and one from
  `rows`, whatever its records. Filled as records are decoded (`filled`); the answer
  lengths come from meta.json and each record is checked against them. An llm dataset's
  word states (`state_stats` given) lie the same way, standardised: `answer_states`
  beside `answers`, `question_states` and `job_title_states` per record at the places
  of their words.
  """

  def __init__(self, lengths: Sequence[Sequence[int]], feature_dim: int,
               layout: dict[str, slice], state_stats: StateStats | None = None):
    num_questions = layout['answer_lengths'].stop - layout['answer_lengths'].start
    self.lengths = np.zeros((len(lengths), num_questions), np.int64)
    for i, record_lengths in enumerate(lengths):
      self.lengths[i, :len(record_lengths)] = record_lengths
    flat = self.lengths.ravel()
    self.starts = (np.cumsum(flat) - flat).reshape(self.lengths.shape)
    self.padding = int(flat.sum())  # The row of zeros.
    d = (feature_dim,) if feature_dim else ()
    self.answers = np.zeros((self.padding + 1,) + d, np.float32 if d else np.int32)
    self.rows = np.zeros((len(lengths), max(sl.stop for sl in layout.values())), np.int32)
    self.filled = np.zeros(len(lengths), bool)
    self.layout = layout
    questions = layout['questions']
    self._max_question_length = (questions.stop - questions.start) // num_questions
    self.state_stats = state_stats
    self.state_dim = state_dim = state_stats.dim if state_stats is not None else 0
    if state_dim:
      title = layout['job_title'].stop - layout['job_title'].start
      self.answer_states = np.zeros((self.padding + 1, state_dim), np.float16)
      self.question_states = np.zeros(
          (len(lengths), questions.stop - questions.start, state_dim), np.float16)
      self.job_title_states = np.zeros((len(lengths), title, state_dim), np.float16)

  def fill(self, ids: Sequence[int], records: Sequence[dict], names: Sequence[str]) -> None:
    """Writes decoded `records` into rows `ids`; `names` name them in errors."""
    for i, rec, name in zip(ids, records, names):
      row = _fixed_row(rec, self.layout, self._max_question_length, name=name)
      lengths = np.asarray(rec['answer_lengths'], np.int64).reshape(-1)
      answers = np.asarray(rec['answers'])
      want = self.lengths[i]
      if (len(lengths) > len(want) or (lengths != want[:len(lengths)]).any()
          or want[len(lengths):].any() or len(answers) != lengths.sum()):
        raise ValueError(f'{name} has answer lengths {lengths.tolist()} and '
                         f'{len(answers)} answer steps, but meta.json says '
                         f'{want.tolist()} (rebuild the dataset)')
      if answers.shape[1:] != self.answers.shape[1:]:
        raise ValueError(f'{name} has answer steps of shape {answers.shape[1:]}, but '
                         f'meta.json says {self.answers.shape[1:]} (rebuild the dataset)')
      start = self.starts[i, 0]
      self.answers[start:start + len(answers)] = answers
      if self.state_dim:
        self._fill_states(i, rec, name)
      self.rows[i] = row
      self.filled[i] = True

  def _fill_states(self, i: int, rec: dict, name: str) -> None:
    """Record `i`'s word states, each beside its word id."""
    states = {key: np.asarray(rec.get(key + '_states', np.zeros((0, 0))))
              for key in ('answer', 'question', 'job_title')}
    question_lengths = np.asarray(rec['question_lengths'], np.int64).reshape(-1)
    words = {'answer': int(self.lengths[i].sum()), 'question': int(question_lengths.sum()),
             'job_title': len(np.asarray(rec['job_title']).reshape(-1))}
    for key, x in states.items():
      if x.shape != (words[key], self.state_dim):
        raise ValueError(f'{name} has {key} states of shape {x.shape} for {words[key]} '
                         f'words of {self.state_dim}-d states (rebuild the dataset)')
    states = {key: self.state_stats.standardise(x) for key, x in states.items()}
    start = self.starts[i, 0]
    self.answer_states[start:start + words['answer']] = states['answer']
    places = _question_places(question_lengths, self._max_question_length)
    self.question_states[i, places] = states['question']
    self.job_title_states[i, :words['job_title']] = states['job_title']


def _fill_rows(out: dict[str, np.ndarray], rows: np.ndarray, table: _RecordTable,
               ids: np.ndarray, *, slot_offset: int, row_offset: int) -> None:
  """Writes records `ids` of `table` into interview rows `rows` (zeros in the other rows)
  and their answers into their packed places, writing all of `answers` and
  `answer_segments` (padding included); `answer_rows`, `answer_starts` must be set.

  `answer_rows` hold global rows (minus `row_offset` locally); segment ids are global
  slots `b * Q + q` (`slot_offset` = this process's first slot). Vectorised over the
  batch, with no Python per record or answer: the small fields in one gather from the
  table's rows; the answers in one gather from its answers, padding places reading its
  row of zeros (`packing.tiled_sources`); their segment ids in one repeat. Copying answer
  by answer would cost more than the train step of a small batch.
  """
  b, q = out['answer_lengths'].shape
  fixed = np.zeros((b, table.rows.shape[1]), np.int32)
  fixed[rows] = table.rows[ids]
  for key, columns in table.layout.items():  # Padding rows get zeros.
    out[key][...] = fixed[:, columns].reshape(out[key].shape)
  lengths_NxQ = table.lengths[ids]
  present = lengths_NxQ > 0
  slots = (rows[:, None] * q + np.arange(q))[present]
  lengths = lengths_NxQ[present]
  answer_rows = out['answer_rows'].reshape(-1)[slots] - row_offset
  answer_starts = out['answer_starts'].reshape(-1)[slots]
  num_rows, width = out['answer_segments'].shape
  order, gaps = packing.tiling(num_rows, width, answer_rows, answer_starts, lengths)
  sources = packing.tiled_sources(order, gaps, table.starts[ids][present], lengths,
                                  table.padding)
  np.take(table.answers, sources, axis=0, mode='clip',
          out=out['answers'].reshape((-1,) + out['answers'].shape[2:]))
  out['answer_segments'][...] = packing.tiled_ids(
      order, gaps, slot_offset + slots, lengths).reshape(num_rows, width)
  if 'answer_states' in out:  # Packed exactly like the answers; padding rows zero.
    np.take(table.answer_states, sources, axis=0, mode='clip',
            out=out['answer_states'].reshape(-1, table.state_dim))
    for key in ('question_states', 'job_title_states'):
      out[key][...] = 0
      out[key][rows] = getattr(table, key)[ids].reshape(
          (len(ids),) + out[key].shape[1:])


# ------------------------------------------------------- what training reads


class DataSource(Protocol):
  """What training reads: a prepared dataset of one modality (see input_pipeline)."""
  meta: dict  # meta.json: vocab_size, feature_dim, candidate_ids per split, ...

  def embeddings(self) -> np.ndarray | None:
    """Pretrained word vectors float32 [V, E], or None."""

  def num_records(self, split: str) -> int:
    """Candidates in `split` (all processes together)."""

  def num_batches(self, split: str, *, batch_size: int, epoch: int = 0,
                  shuffle: bool = False) -> int:
    """Batches of one epoch of `split` (the same on every process)."""

  def batches(self, split: str, *, batch_size: int, epoch: int, shuffle: bool,
              start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """This process's rows of each global batch, from batch `start_step` on."""

  def record_info(self, split: str) -> dict[str, list]:
    """Per record of `split` in record order: `candidate_id`, `position_id`, `label`
    and `answer_index` (raw interview position of each answer slot)."""


class PreparedDataset:
  """A DataSource over the TFDS shards written by `data_prep.hirenet.build`."""

  def __init__(self, data_dir: str, modality: str, *, seed: int, num_buckets: int,
               width_factor: float = packing.DEFAULT_WIDTH_FACTOR, pack_groups: int = 0,
               loader: LoaderOptions = LoaderOptions()):
    self.data_dir, self.modality = data_dir, modality
    # Packed rows shard over the devices: their count is a multiple of 8 and of the
    # device count (so 1 and 8 devices see the same batches).
    self.pack = PackingOptions(num_buckets=num_buckets, width_factor=width_factor,
                               row_multiple=math.lcm(8, jax.device_count()),
                               pack_groups=pack_groups)
    self.loader = loader
    self._seed = seed
    meta_path = os.path.join(assets_dir(data_dir, modality), 'meta.json')
    if not os.path.exists(meta_path):
      raise ConfigError(f'no prepared {modality!r} dataset in {data_dir} '
                        f'(missing {meta_path}); build it with data_prep.hirenet.build')
    self.cache = DatasetCache(data_dir, modality)
    self.meta = self.cache.meta
    self._info = {}

  def embeddings(self):
    return load_embeddings(self.data_dir, self.modality)

  def num_records(self, split):
    return len(self.meta['candidate_ids'][split])

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict,
                  data_dir: str | None = None) -> 'PreparedDataset':
    """The prepared dataset of `config` (`data_dir` overrides config.data_dir)."""
    return cls(data_dir or config.data_dir, config.modality, seed=config.seed,
               num_buckets=config.num_buckets,
               width_factor=config.get('row_width_factor', packing.DEFAULT_WIDTH_FACTOR),
               pack_groups=config.get('pack_groups', 0))

  def _plan(self, split, *, batch_size, epoch, shuffle):
    return self.cache.epoch_plan(split, batch_size=batch_size, seed=self._seed,
                                 epoch=epoch, shuffle=shuffle,
                                 process_count=jax.process_count(), options=self.pack)

  def num_batches(self, split, *, batch_size, epoch=0, shuffle=False):
    return len(self._plan(split, batch_size=batch_size, epoch=epoch, shuffle=shuffle)[0])

  def batches(self, split, *, batch_size, epoch, shuffle, start_step=0):
    return Batches(self.data_dir, self.modality, split, batch_size=batch_size,
                   seed=self._seed, epoch=epoch, shuffle=shuffle,
                   process_index=jax.process_index(), process_count=jax.process_count(),
                   start_step=start_step, pack=self.pack, loader=self.loader,
                   cache=self.cache)

  def record_info(self, split):
    if split not in self._info:
      source = tfds.builder_from_directory(
          dataset_dir(self.data_dir, self.modality)).as_data_source(split=split)
      records = source.__getitems__(list(range(len(source))))
      text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
      self._info[split] = {
          'candidate_id': [text(r['candidate_id']) for r in records],
          'position_id': [text(r['position_id']) for r in records],
          'label': [int(r['label']) for r in records],
          'answer_index': [np.asarray(r['answer_index']).tolist() for r in records]}
      if 'attributes' in self.meta:  # Group attributes for audits; no model reads them.
        self._info[split]['attributes'] = list(self.meta['attributes'][split])
    return self._info[split]

  def padding_efficiency(self, split, *, batch_size, epoch=0, shuffle=False):
    """Valid / packed time steps over one epoch's plan."""
    plan, _, meta = self._plan(split, batch_size=batch_size, epoch=epoch, shuffle=shuffle)
    return packing.padding_efficiency(plan, meta['lengths'][split])
