r"""Gathers grid, baseline and fusion results into the paper's Tables 3 and 4.

  python -m experiments.report --workdir=W [--out_dir=W/report]

Reads W/{modality}_{variant}_s{seed}/results.json (experiments.grid / train),
W/baselines_{modality}_s{seed}/results.json (experiments.baselines) and
W/fusion_s{seed}/results.json (experiments.fusion). Writes table3.md/.csv (monomodal
models), table4.md/.csv (vote baselines and fusion on the candidates with every
modality) and f1_by_model.png, with mean ± std over seeds. Also prints the per-position
ranking metrics of each grid run's W/{modality}_{variant}_s{seed}/predictions.csv (test
candidates of a position ranked by score): NDCG@5 and MRR@5 per modality, into
ranking.md.
"""

from __future__ import annotations

import glob
import os
import re
import sys

from absl import app
from absl import flags

_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/grid', 'Grid directory.')
_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Output directory (default W/report).')


def ranking_table(root: str, k: int = 5) -> str | None:
  """Markdown: NDCG@k / MRR@k (mean ± std over seeds) of each model and modality, from
  the grid runs' predictions.csv; None when no run has one."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from hirenet_jax import ranking  # pylint: disable=g-import-not-at-top
  from hirenet_jax import reporting  # pylint: disable=g-import-not-at-top
  from hirenet_jax.dataset_spec import MODALITIES  # pylint: disable=g-import-not-at-top
  run_dir = re.compile(rf'^({"|".join(MODALITIES)})_({"|".join(reporting.VARIANT_ROWS)})'
                       r'_s(\d+)$')
  found: dict[tuple[str, str], list[dict]] = {}
  for path in sorted(glob.glob(os.path.join(root, '*', 'predictions.csv'))):
    m = run_dir.match(os.path.basename(os.path.dirname(path)))
    if m:
      metrics = ranking.predictions_ranking(ranking.read_predictions(path), 'test', k)
      found.setdefault((m[1], m[2]), []).append(metrics)
  if not found:
    return None
  lines = [f'| Model | Modality | NDCG@{k} | MRR@{k} | Positions | Seeds |',
           '|---|---|---|---|---|---|']
  for modality in MODALITIES:
    for variant, row in reporting.VARIANT_ROWS.items():
      runs = found.get((modality, variant))
      if not runs:
        continue
      cells = []
      for name in (f'ndcg@{k}', f'mrr@{k}'):
        v = np.asarray([r[name] for r in runs], np.float64)
        std = v.std(ddof=1) if v.size > 1 else 0.0
        cells.append(f'{v.mean():.3f} ± {std:.3f}')
      lines.append(f'| {row} | {modality} | {cells[0]} | {cells[1]} | '
                   f'{runs[0]["num_groups"]} | {len(runs)} |')
  return '\n'.join(lines) + '\n'


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  from hirenet_jax import reporting
  try:
    paths = reporting.write_report(_WORKDIR.value, _OUT_DIR.value)
  except FileNotFoundError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  for key in ('table3_md', 'table4_md'):
    with open(paths[key], encoding='utf-8') as f:
      print(('Table 3: monomodal models' if key == 'table3_md' else
             'Table 4: multimodal models and vote baselines') + '\n' + f.read())
  table = ranking_table(_WORKDIR.value)
  if table is not None:
    paths['ranking_md'] = os.path.join(os.path.dirname(paths['table3_md']), 'ranking.md')
    with open(paths['ranking_md'], 'w', encoding='utf-8') as f:
      f.write(table)
    print('Ranking of each position\'s test candidates by score\n' + table)
  print('wrote ' + ', '.join(paths.values()))


if __name__ == '__main__':
  app.run(main)
