"""Result tables in the paper's layouts (Tables 3 and 4) and an F1 bar chart.

A result is a dict {'model', 'modality', 'seed', 'test': {precision, recall, f1, ...}};
tables show mean ± std over seeds (std with ddof=1; 0 for a single seed).
"""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from typing import Iterable, Mapping, Sequence

import numpy as np

from hirenet_jax.core import ranking
from hirenet_jax.hirenet.dataset_spec import MODALITIES

METRICS = ('precision', 'recall', 'f1')
VARIANT_ROWS = {'bigru': 'Bidirectional GRU', 'hn_avg': 'HN AVG', 'hn_satt': 'HN SATT',
                'hirenet': 'HireNet'}
BASELINE_ROWS = {'non_sequential': 'Non-sequential', 'bow': 'Bo*W'}
VOTE_ROWS = {'random_vote': 'Random vote', 'majority_vote': 'Majority vote'}
FUSION_ROWS = {'early_fusion': 'Early Fusion', 'late_fusion': 'Late Fusion'}
TABLE3_ROWS = tuple(BASELINE_ROWS.values()) + tuple(VARIANT_ROWS.values())
TABLE4_ROWS = tuple(VOTE_ROWS.values()) + tuple(FUSION_ROWS.values())
MULTIMODAL = 'multimodal'

Stats = dict[str, tuple[float, float, int]]


def mean_std(values: Iterable[float | None]) -> tuple[float, float, int]:
  """(mean, sample std, count) of the values that are not None; NaNs when there are none,
  std 0 for a single value."""
  array = np.asarray([v for v in values if v is not None], np.float64)
  if not array.size:
    return float('nan'), float('nan'), 0
  std = float(array.std(ddof=1)) if array.size > 1 else 0.0
  return float(array.mean()), std, int(array.size)


def summarise(results: Iterable[Mapping]) -> dict[tuple[str, str], Stats]:
  """{(model, modality): {metric: (mean, std, num_seeds)}} over seeds."""
  groups: dict[tuple[str, str], list[Mapping]] = {}
  for r in results:
    groups.setdefault((r['model'], r['modality']), []).append(r['test'])
  out = {}
  for key, tests in groups.items():
    out[key] = {}
    for m in METRICS:
      stats = mean_std(t.get(m) for t in tests)
      if stats[2]:
        out[key][m] = stats
  return out


def _cell(stats: Stats | None, metric: str) -> str:
  if not stats or metric not in stats:
    return '-'
  mean, std, _ = stats[metric]
  return f'{mean:.3f} ± {std:.3f}'


def _metric_title(metric: str) -> str:
  return 'F1' if metric == 'f1' else metric.capitalize()


def table_markdown(summary: Mapping, rows: Sequence[str], columns: Sequence[str]) -> str:
  """One row per model, precision / recall / F1 per column (modality)."""
  multi = list(columns) != [MULTIMODAL]  # Table 4 has one unnamed column group.
  head = ['Model'] + [f'{c.capitalize()} {_metric_title(m)}' if multi else _metric_title(m)
                      for c in columns for m in METRICS]
  lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
  for row in rows:
    if not any((row, c) in summary for c in columns):
      continue
    cells = [_cell(summary.get((row, c)), m) for c in columns for m in METRICS]
    lines.append(f'| {row} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def write_table_csv(path: str, summary: Mapping, rows: Sequence[str],
                    columns: Sequence[str]) -> None:
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['model', 'modality', 'num_seeds'] +
                    [f'{m}_{s}' for m in METRICS for s in ('mean', 'std')])
    for row in rows:
      for col in columns:
        stats = summary.get((row, col))
        if not stats:
          continue
        n = max(v[2] for v in stats.values())
        writer.writerow([row, col, n] + [
            f'{stats[m][i]:.6f}' if m in stats else '' for m in METRICS for i in (0, 1)])


