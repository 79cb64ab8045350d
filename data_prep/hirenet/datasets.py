"""Prepared datasets on demand: a raw corpus (or the default synthetic one) built once
into a cache, and a new corpus featurised with a trained run's vocabulary and statistics.
"""

from __future__ import annotations

import hashlib
import os

from absl import logging

from data_prep.hirenet import build
from data_prep.hirenet import corpus as corpus_lib
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


def _words(value) -> list[str]:
  """Decision words from a comma-separated string (or a list)."""
  items = value.split(',') if isinstance(value, str) else list(value or ())
  return [w.strip() for w in items if w.strip()]


def build_options(config) -> dict:
  """data_prep.hirenet.build.build_dataset's options that `config` asks for: `embeddings`,
  `representation` ('llm...' from config.text_representation, with `gguf`; None
  otherwise: word2vec or `embeddings`), `on_error`, `decisions`, `allow_external_media`
  (the defaults where it has no field)."""
  on_error = config.get('on_error', '') or 'fail'
  if on_error not in ('fail', 'skip'):
    raise PrepareError(f'on_error must be fail or skip, got {on_error!r}')
  embeddings = config.get('embeddings', '') or None
  wanted = config.get('text_representation', 'auto') or 'auto'
  representation, gguf = None, config.get('gguf', '') or None
  if wanted != 'auto':
    try:
      rep = build.resolve_representation(wanted, embeddings)
    except ValueError as e:
      raise PrepareError(str(e)) from None
    if rep.kind == 'vectors':
      embeddings = rep.path
    elif rep.kind == 'llm':
      representation = str(dataset_spec.Representation('llm', layer=rep.layer))
  if gguf and representation is None:
    raise PrepareError('config.gguf (--gguf) is read only with the llm representation: '
                       'add --representation=llm[:LAYER]')
  try:
    decisions = corpus_lib.DEFAULT_DECISIONS.extended(
        _words(config.get('hirable_decisions', '')),
        _words(config.get('not_hirable_decisions', '')))
  except ValueError as e:
    raise PrepareError(str(e)) from None
  return dict(embeddings=os.path.abspath(embeddings) if embeddings else None,
              representation=representation,
              gguf=os.path.abspath(gguf) if gguf else None,
              on_error=on_error, decisions=decisions,
              allow_external_media=bool(config.get('allow_external_media', False)))


def cache_key(corpus_dir: str, split: str, pooling: int | None, options: dict) -> str:
  """The cached dataset's name suffix. Only non-default options enter it, so a default
  run keeps finding the dataset it built before they existed; an edited vector file
  keeps its name and is rebuilt in place (build's fingerprint stamps the file)."""
  key = f'{corpus_dir}|{split}' + (f'|frame_pooling={pooling}' if pooling else '')
  if options['on_error'] != 'fail':
    key += f'|on_error={options["on_error"]}'
  if options['embeddings']:
    key += f'|embeddings={options["embeddings"]}'
  if options.get('representation'):  # llm:LAYER; word2vec and vectors say nothing here.
    key += f'|representation={options["representation"]}'
  if options.get('gguf'):
    key += f'|gguf={options["gguf"]}'
  decisions = options['decisions']
  if decisions != corpus_lib.DEFAULT_DECISIONS:
    key += (f'|decisions={",".join(sorted(decisions.hirable))}'
            f'/{",".join(sorted(decisions.not_hirable))}')
  if options['allow_external_media']:
    key += '|allow_external_media'
  return hashlib.sha1(key.encode()).hexdigest()[:12]


def prepare(config, prepared_cache_dir: str) -> str:
  """The prepared dataset directory for `config`, building it if needed.

  `config.data_dir` wins; otherwise `config.corpus_dir` (or the default synthetic corpus)
  is built once into `prepared_cache_dir`, audio pooled by `frame_pooling(config)`, with
  `build_options(config)`.
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
  options = build_options(config)
  if (options['representation'] is None and not options['embeddings']
      and (config.get('text_representation', 'auto') or 'auto') == 'auto'
      and config.get('choose_representation', False)
      and dataset_spec.modality(config.modality).words):
    try:
      chosen, why = build.choose_representation(
          corpus_dir, split=config.split, decisions=options['decisions'],
          allow_external_media=options['allow_external_media'])
    except (CorpusError, ValueError):  # The build below names the problem.
      chosen, why = 'word2vec', 'the corpus could not be read'
    logging.info('text_representation=auto: %s (%s); --representation=... chooses',
                 chosen, why)
    if chosen != 'word2vec':
      options['representation'] = chosen
  key = cache_key(corpus_dir, config.split, pooling, options)
  data_dir = os.path.join(prepared_cache_dir, f'{os.path.basename(corpus_dir)}_{key}')
  if is_chief:
    try:
      try:
        build.build_dataset(corpus_dir, config.modality, data_dir, split=config.split,
                            frame_pooling=pooling, overwrite=False, **options)
      except FileExistsError:
        # Our own cache, built from an older state of the corpus (e.g. the default
        # corpus gained its audio files since): rebuild it in place.
        logging.warning('the cached %s dataset in %s is stale; rebuilding it',
                        config.modality, data_dir)
        build.build_dataset(corpus_dir, config.modality, data_dir, split=config.split,
                            frame_pooling=pooling, overwrite=True, **options)
    except (CorpusError, ValueError) as e:
      hint = ('' if options['on_error'] == 'skip' or not isinstance(e, CorpusError) else
              f' (--on_error=skip drops bad records and lists them in {build.MANIFEST})')
      raise PrepareError(
          f'cannot prepare the {config.modality} data of {corpus_dir}: {e}{hint}') from None
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
