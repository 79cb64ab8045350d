"""NDCG@5 / MRR@5 of each position's test candidates per modality (reporting.ranking_table,
experiments.report)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
from sklearn import metrics as sk

from hirenet_jax.hirenet import tables as reporting

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(root, name, rows):
  os.makedirs(os.path.join(root, name))
  m = {'precision': .5, 'recall': .5, 'f1': .5, 'accuracy': .5, 'roc_auc': .5}
  with open(os.path.join(root, name, 'results.json'), 'w') as f:
    json.dump({'validation': m, 'test': m}, f)
  with open(os.path.join(root, name, 'predictions.csv'), 'w', newline='') as f:
    writer = csv.DictWriter(f, ['candidate_id', 'position_id', 'label', 'score', 'split'])
    writer.writeheader()
    writer.writerows(rows)


def _rows(rng, split='test'):
  rows = []
  for position in ('p1', 'p2', 'p3'):
    labels = rng.integers(0, 2, 7)
    labels[0] = 1
    for i, (label, score) in enumerate(zip(labels, rng.permutation(7) / 7)):
      rows.append({'candidate_id': f'{position}c{i}', 'position_id': position,
                   'label': int(label), 'score': float(score), 'split': split})
  return rows


def _expected_ndcg(rows):
  values = []
  for position in sorted({r['position_id'] for r in rows}):
    mine = [r for r in rows if r['position_id'] == position]
    values.append(sk.ndcg_score([[r['label'] for r in mine]], [[r['score'] for r in mine]],
                                k=5))
  return float(np.mean(values))


def test_report_prints_ndcg_and_mrr_per_modality(tmp_path):
  rng = np.random.default_rng(0)
  root = str(tmp_path)
  text0, text1, audio0 = _rows(rng), _rows(rng), _rows(rng)
  _run(root, 'text_hirenet_s0', text0 + _rows(rng, 'validation'))  # Validation ignored.
  _run(root, 'text_hirenet_s1', text1)
  _run(root, 'audio_bigru_s0', audio0)
  table = reporting.ranking_table(root)
  lines = table.splitlines()
  assert lines[0] == '| Model | Modality | NDCG@5 | MRR@5 | Positions | Seeds |'
  values = [_expected_ndcg(text0), _expected_ndcg(text1)]
  assert lines[2].startswith(f'| HireNet | text | {np.mean(values):.3f} ± '
                             f'{np.std(values, ddof=1):.3f} |')
  assert lines[2].endswith('| 3 | 2 |')
  assert lines[3].startswith(f'| Bidirectional GRU | audio | {_expected_ndcg(audio0):.3f}')
  proc = subprocess.run([sys.executable, '-m', 'experiments.report', f'--workdir={root}'],
                        cwd=REPO, capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu'))
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert table in proc.stdout
  with open(os.path.join(root, 'report', 'ranking.md')) as f:
    assert f.read() == table


def test_no_predictions_no_ranking_table(tmp_path):
  assert reporting.ranking_table(str(tmp_path)) is None
