"""Helpers shared by the entry points (no flags here: each entry point defines its own)."""

from __future__ import annotations

import hashlib
import json
import os

from absl import logging


class CommandError(Exception):
  """A one-line error for the user (bad flags, corpus or dataset)."""


def setup_jax(cache_dir: str, multihost: bool = False, coordinator: str | None = None,
              num_processes: int | None = None, process_id: int | None = None) -> None:
  """Host allocator, compilation cache and, for multi-host runs, jax.distributed.initialize.

  The allocator setting (hirenet_jax/host_memory.py) stops XLA:CPU from page-faulting
  its buffers every step (paper-shape text step 77.6 -> 59.1 ms); it is skipped when the
  environment sets HIRENET_SYSTEM_MALLOC=1.
  """
  from hirenet_jax import host_memory
  if host_memory.opted_out():
    logging.info('Host allocator: glibc defaults (%s is set).', host_memory.OPT_OUT_ENV)
  elif host_memory.keep_freed_memory():
    logging.info('Host allocator: %s.', host_memory.describe())
  import jax
  from hirenet_jax import logging_utils
  logging_utils.quiet_third_party_logs()
  if cache_dir:
    jax.config.update('jax_compilation_cache_dir', cache_dir)
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.5)
  if multihost:
    from hirenet_jax import sharding
    sharding.initialize_multihost(coordinator, num_processes, process_id)


def apply_shorthands(config, *, modality=None, variant=None, seed=None, corpus_dir=None,
                     data_dir=None) -> None:
  """Copies the shorthand flags that were given into the (locked) config."""
  if modality is not None:
    config.modality = modality
  if variant is not None:
    config.model.variant = variant
  if seed is not None:
    config.seed = seed
  if corpus_dir is not None:
    config.corpus_dir = corpus_dir
  if data_dir is not None:
    config.data_dir = data_dir


def prepare_data(config, prepared_cache_dir: str) -> str:
  """The prepared dataset directory for `config`, building it if needed.

  `config.data_dir` wins; otherwise `config.corpus_dir` (or the default synthetic corpus)
  is built once into `prepared_cache_dir`. Multi-host: process 0 builds, the others wait.
  """
  import jax
  from hirenet_jax import train_lib
  train_lib.check_config(config)
  if config.data_dir:
    return config.data_dir
  from data_prep import build
  from data_prep import synthetic
  from data_prep.errors import CorpusError
  corpus_dir = config.corpus_dir
  is_chief = jax.process_index() == 0
  if not corpus_dir:
    corpus_dir = synthetic.default_cache_dir()
    if is_chief:
      synthetic.ensure_default_corpus([config.modality])
  corpus_dir = os.path.abspath(corpus_dir)
  if not os.path.exists(os.path.join(corpus_dir, 'interviews.jsonl')) and is_chief:
    raise CommandError(f'{corpus_dir} is not a corpus (no interviews.jsonl)')
  key = hashlib.sha1(f'{corpus_dir}|{config.split}'.encode()).hexdigest()[:12]
  data_dir = os.path.join(prepared_cache_dir, f'{os.path.basename(corpus_dir)}_{key}')
  if is_chief:
    try:
      try:
        build.build_dataset(corpus_dir, config.modality, data_dir, split=config.split,
                            overwrite=False)
      except FileExistsError:
        # Our own cache, built from an older state of the corpus (e.g. the default
        # corpus gained its audio files since): rebuild it in place.
        logging.warning('the cached %s dataset in %s is stale; rebuilding it',
                        config.modality, data_dir)
        build.build_dataset(corpus_dir, config.modality, data_dir, split=config.split,
                            overwrite=True)
    except (CorpusError, ValueError) as e:
      raise CommandError(f'cannot prepare the {config.modality} data of {corpus_dir}: {e}')
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices('hirenet_prepare_data')
  return data_dir


def default_workdir(config) -> str:
  return os.path.join('workdirs', f'{config.modality}_{config.model.variant}_s{config.seed}')


def format_results(results: dict) -> str:
  """Validation and test precision / recall / F1 of the hirable class."""
  lines = [f'{"split":<11} {"precision":>9} {"recall":>7} {"f1":>7} {"accuracy":>8} '
           f'{"roc_auc":>7}']
  for split in ('validation', 'test'):
    m = results[split]
    auc = 'n/a' if m.get('roc_auc') is None else f'{m["roc_auc"]:.3f}'
    lines.append(f'{split:<11} {m["precision"]:>9.3f} {m["recall"]:>7.3f} {m["f1"]:>7.3f} '
                 f'{m["accuracy"]:>8.3f} {auc:>7}')
  return '\n'.join(lines)


def _sources(config, corpus_dir: str | None, scratch: str):
  """(data_dir, splits) holding the corpus featurised like the training data."""
  from hirenet_jax import input_pipeline
  meta = input_pipeline.load_meta(config.data_dir, config.modality)
  trained_on = os.path.abspath(meta.get('corpus_dir') or '')
  if corpus_dir is None or os.path.abspath(corpus_dir) == trained_on:
    return config.data_dir, ('train', 'validation', 'test')
  from data_prep import build
  featurise = getattr(build, 'featurize_corpus', None)
  if featurise is None:
    raise CommandError(
        'this version of data_prep cannot featurise a new corpus with an existing '
        'dataset\'s vocabulary (data_prep.build.featurize_corpus is missing)')
  out_dir = os.path.join(scratch, 'data')
  info = featurise(corpus_dir, config.modality, config.data_dir, out_dir)
  return out_dir, tuple(info.get('splits', ('test',)) if isinstance(info, dict) else ('test',))


def score_corpus(workdir: str, corpus_dir: str | None, scratch: str):
  """Scores a corpus with a run's selected checkpoint.

  Returns (config, meta of the featurised data, rows): one row per candidate with
  candidate_id, position_id, label, split, score, hirable, threshold,
  question_attention, answer_attention and answer_index (see the module docstring).
  """
  import ml_collections
  from hirenet_jax import train_lib
  config_path = os.path.join(workdir, train_lib.CONFIG_FILE)
  if not os.path.exists(config_path):
    raise CommandError(f'{workdir} is not a training run (no {config_path})')
  with open(config_path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  data_dir, splits = _sources(config, corpus_dir, scratch)
  data = train_lib.PreparedDataset.from_config(config, data_dir)
  state, steps, threshold, config = train_lib.load_for_prediction(workdir, data, config)
  batch_size = config.eval_batch_size or config.batch_size
  rows = []
  for split in splits:
    if data.num_records(split) == 0:
      continue
    info = data.record_info(split)
    batches = data.batches(split, batch_size=batch_size, epoch=0, shuffle=False)
    for row in train_lib.predict_batches(steps, state, batches):
      i = row['index']
      rows.append({
          'candidate_id': info['candidate_id'][i],
          'position_id': info['position_id'][i],
          'label': info['label'][i],
          'split': split,
          'score': row['score'],
          'hirable': row['score'] >= threshold,
          'threshold': threshold,
          'question_attention': row['question_attention'],
          'answer_attention': row['answer_attention'],
          'answer_index': [info['answer_index'][i][q] for q in row['answer_slots']],
      })
  return config, data.meta, rows
