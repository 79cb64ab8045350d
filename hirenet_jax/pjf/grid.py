"""Table 2's baseline rows from many runs: every model x seed trained one after the other
(a finished run is read back, an interrupted one resumes), then mean ± std over seeds."""

from __future__ import annotations

import functools
import os
from typing import Sequence

import ml_collections

from hirenet_jax.core import run_log
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.pjf import models as models_lib
from hirenet_jax.pjf import table
from hirenet_jax.pjf import train_lib
from hirenet_jax.pjf.corpus import Corpus

TABLE_MD = 'table2_baselines.md'
TABLE_CSV = 'table2_baselines.csv'


def run_grid(base: ml_collections.ConfigDict, corpus: Corpus, root: str, *,
             models: Sequence[str], num_seeds: int) -> dict:
  """Runs root/{model}_s{seed} for seeds 0..num_seeds-1 and writes root/TABLE_MD and
  TABLE_CSV (test split). Returns the table (`markdown`) and the files (`files`)."""
  unknown = [m for m in models if m not in models_lib.MODELS]
  if unknown:
    raise ConfigError(f'unknown model(s) {", ".join(unknown)}; expected some of '
                      f'{", ".join(models_lib.MODELS)}')
  results = []
  for name in models:
    for seed in range(num_seeds):
      workdir = os.path.join(root, f'{name}_s{seed}')
      config = base.copy_and_resolve_references()
      config.model.name, config.seed = name, seed
      results.append(run_log.read_or_run(
          os.path.join(workdir, train_lib.RESULTS_FILE),
          functools.partial(train_lib.train_and_evaluate, config, corpus, workdir)))
  summary = table.summarise(results)
  os.makedirs(root, exist_ok=True)
  files = [os.path.join(root, TABLE_MD), os.path.join(root, TABLE_CSV)]
  markdown = table.markdown(summary, base.k)
  with open(files[0], 'w', encoding='utf-8') as f:
    f.write(markdown)
  table.write_csv(files[1], summary, base.k)
  return {'markdown': markdown, 'files': files}
