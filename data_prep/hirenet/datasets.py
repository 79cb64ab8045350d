"""Prepared datasets on demand: a raw corpus (or the default synthetic one) built once
into a cache, and a new corpus featurised with a trained run's vocabulary and statistics.
"""

from __future__ import annotations

import hashlib
import os

from absl import logging

from data_prep.hirenet import build
from data_prep.hirenet import synthetic
from data_prep.errors import CorpusError
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet import input_pipeline


# Training runs see audio as 0.1 s steps, the means of 10 eGeMAPS frames: at the raw 100
# frames/s the answer GRU must carry a 0.8 s event across hundreds of steps (500 per 5 s
# answer) and memorises instead; 0.1 s steps are still finer than a syllable and close to
# the video windows' 0.25 s hop (docs/performance.md, "Audio"). `config.frame_pooling`
# overrides it where a config has that field (1 = raw frames); a data_dir built by
# `data_prep.hirenet.build` keeps its own `--frame_pooling` (default 1).
AUDIO_FRAME_POOLING = 10


class PrepareError(ValueError):
  """A corpus that cannot be prepared; the message is one line meant for the user."""


def frame_pooling(config) -> int | None:
  """LLD frames averaged per step for `config`'s modality (None: not audio)."""
  if not dataset_spec.modality(config.modality).pools_frames:
    return None
  value = config.get('frame_pooling', 0) or AUDIO_FRAME_POOLING
  if value < 1:
    raise PrepareError(f'frame_pooling must be >= 1 (0 = {AUDIO_FRAME_POOLING}), got {value}')
  return int(value)


def prepare(config, prepared_cache_dir: str) -> str:
  """The prepared dataset directory for `config`, building it if needed.

  `config.data_dir` wins; otherwise `config.corpus_dir` (or the default synthetic corpus)
  is built once into `prepared_cache_dir`, audio pooled by `frame_pooling(config)`.
  Multi-host: process 0 builds, the others wait.
  """
  import jax  # pylint: disable=g-import-not-at-top
  if config.data_dir:
    return config.data_dir
  corpus_dir = config.corpus_dir
  is_chief = jax.process_index() == 0
  if not corpus_dir:
    corpus_dir = synthetic.default_cache_dir()
    if is_chief:
      synthetic.ensure_default_corpus([config.modality])
  corpus_dir = os.path.abspath(corpus_dir)
  if not os.path.exists(os.path.join(corpus_dir, 'interviews.jsonl')) and is_chief:
    raise PrepareError(f'{corpus_dir} is not a corpus (no interviews.jsonl)')
  pooling = frame_pooling(config)
  key = f'{corpus_dir}|{config.split}' + (f'|frame_pooling={pooling}' if pooling else '')
  key = hashlib.sha1(key.encode()).hexdigest()[:12]
  data_dir = os.path.join(prepared_cache_dir, f'{os.path.basename(corpus_dir)}_{key}')
  if is_chief:
    try:
      try:
        build.build_dataset(corpus_dir, config.modality, data_dir, split=config.split,
                            frame_pooling=pooling, overwrite=False)
      except FileExistsError:
        # Our own cache, built from an older state of the corpus (e.g. the default
        # corpus gained its audio files since): rebuild it in place.
        logging.warning('the cached %s dataset in %s is stale; rebuilding it',
                        config.modality, data_dir)
        build.build_dataset(corpus_dir, config.modality, data_dir, split=config.split,
                            frame_pooling=pooling, overwrite=True)
    except (CorpusError, ValueError) as e:
      raise PrepareError(f'cannot prepare the {config.modality} data of {corpus_dir}: {e}')
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices('hirenet_prepare_data')
  return data_dir


def featurize_for_run(config, corpus_dir: str | None, scratch: str
                      ) -> tuple[str, tuple[str, ...]]:
  """(data_dir, splits) holding `corpus_dir` featurised like the run's training data.

  The run's own corpus (or None) needs no work: its prepared dataset is returned.
  """
  meta = input_pipeline.load_meta(config.data_dir, config.modality)
  trained_on = os.path.abspath(meta.get('corpus_dir') or '')
  if corpus_dir is None or os.path.abspath(corpus_dir) == trained_on:
    return config.data_dir, dataset_spec.SPLITS
  out_dir = os.path.join(scratch, 'data')
  info = build.featurize_corpus(corpus_dir, config.modality, config.data_dir, out_dir)
  return out_dir, tuple(info['splits'])
