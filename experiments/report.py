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

import os
import sys

from absl import app
from absl import flags

_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/grid', 'Grid directory.')
_OUT_DIR = flags.DEFINE_string('out_dir', None, 'Output directory (default W/report).')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  from hirenet_jax.hirenet import tables as reporting
  try:
    paths = reporting.write_report(_WORKDIR.value, _OUT_DIR.value)
  except FileNotFoundError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  for key in ('table3_md', 'table4_md'):
    with open(paths[key], encoding='utf-8') as f:
      print(('Table 3: monomodal models' if key == 'table3_md' else
             'Table 4: multimodal models and vote baselines') + '\n' + f.read())
  table = reporting.ranking_table(_WORKDIR.value)
  if table is not None:
    paths['ranking_md'] = os.path.join(os.path.dirname(paths['table3_md']), 'ranking.md')
    with open(paths['ranking_md'], 'w', encoding='utf-8') as f:
      f.write(table)
    print('Ranking of each position\'s test candidates by score\n' + table)
  print('wrote ' + ', '.join(paths.values()))


if __name__ == '__main__':
  app.run(main)
