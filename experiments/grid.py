r"""Runs every (modality, variant, seed) and writes the paper's Table 3 layout.

  python -m experiments.grid --modalities=text,audio,video \
      --variants=bigru,hn_avg,hn_satt,hirenet --seeds=3 --workdir=W [--config.X=...]

Each run lives in W/{modality}_{variant}_s{seed}: a finished run (results.json) is read
back, an interrupted one resumes from its checkpoint. Writes W/table3.md and W/table3.csv
(precision / recall / F1 of the hirable class, mean and std over seeds) and
W/grid_results.json (every run's test metrics).
"""

from __future__ import annotations

import copy
import json
import os

from absl import app
from absl import flags

from experiments import common

_CONFIG = common.define_config_flag()
_MODALITIES = flags.DEFINE_list('modalities', ['text', 'audio', 'video'], 'Modalities.')
_VARIANTS = flags.DEFINE_list('variants', ['bigru', 'hn_avg', 'hn_satt', 'hirenet'],
                              'Model variants (Table 3 rows).')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0 .. seeds-1 per combination.')
_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/grid', 'Grid directory.')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, 'Raw corpus; default synthetic one.')
_DATA_DIR = flags.DEFINE_string('data_dir', None,
                                'Prepared datasets (one data_dir holding every modality).')

def main():
  from hirenet_jax.hirenet import steps as steps_lib
  from hirenet_jax.hirenet import train_lib
  root = _WORKDIR.value
  os.makedirs(root, exist_ok=True)
  runs = []
  for modality in _MODALITIES.value:
    base = copy.deepcopy(_CONFIG.value)
    common.apply_shorthands(base, modality=modality, corpus_dir=_CORPUS_DIR.value,
                            data_dir=_DATA_DIR.value)
    data_dir = None
    for variant in _VARIANTS.value:
      for seed in range(_SEEDS.value):
        config = copy.deepcopy(base)
        common.apply_shorthands(config, variant=variant, seed=seed)
        steps_lib.check_config(config)
        workdir = os.path.join(root, f'{modality}_{variant}_s{seed}')
        if data_dir is None and not os.path.exists(
            os.path.join(workdir, train_lib.RESULTS_FILE)):
          data_dir = common.prepare_data(base)
        config.data_dir = data_dir or ''
        results = common.train_or_load(config, workdir)
        runs.append({'modality': modality, 'variant': variant, 'seed': seed,
                     'workdir': workdir, 'validation': results['validation'],
                     'test': results['test']})
  from hirenet_jax.hirenet import tables as reporting
  summary = reporting.summarise(
      {'model': reporting.VARIANT_ROWS[r['variant']], **r} for r in runs)
  rows = [reporting.VARIANT_ROWS[v] for v in _VARIANTS.value]
  markdown = reporting.table_markdown(summary, rows, _MODALITIES.value)
  with open(os.path.join(root, 'table3.md'), 'w') as f:
    f.write(markdown)
  reporting.write_table_csv(os.path.join(root, 'table3.csv'), summary, rows,
                            _MODALITIES.value)
  with open(os.path.join(root, 'grid_results.json'), 'w') as f:
    json.dump(runs, f, indent=2)
  print(markdown)
  print(f'wrote {root}/table3.md, table3.csv and grid_results.json ({len(runs)} runs)')


if __name__ == '__main__':
  app.run(common.entry_point(main))
