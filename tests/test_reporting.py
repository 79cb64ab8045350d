"""Tables 3 and 4 from result files: layout, mean and std over seeds, chart."""

import csv
import json
import os

import numpy as np
import pytest

from hirenet_jax.hirenet import tables as reporting


def _write(root, name, obj):
  os.makedirs(os.path.join(root, name), exist_ok=True)
  with open(os.path.join(root, name, 'results.json'), 'w') as f:
    json.dump(obj, f)


def _m(p, r, f1):
  return {'precision': p, 'recall': r, 'f1': f1, 'accuracy': 0.5, 'roc_auc': 0.5}


def test_report_gathers_grid_baselines_and_fusion(tmp_path):
  root = str(tmp_path)
  _write(root, 'text_hirenet_s0', {'validation': _m(.5, .5, .5), 'test': _m(.6, .8, .7)})
  _write(root, 'text_hirenet_s1', {'validation': _m(.5, .5, .5), 'test': _m(.4, .6, .5)})
  _write(root, 'audio_hn_avg_s0', {'validation': _m(.5, .5, .5), 'test': _m(.5, .5, .5)})
  _write(root, 'baselines_text_s0', {
      'random_vote': {'validation': _m(.4, .4, .4), 'test': _m(.45, .45, .45)},
      'non_sequential': {'family': 'svm', 'test': _m(.3, .2, .25)},
      'bow': {'family': 'ridge', 'test': _m(.35, .3, .32)}})
  _write(root, 'fusion_s0', {'late_fusion': {'test': _m(.6, .7, .65)},
                             'majority_vote': {'test': _m(.5, .6, .55)}})
  _write(root, 'not_a_run', {'test': _m(0, 0, 0)})  # Ignored: unknown layout.
  paths = reporting.write_report(root)
  table3 = open(paths['table3_md']).read()
  lines = table3.splitlines()
  assert lines[0] == ('| Model | Text Precision | Text Recall | Text F1 | Audio Precision '
                      '| Audio Recall | Audio F1 |')
  # Rows in the paper's order; absent rows left out.
  assert [l.split(' | ')[0][2:] for l in lines[2:]] == ['Non-sequential', 'Bo*W', 'HN AVG',
                                                        'HireNet']
  std = np.std([0.7, 0.5], ddof=1)
  assert f'0.600 ± {std:.3f}' in lines[-1]  # HireNet text F1 over two seeds.
  assert lines[-1].endswith('| - | - | - |')  # No audio HireNet run.
  table4 = open(paths['table4_md']).read()
  assert 'Late Fusion | 0.600 ± 0.000 | 0.700 ± 0.000 | 0.650 ± 0.000' in table4
  assert 'Majority vote' in table4 and 'Early Fusion' not in table4
  with open(paths['table3_csv']) as f:
    rows = list(csv.DictReader(f))
  hirenet = [r for r in rows if r['model'] == 'HireNet'][0]
  assert hirenet['num_seeds'] == '2' and float(hirenet['f1_mean']) == pytest.approx(0.6)
  assert os.path.getsize(paths['f1_png']) > 1000


def test_report_without_results_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match='no results.json'):
    reporting.write_report(str(tmp_path))
