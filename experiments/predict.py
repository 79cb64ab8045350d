r"""Scores every candidate of a raw corpus with a trained run's selected checkpoint.

  python -m experiments.predict --workdir=W --corpus_dir=DIR --output=FILE.jsonl

Writes one JSON line per candidate: candidate_id, position_id, score, hirable (score >=
the run's selected threshold), question_attention (one weight per answer that has
this modality), answer_attention (per such answer, one weight per word or feature frame)
and answer_index (the 0-based position of each of those answers in the raw interview).
The corpus is featurised with the training dataset's vocabulary and normalisation
statistics.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

from absl import app
from absl import flags

from experiments import common as train_cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'A finished training run.', required=True)
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None,
                                  'Raw corpus (interviews.jsonl); default: the run\'s own.')
_OUTPUT = flags.DEFINE_string('output', None, 'Output JSONL file.', required=True)
_CACHE_DIR = flags.DEFINE_string('jax_cache_dir',
                                 os.path.expanduser('~/.cache/hirenet_jax/xla'),
                                 'Persistent XLA compilation cache ("" = off).')


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
    raise train_cli.CommandError(
        'this version of data_prep cannot featurise a new corpus with an existing '
        'dataset\'s vocabulary (data_prep.build.featurize_corpus is missing)')
  out_dir = os.path.join(scratch, 'data')
  info = featurise(corpus_dir, config.modality, config.data_dir, out_dir)
  return out_dir, tuple(info.get('splits', ('test',)) if isinstance(info, dict) else ('test',))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  train_cli.setup_jax(_CACHE_DIR.value)
  from hirenet_jax import train_lib
  workdir = _WORKDIR.value
  config_path = os.path.join(workdir, train_lib.CONFIG_FILE)
  try:
    if not os.path.exists(config_path):
      raise train_cli.CommandError(f'{workdir} is not a training run (no {config_path})')
    import ml_collections
    with open(config_path) as f:
      config = ml_collections.ConfigDict(json.load(f))
    with tempfile.TemporaryDirectory() as scratch:
      data_dir, splits = _sources(config, _CORPUS_DIR.value, scratch)
      data = train_lib.PreparedDataset(data_dir, config.modality, seed=config.seed,
                                       num_buckets=config.num_buckets)
      state, steps, threshold, config = train_lib.load_for_prediction(workdir, data, config)
      batch_size = config.eval_batch_size or config.batch_size
      count = 0
      os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
      with open(_OUTPUT.value, 'w') as out:
        for split in splits:
          if data.num_records(split) == 0:
            continue
          info = data.record_info(split)
          batches = data.batches(split, batch_size=batch_size, epoch=0, shuffle=False)
          for row in train_lib.predict_batches(steps, state, batches):
            i = row['index']
            out.write(json.dumps({
                'candidate_id': info['candidate_id'][i],
                'position_id': info['position_id'][i],
                'score': row['score'],
                'hirable': row['score'] >= threshold,
                'threshold': threshold,
                'question_attention': row['question_attention'],
                'answer_attention': row['answer_attention'],
                'answer_index': [info['answer_index'][i][q] for q in row['answer_slots']],
            }) + '\n')
            count += 1
  except (train_cli.CommandError, train_lib.ConfigError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  print(f'scored {count} candidates -> {_OUTPUT.value}')


if __name__ == '__main__':
  app.run(main)
