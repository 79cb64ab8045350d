"""The robustness suite's table: neural variants against the simple baselines on corpora
built differently (data_prep.hirenet.corpus_suite), with the runs that predict a single class.

A model that predicts one class for every test candidate is counted, whatever its F1,
because that is the failure a good-looking F1 hides on a balanced corpus.
"""

from __future__ import annotations

import copy
import csv
import os
from typing import Any, Mapping, Sequence

import ml_collections
import numpy as np

from hirenet_jax.core import run_log
from hirenet_jax.hirenet import grid
from hirenet_jax.hirenet import steps as steps_lib
from hirenet_jax.hirenet import tables as reporting
from hirenet_jax.hirenet import train_lib

BASELINES = (('tfidf_logreg', 'TF-IDF + LR'),
             ('probe_logreg', 'probe (mean vectors) + LR'),  # Of the corpus's representation.
             ('majority_vote', 'majority vote'))
PROBE = 'probe (mean vectors) + LR'
CSV_COLUMNS = ('corpus', 'model', 'num_runs', 'roc_auc_mean', 'roc_auc_std', 'f1_mean',
               'f1_std', 'single_class_runs', 'best_epoch_mean')


def test_predicted_positive(workdir: str, threshold: float) -> tuple[int, int]:
  """(test candidates predicted hirable, test candidates) from the run's predictions.csv."""
  with open(os.path.join(workdir, train_lib.PREDICTIONS_FILE), newline='') as f:
    scores = [float(r['score']) for r in csv.DictReader(f) if r['split'] == 'test']
  return int(np.sum(np.asarray(scores) >= threshold)), len(scores)


def run_summary(corpus: str, variant: str, seed: int, workdir: str,
                results: Mapping[str, Any]) -> dict[str, Any]:
  positive, total = test_predicted_positive(workdir, float(results['threshold']))
  test = results['test']
  return {'corpus': corpus, 'variant': variant, 'seed': seed, 'workdir': workdir,
          'roc_auc': test.get('roc_auc'), 'f1': test['f1'],
          'precision': test['precision'], 'recall': test['recall'],
          'best_epoch': results.get('best_epoch'), 'predicted_positive': positive,
          'num_test': total, 'single_class': positive in (0, total)}


def summarise(runs: Sequence[Mapping[str, Any]], baselines: Mapping[str, Mapping],
              corpora: Sequence[str], variants: Sequence[str]) -> list[dict[str, Any]]:
  """One row per (corpus, model): the variants over seeds, then the baselines."""
  rows = []
  for corpus in corpora:
    for variant in variants:
      group = [r for r in runs if r['corpus'] == corpus and r['variant'] == variant]
      if not group:
        continue
      auc, auc_std, _ = reporting.mean_std(r['roc_auc'] for r in group)
      f1, f1_std, _ = reporting.mean_std(r['f1'] for r in group)
      epoch, _, _ = reporting.mean_std(r['best_epoch'] for r in group)
      rows.append({'corpus': corpus, 'model': reporting.VARIANT_ROWS.get(variant, variant),
                   'num_runs': len(group), 'roc_auc_mean': auc, 'roc_auc_std': auc_std,
                   'f1_mean': f1, 'f1_std': f1_std,
                   'single_class_runs': sum(r['single_class'] for r in group),
                   'best_epoch_mean': epoch})
    for key, name in BASELINES:
      if key in baselines.get(corpus, {}):
        test = baselines[corpus][key]['test']
        rows.append({'corpus': corpus, 'model': name, 'num_runs': 1,
                     'roc_auc_mean': test.get('roc_auc'), 'roc_auc_std': 0.0,
                     'f1_mean': test['f1'], 'f1_std': 0.0, 'single_class_runs': None,
                     'best_epoch_mean': None})
  return rows


