r"""Runs the paper's baselines for one modality (Table 3 rows above the neural models).

  python -m experiments.baselines --modality=audio [--corpus_dir=DIR | --data_dir=D] \
      [--workdir=W] [--seed=S] [--baselines=vote,non_sequential,bow] [--num_clusters=100]

Vote (random, position-majority), non-sequential (Doc2Vec / eGeMAPS functionals / video
functionals) and Bag-of-*-Words, each with SVM, Ridge and Random Forest tuned on
validation F1. Writes W/results.json (default W: workdirs/baselines_{modality}_s{seed}).
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags
from absl import logging
import numpy as np

from experiments import common

_MODALITY = flags.DEFINE_enum('modality', 'text', ['text', 'audio', 'video'], 'Modality.')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, 'Raw corpus (interviews.jsonl).')
_DATA_DIR = flags.DEFINE_string('data_dir', None, 'Prepared dataset (data_prep.hirenet.build).')
_WORKDIR = flags.DEFINE_string('workdir', None,
                               'Output directory; default workdirs/baselines_{modality}_s{seed}.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of k-means, Doc2Vec, forests, random votes.')
_BASELINES = flags.DEFINE_list('baselines', ['vote', 'non_sequential', 'bow'],
                               'Which baselines to run.')
_NUM_CLUSTERS = flags.DEFINE_integer('num_clusters', 100, 'Bag-of-*-Words codebook size.')
_WORKERS = flags.DEFINE_integer('workers', None, 'Processes for openSMILE (default: all).')

RESULTS_FILE = 'results.json'


def audio_functionals_fn(corpus_dir: str, workers: int | None):
  """Maps split answers to eGeMAPS functionals read from the corpus's audio files.

  An answer whose functionals fail gets the training mean: counted and reported, never
  dropped silently.
  """
  from data_prep.hirenet import audio

  def compute(splits):
    out, failed = {}, []
    for split, answers in splits.items():
      keys = [(answers.candidate_ids[row], int(slot))
              for row, slot in zip(answers.candidate, answers.answer_index)]
      out[split], failures = audio.answer_functionals(corpus_dir, keys, workers=workers)
      failed += failures
    train_mean = np.nanmean(out['train'], axis=0)
    for split in out:
      out[split] = np.where(np.isnan(out[split]), train_mean, out[split])
    for failure in failed:
      logging.warning('eGeMAPS functionals: %s', failure)
    if failed:
      print(f'warning: eGeMAPS functionals failed for {len(failed)} answers '
            '(imputed with the training mean)', file=sys.stderr)
    return out

  return compute


def format_table(results: dict) -> str:
  lines = [f'{"baseline":<16} {"model":<14} {"split":<11} {"precision":>9} {"recall":>7} '
           f'{"f1":>7}']
  for name in ('random_vote', 'majority_vote', 'non_sequential', 'bow'):
    if name not in results:
      continue
    entry = results[name]
    if 'skipped' in entry:
      lines.append(f'{name:<16} skipped: {entry["skipped"]}')
      continue
    family = entry.get('family', '-')
    for split in ('validation', 'test'):
      m = entry[split]
      lines.append(f'{name:<16} {family:<14} {split:<11} {m["precision"]:>9.3f} '
                   f'{m["recall"]:>7.3f} {m["f1"]:>7.3f}')
  return '\n'.join(lines)


def main():
  from experiments.configs import default
  from hirenet_jax.hirenet.baselines import paper as baseline_features
  from hirenet_jax.hirenet import dataset_spec
  from hirenet_jax.hirenet import input_pipeline
  config = default.get_config()
  common.apply_shorthands(config, modality=_MODALITY.value, seed=_SEED.value,
                          corpus_dir=_CORPUS_DIR.value, data_dir=_DATA_DIR.value)
  data_dir = common.prepare_data(config)
  corpus_dir = input_pipeline.load_meta(data_dir, config.modality).get('corpus_dir')
  functionals = None
  needs_media = dataset_spec.modality(config.modality).non_sequential == 'audio_functionals'
  if needs_media and corpus_dir and os.path.isdir(corpus_dir):
    functionals = audio_functionals_fn(corpus_dir, _WORKERS.value)
  results = baseline_features.run_baselines(
      data_dir, config.modality, seed=config.seed, num_clusters=_NUM_CLUSTERS.value,
      which=_BASELINES.value, audio_functionals=functionals,
      log=lambda msg: print(msg, flush=True))
  workdir = _WORKDIR.value or os.path.join(
      'workdirs', f'baselines_{config.modality}_s{config.seed}')
  output = common.write_results(os.path.join(workdir, RESULTS_FILE), results)
  print(format_table(results))
  print(f'wrote {output}')


if __name__ == '__main__':
  app.run(common.entry_point(main, extra_errors=(ValueError,)))
