"""Many training runs and their table: the paper's Table 3 grid (modality x variant x
seed). A finished run is read back, an interrupted one resumes from its checkpoint; the
caller says how a configuration's dataset is prepared (data_prep is not ours to import)."""

from __future__ import annotations

import copy
import os
from typing import Callable, Sequence

import ml_collections

from hirenet_jax.core import run_log
from hirenet_jax.hirenet import steps as steps_lib
from hirenet_jax.hirenet import tables
from hirenet_jax.hirenet import train_lib

# The prepared dataset of a configuration (its data_dir), built if needed.
Prepare = Callable[[ml_collections.ConfigDict], str]


def train_or_load(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """A run's results: read back when `workdir` holds a finished run (results.json), else
  trained (an interrupted run resumes from its checkpoint)."""
  return run_log.read_or_run(os.path.join(workdir, train_lib.RESULTS_FILE),
                             lambda: train_lib.train_and_evaluate(config, workdir))


def run_grid(base: ml_collections.ConfigDict, root: str, *, modalities: Sequence[str],
             variants: Sequence[str], num_seeds: int, prepare: Prepare) -> dict:
  """Every (modality, variant, seed 0..num_seeds-1) in root/{modality}_{variant}_s{seed},
  then root/table3.md, table3.csv (mean ± std over seeds) and grid_results.json.

  A modality's dataset is prepared only when one of its runs still has to train, so a
  finished grid is tabulated again without its corpus. Returns the runs' test metrics
  (`runs`), the table (`markdown`) and the files written (`files`).
  """
  os.makedirs(root, exist_ok=True)
  runs = []
  for modality in modalities:
    modality_base = copy.deepcopy(base)
    modality_base.modality = modality
    data_dir = None
    for variant in variants:
      for seed in range(num_seeds):
        config = copy.deepcopy(modality_base)
        config.model.variant, config.seed = variant, seed
        steps_lib.check_config(config)
        workdir = os.path.join(root, f'{modality}_{variant}_s{seed}')
        if data_dir is None and not os.path.exists(
            os.path.join(workdir, train_lib.RESULTS_FILE)):
          data_dir = prepare(modality_base)
        config.data_dir = data_dir or ''
        results = train_or_load(config, workdir)
        runs.append({'modality': modality, 'variant': variant, 'seed': seed,
                     'workdir': workdir, 'validation': results['validation'],
                     'test': results['test']})
  summary = tables.summarise(
      {'model': tables.VARIANT_ROWS[r['variant']], **r} for r in runs)
  rows = [tables.VARIANT_ROWS[v] for v in variants]
  markdown = tables.table_markdown(summary, rows, modalities)
  files = [os.path.join(root, name)
           for name in ('table3.md', 'table3.csv', 'grid_results.json')]
  with open(files[0], 'w') as f:
    f.write(markdown)
  tables.write_table_csv(files[1], summary, rows, modalities)
  run_log.write_json(files[2], runs, sort_keys=False)
  return {'runs': runs, 'markdown': markdown, 'files': files}
