r"""Runs every (modality, variant, seed) and writes the paper's Table 3 layout.

  python -m experiments.grid --modalities=text,audio,video \
      --variants=bigru,hn_avg,hn_satt,hirenet --seeds=3 --workdir=W [--config.X=...]

Each run lives in W/{modality}_{variant}_s{seed}: a finished run (results.json) is read
back, an interrupted one resumes from its checkpoint. Writes W/table3.md and W/table3.csv
(precision / recall / F1 of the hirable class, mean and std over seeds) and
W/grid_results.json (every run's test metrics).
"""

from __future__ import annotations

from absl import app
from absl import flags

from experiments import common

_CONFIG = common.define_config_flag()
_MODALITIES = flags.DEFINE_list('modalities', ['text', 'audio', 'video'], 'Modalities.')
_VARIANTS = flags.DEFINE_list('variants', ['bigru', 'hn_avg', 'hn_satt', 'hirenet'],
                              'Model variants (Table 3 rows).')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0 .. seeds-1 per combination.',
                              lower_bound=1)
_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/grid', 'Grid directory.')
_CORPUS_DIR = flags.DEFINE_string('corpus_dir', None, 'Raw corpus; default synthetic one.')
_DATA_DIR = flags.DEFINE_string('data_dir', None,
                                'Prepared datasets (one data_dir holding every modality).')


def main():
  from hirenet_jax.hirenet import grid  # pylint: disable=g-import-not-at-top
  config = _CONFIG.value
  common.apply_shorthands(config, corpus_dir=_CORPUS_DIR.value, data_dir=_DATA_DIR.value)
  out = grid.run_grid(config, _WORKDIR.value, modalities=_MODALITIES.value,
                      variants=_VARIANTS.value, num_seeds=_SEEDS.value,
                      prepare=common.prepare_data)
  print(out['markdown'])
  print(f'wrote {_WORKDIR.value}/table3.md, table3.csv and grid_results.json '
        f'({len(out["runs"])} runs)')


if __name__ == '__main__':
  app.run(common.entry_point(main))