def plot_f1(summary: Mapping, rows: Sequence[str], columns: Sequence[str],
            path: str, title: str = 'Test F1 of the hirable class') -> None:
  """Grouped bar chart: F1 (mean, std error bars) per model and modality."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  rows = [r for r in rows if any((r, c) in summary for c in columns)]
  columns = [c for c in columns if any((r, c) in summary for r in rows)]
  fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4))
  width = 0.8 / max(len(columns), 1)
  x = np.arange(len(rows))
  for j, col in enumerate(columns):
    means = [summary.get((r, col), {}).get('f1', (np.nan, 0, 0))[0] for r in rows]
    stds = [summary.get((r, col), {}).get('f1', (0, 0, 0))[1] for r in rows]
    ax.bar(x + (j - (len(columns) - 1) / 2) * width, means, width, yerr=stds, capsize=3,
           label=col)
  ax.set_xticks(x, rows, rotation=20, ha='right')
  ax.set_ylabel('F1')
  ax.set_ylim(0, 1)
  ax.set_title(title)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


# ------------------------------------------------------------- collecting results

_RUN_DIR = re.compile(r'^(text|audio|video)_(bigru|hn_avg|hn_satt|hirenet)_s(\d+)$')
_BASELINE_DIR = re.compile(r'^baselines_(text|audio|video)_s(\d+)$')
_FUSION_DIR = re.compile(r'^fusion_s(\d+)$')


def _load(path: str) -> dict:
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def collect(root: str) -> list[dict]:
  """Every finished run under `root`: grid runs, baselines and fusion."""
  results = []
  for path in sorted(glob.glob(os.path.join(root, '*', 'results.json'))):
    name = os.path.basename(os.path.dirname(path))
    if m := _RUN_DIR.match(name):
      r = _load(path)
      results.append({'model': VARIANT_ROWS[m[2]], 'modality': m[1], 'seed': int(m[3]),
                      'test': r['test'], 'validation': r.get('validation')})
    elif m := _BASELINE_DIR.match(name):
      r = _load(path)
      for key, row in {**BASELINE_ROWS, **VOTE_ROWS}.items():
        if key in r and 'test' in r[key]:
          results.append({'model': row, 'modality': m[1], 'seed': int(m[2]),
                          'test': r[key]['test']})
    elif m := _FUSION_DIR.match(name):
      r = _load(path)
      for key, row in {**VOTE_ROWS, **FUSION_ROWS}.items():
        if key in r and 'test' in r[key]:
          results.append({'model': row, 'modality': MULTIMODAL, 'seed': int(m[1]),
                          'test': r[key]['test']})
  return results


def write_report(root: str, out_dir: str | None = None) -> dict[str, str]:
  """Writes Table 3 / Table 4 (markdown, CSV) and the F1 chart; returns the paths."""
  out_dir = out_dir or os.path.join(root, 'report')
  os.makedirs(out_dir, exist_ok=True)
  results = collect(root)
  if not results:
    raise FileNotFoundError(f'no results.json under {root}/*/ (run experiments.grid, '
                            'experiments.baselines or experiments.fusion first)')
  summary = summarise(results)
  modalities = [m for m in MODALITIES if any(k[1] == m for k in summary)]
  paths = {
      'table3_md': os.path.join(out_dir, 'table3.md'),
      'table3_csv': os.path.join(out_dir, 'table3.csv'),
      'table4_md': os.path.join(out_dir, 'table4.md'),
      'table4_csv': os.path.join(out_dir, 'table4.csv'),
      'f1_png': os.path.join(out_dir, 'f1_by_model.png'),
  }
  with open(paths['table3_md'], 'w', encoding='utf-8') as f:
    f.write(table_markdown(summary, TABLE3_ROWS, modalities))
  write_table_csv(paths['table3_csv'], summary, TABLE3_ROWS, modalities)
  with open(paths['table4_md'], 'w', encoding='utf-8') as f:
    f.write(table_markdown(summary, TABLE4_ROWS, [MULTIMODAL]))
  write_table_csv(paths['table4_csv'], summary, TABLE4_ROWS, [MULTIMODAL])
  plot_f1(summary, TABLE3_ROWS + TABLE4_ROWS, modalities + [MULTIMODAL], paths['f1_png'])
  return paths


def ranking_table(root: str, k: int = 5) -> str | None:
  """Markdown: NDCG@k / MRR@k (mean ± std over seeds) of each model and modality, from
  the grid runs' predictions.csv; None when no run has one."""
  run_dir = re.compile(rf'^({"|".join(MODALITIES)})_({"|".join(VARIANT_ROWS)})'
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
    for variant, row in VARIANT_ROWS.items():
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