def gap(rows: Sequence[Mapping[str, Any]], corpus: str, model: str = 'HireNet',
        baseline: str = 'TF-IDF + LR') -> float:
  """Mean test ROC AUC of `model` minus `baseline`'s on `corpus` (NaN if either is absent)."""
  found = {r['model']: r['roc_auc_mean'] for r in rows if r['corpus'] == corpus}
  if model not in found or baseline not in found:
    return float('nan')
  return float(found[model] - found[baseline])


def _fmt(mean, std, runs) -> str:
  if mean is None or np.isnan(mean):
    return 'n/a'
  return f'{mean:.3f} ± {std:.3f}' if runs > 1 else f'{mean:.3f}'


def table_markdown(rows: Sequence[Mapping[str, Any]], specs: Mapping[str, Any]) -> str:
  """The suite table: per corpus, every model's test ROC AUC and F1, single-class runs."""
  lines = ['| corpus | model | test ROC AUC | test F1 | single-class runs |',
           '|---|---|---|---|---|']
  for row in rows:
    single = ('' if row['single_class_runs'] is None
              else f'{row["single_class_runs"]} / {row["num_runs"]}')
    lines.append(f'| {row["corpus"]} | {row["model"]} | '
                 f'{_fmt(row["roc_auc_mean"], row["roc_auc_std"], row["num_runs"])} | '
                 f'{_fmt(row["f1_mean"], row["f1_std"], row["num_runs"])} | {single} |')
  corpora = list(dict.fromkeys(r['corpus'] for r in rows))
  lines.append('')
  lines.append('HireNet minus TF-IDF + LR, mean test ROC AUC: ' + ', '.join(
      f'{c} {gap(rows, c):+.3f}' for c in corpora))
  if any(r['model'] == PROBE for r in rows):
    lines.append('')
    lines.append('HireNet minus the probe of its representation, mean test ROC AUC: '
                 + ', '.join(f'{c} {gap(rows, c, baseline=PROBE):+.3f}' for c in corpora))
  lines.append('')
  lines += [f'- {c}: {specs[c].description}' for c in corpora if c in specs]
  return '\n'.join(lines) + '\n'


def write_csv(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows({k: row.get(k) for k in CSV_COLUMNS} for row in rows)


def run_suite(base: ml_collections.ConfigDict, root: str, *, corpora: Mapping[str, str],
              specs: Mapping[str, Any], variants: Sequence[str], num_seeds: int,
              prepare: grid.Prepare) -> dict:
  """The text variants on every corpus ({name: corpus_dir}; `specs` describe them) over
  seeds 0..num_seeds-1 in root/{corpus}/{variant}_s{seed}, beside the simple baselines
  fitted once per corpus on the same split; writes root/suite.md, suite.csv and
  suite_results.json. Returns the runs (`runs`) and the table (`markdown`)."""
  from hirenet_jax.hirenet.baselines import beside_run  # pylint: disable=g-import-not-at-top
  runs, baselines = [], {}
  for name, corpus_dir in corpora.items():
    corpus_base = copy.deepcopy(base)
    corpus_base.modality, corpus_base.corpus_dir = 'text', corpus_dir
    data_dir = prepare(corpus_base)
    baselines[name] = beside_run.fit(data_dir, 'text', seed=0)
    for variant in variants:
      for seed in range(num_seeds):
        config = copy.deepcopy(corpus_base)
        config.model.variant, config.seed, config.data_dir = variant, seed, data_dir
        steps_lib.check_config(config)
        workdir = os.path.join(root, name, f'{variant}_s{seed}')
        results = grid.train_or_load(config, workdir)
        runs.append(run_summary(name, variant, seed, workdir, results))
  summary = summarise(runs, baselines, list(corpora), variants)
  os.makedirs(root, exist_ok=True)
  markdown = table_markdown(summary, specs)
  with open(os.path.join(root, 'suite.md'), 'w') as f:
    f.write(markdown)
  write_csv(os.path.join(root, 'suite.csv'), summary)
  run_log.write_json(os.path.join(root, 'suite_results.json'),
                     {'runs': runs, 'baselines': baselines, 'summary': summary}, indent=1,
                     sort_keys=False)
  return {'runs': runs, 'markdown': markdown}
