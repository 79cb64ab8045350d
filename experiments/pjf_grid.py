r"""Table 2's baseline rows: every model x seed, then mean ± std over seeds.

  python -m experiments.pjf_grid --models=ncf,pjfnn,bpjfnn,apjfnn,ipjf --seeds=3 \
      --workdir=W [--corpus_dir=DIR] [--config=experiments/configs/pjf.py ...]

Runs W/{model}_s{seed} (seeds 0..N-1) one after the other in this process, skipping runs
that already have results.json and resuming interrupted ones; then writes
W/table2_baselines.md and .csv (test split: both sides' NDCG@5 / R@5 / P@5 / MRR@5 and
the handshake's macro precision / recall / F1, plus the exact random-ranking row).
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags
from absl import logging

from experiments import common
from experiments import pjf_common

_CONFIG = common.define_config_flag('pjf.py')
_MODELS = flags.DEFINE_list('models', 'ncf,pjfnn,bpjfnn,apjfnn,ipjf', 'Models to run.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0..N-1 per model.')
_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/pjf_grid', 'Grid directory.')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None,
                                  'pjf corpus; default: the synthetic one.')

TABLE_MD = 'table2_baselines.md'
TABLE_CSV = 'table2_baselines.csv'


def main():
  from hirenet_jax.pjf import models  # pylint: disable=g-import-not-at-top
  from hirenet_jax.pjf import table  # pylint: disable=g-import-not-at-top
  from hirenet_jax.pjf import train_lib  # pylint: disable=g-import-not-at-top
  unknown = [m for m in _MODELS.value if m not in models.MODELS]
  if unknown:
    raise common.CommandError(f'unknown model(s) {", ".join(unknown)}; expected some of '
                              f'{", ".join(models.MODELS)}')
  if _SEEDS.value <= 0:
    raise common.CommandError(f'--seeds must be positive, got {_SEEDS.value}')
  base = _CONFIG.value
  if _CORPUS_DIR.value is not None:
    base.corpus_dir = _CORPUS_DIR.value
  corpus = pjf_common.load_corpus(base.corpus_dir)
  results = []
  for name in _MODELS.value:
    for seed in range(_SEEDS.value):
      workdir = os.path.join(_WORKDIR.value, f'{name}_s{seed}')
      path = os.path.join(workdir, train_lib.RESULTS_FILE)
      if os.path.isfile(path):
        logging.info('%s seed %d: already done (%s)', name, seed, path)
        with open(path) as f:
          results.append(json.load(f))
        continue
      config = base.copy_and_resolve_references()
      config.model.name, config.seed = name, seed
      results.append(train_lib.train_and_evaluate(config, corpus, workdir))
      logging.info('%s seed %d: done in %.0fs', name, seed, results[-1]['train_time_s'])
  summary = table.summarise(results)
  os.makedirs(_WORKDIR.value, exist_ok=True)
  md_path = os.path.join(_WORKDIR.value, TABLE_MD)
  csv_path = os.path.join(_WORKDIR.value, TABLE_CSV)
  text = table.markdown(summary, base.k)
  with open(md_path, 'w', encoding='utf-8') as f:
    f.write(text)
  table.write_csv(csv_path, summary, base.k)
  print(f'Table 2 baselines on {corpus.source} (test split, mean ± std over '
        f'{_SEEDS.value} seeds)\n{text}')
  print(f'wrote {md_path} and {csv_path}')


if __name__ == '__main__':
  app.run(common.entry_point(main))
