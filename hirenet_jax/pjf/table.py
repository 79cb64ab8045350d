"""Table 2's baseline rows (MockLLM paper) from runs' results.json: mean ± std over seeds
of the test metrics, candidate side, job side and the handshake, and the exact
expectation of a random ranking as its own row (std with ddof=1; 0 for one seed)."""

from __future__ import annotations

import csv
from typing import Any, Mapping, Sequence

import numpy as np

MODEL_ROWS = {'ncf': 'NCF', 'pjfnn': 'PJFNN', 'bpjfnn': 'BPJFNN', 'apjfnn': 'APJFNN',
              'ipjf': 'IPJF'}
RANDOM_ROW = 'Random ranking (exact)'


def columns(k: int = 5) -> list[tuple[str, str, str]]:
  """(group, metric key, title) of Table 2's columns, in its order."""
  ranking_cols = [(f'ndcg@{k}', f'NDCG@{k}'), (f'recall@{k}', f'R@{k}'),
                  (f'precision@{k}', f'P@{k}'), (f'mrr@{k}', f'MRR@{k}')]
  out = [(side, key, f'{side.capitalize()}s {title}') for side in ('candidate', 'job')
         for key, title in ranking_cols]
  out += [('handshake', m, f'Both {m.capitalize()}') for m in ('precision', 'recall', 'f1')]
  return out


def summarise(results: Sequence[Mapping[str, Any]], split: str = 'test'
              ) -> dict[str, dict[str, tuple[float, float, int]]]:
  """{row: {column title: (mean, std, num_seeds)}}, plus 'train_time_s', per model."""
  by_model: dict[str, list] = {}
  for r in results:
    by_model.setdefault(r['model'], []).append(r)
  out = {}
  for model, runs in by_model.items():
    k = runs[0]['k']
    row = {}
    for group, key, title in columns(k):
      values = np.asarray([r[split][group][key] for r in runs
                           if r[split][group].get(key) is not None], np.float64)
      if values.size:
        row[title] = (float(values.mean()),
                      float(values.std(ddof=1)) if values.size > 1 else 0.0, values.size)
    times = np.asarray([r['train_time_s'] for r in runs], np.float64)
    row['train_time_s'] = (float(times.mean()),
                           float(times.std(ddof=1)) if times.size > 1 else 0.0, times.size)
    out[MODEL_ROWS.get(model, model)] = row
  if results:
    k = results[0]['k']
    rnd = results[0]['random'][split]
    out[RANDOM_ROW] = {title: (rnd[group][key], 0.0, 1) for group, key, title in columns(k)
                       if group != 'handshake' and rnd[group].get(key) is not None}
  return out


def _ordered_rows(summary) -> list[str]:
  known = [r for r in list(MODEL_ROWS.values()) if r in summary]
  rest = sorted(r for r in summary if r not in known and r != RANDOM_ROW)
  return known + rest + ([RANDOM_ROW] if RANDOM_ROW in summary else [])


def markdown(summary, k: int = 5) -> str:
  titles = [t for _, _, t in columns(k)]
  head = ['Method'] + titles + ['Train time (s)', 'Seeds']
  lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for row in _ordered_rows(summary):
    stats = summary[row]
    cells = []
    for t in titles:
      if t not in stats:
        cells.append('-')
      elif row == RANDOM_ROW:
        cells.append(f'{stats[t][0]:.3f}')
      else:
        cells.append(f'{stats[t][0]:.3f} ± {stats[t][1]:.3f}')
    time_cell = (f'{stats["train_time_s"][0]:.0f} ± {stats["train_time_s"][1]:.0f}'
                 if 'train_time_s' in stats else '-')
    seeds = max((v[2] for v in stats.values()), default=0) if row != RANDOM_ROW else '-'
    lines.append(f'| {row} | ' + ' | '.join(cells) + f' | {time_cell} | {seeds} |')
  return '\n'.join(lines) + '\n'


def write_csv(path: str, summary, k: int = 5) -> None:
  titles = [t for _, _, t in columns(k)] + ['train_time_s']
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['method', 'num_seeds'] + [f'{t} {s}' for t in titles
                                               for s in ('mean', 'std')])
    for row in _ordered_rows(summary):
      stats = summary[row]
      n = max((v[2] for v in stats.values()), default=0)
      writer.writerow([row, n] + [f'{stats[t][i]:.6f}' if t in stats else ''
                                  for t in titles for i in (0, 1)])
