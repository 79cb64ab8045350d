r"""Trains the neural variants on every corpus of the robustness suite, beside the simple
baselines, and writes one table (docs/robustness.md shows it).

  python -m experiments.suite --workdir=W [--corpora=a_default,...] \
      [--variants=bigru,hn_avg,hn_satt,hirenet] [--seeds=3] [--config.X=...]

The corpora come from `data_prep.hirenet.corpus_suite` (generated once and cached). Each run
lives in W/{corpus}/{variant}_s{seed} (a finished run is read back, an interrupted one
resumes). TF-IDF + logistic regression and the position-majority vote are fitted once per
corpus on the same split. Writes W/suite.md, W/suite.csv and W/suite_results.json: test
ROC AUC and F1 (mean ± std over seeds), the runs whose test predictions are a single
class, and each corpus's gap between HireNet and TF-IDF.
"""

from __future__ import annotations

import copy
import json
import os

from absl import app
from absl import flags

from experiments import common

_CONFIG = common.define_config_flag()
_CORPORA = flags.DEFINE_list('corpora', None, 'Suite corpora (default: all).')
_VARIANTS = flags.DEFINE_list('variants', ['bigru', 'hn_avg', 'hn_satt', 'hirenet'],
                              'Neural variants.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0 .. seeds-1 per variant.')
_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/suite', 'Suite directory.')


def main():
  from data_prep.hirenet import corpus_suite  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet.baselines import beside_run as quick_baselines  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import robustness  # pylint: disable=g-import-not-at-top
  from hirenet_jax.hirenet import steps as steps_lib  # pylint: disable=g-import-not-at-top
  root = _WORKDIR.value
  names = _CORPORA.value or list(corpus_suite.SUITE_NAMES)
  unknown = sorted(set(names) - set(corpus_suite.SUITE_NAMES))
  if unknown:
    raise ValueError(f'unknown suite corpora {unknown}; expected some of '
                     f'{list(corpus_suite.SUITE_NAMES)}')
  runs, baselines = [], {}
  for name in names:
    base = copy.deepcopy(_CONFIG.value)
    common.apply_shorthands(base, modality='text',
                            corpus_dir=corpus_suite.ensure_suite_corpus(name))
    data_dir = common.prepare_data(base)
    baselines[name] = quick_baselines.fit(data_dir, 'text', seed=0)
    for variant in _VARIANTS.value:
      for seed in range(_SEEDS.value):
        config = copy.deepcopy(base)
        common.apply_shorthands(config, variant=variant, seed=seed, data_dir=data_dir)
        steps_lib.check_config(config)
        workdir = os.path.join(root, name, f'{variant}_s{seed}')
        results = common.train_or_load(config, workdir)
        runs.append(robustness.run_summary(name, variant, seed, workdir, results))
  summary = robustness.summarise(runs, baselines, names, _VARIANTS.value)
  os.makedirs(root, exist_ok=True)
  markdown = robustness.table_markdown(summary, corpus_suite.SUITE)
  with open(os.path.join(root, 'suite.md'), 'w') as f:
    f.write(markdown)
  robustness.write_csv(os.path.join(root, 'suite.csv'), summary)
  with open(os.path.join(root, 'suite_results.json'), 'w') as f:
    json.dump({'runs': runs, 'baselines': baselines, 'summary': summary}, f, indent=1)
  print(markdown)
  print(f'wrote {root}/suite.md, suite.csv and suite_results.json ({len(runs)} runs)')


if __name__ == '__main__':
  app.run(common.entry_point(main))
