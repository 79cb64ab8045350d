"""Every baseline end to end on a tiny corpus of each modality (paper Table 3 rows)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet.baselines import paper as baseline_features
from hirenet_jax.core import metrics

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
  from data_prep.hirenet import build
  from data_prep.hirenet import synthetic
  root = tmp_path_factory.mktemp('baselines')
  corpus = synthetic.generate_corpus(
      str(root / 'corpus'), num_candidates=30, seed=3, words_per_answer=12,
      seconds_per_answer=2.0, missing_audio_rate=0.0, missing_video_rate=0.0, workers=1)
  data_dir = str(root / 'data')
  for modality in ('text', 'audio', 'video'):
    build.build_dataset(corpus, modality, data_dir, workers=1)
  return corpus, data_dir


@pytest.mark.parametrize('modality', ['text', 'video'])
def test_every_baseline_runs_and_reports_the_shared_metrics(tiny, modality):
  _, data_dir = tiny
  results = baseline_features.run_baselines(data_dir, modality, seed=0, num_clusters=6,
                                       log=lambda _: None)
  splits = {s: baseline_features.load_split_answers(data_dir, modality, s)
            for s in dataset_spec.SPLITS}
  assert results['num_candidates'] == {s: len(a.candidate_ids) for s, a in splits.items()}
  keys = {'precision', 'recall', 'f1', 'accuracy', 'roc_auc'}
  for name in ('random_vote', 'majority_vote', 'non_sequential', 'bow'):
    for split in ('validation', 'test'):
      assert keys <= set(results[name][split]), (name, split)
      assert 0.0 <= results[name][split]['f1'] <= 1.0
  assert results['non_sequential']['family'] in ('svm', 'ridge', 'random_forest')
  assert len(results['bow']['search']) == 10
  # The majority vote is the shared metrics function on the position-majority scores.
  from hirenet_jax.hirenet.baselines import classifiers as shallow_models
  scores = shallow_models.position_majority_scores(splits['train'].position_ids,
                                              splits['train'].labels,
                                              splits['test'].position_ids)
  assert results['majority_vote']['test'] == metrics.json_safe(
      metrics.classification_metrics(splits['test'].labels, scores))


def test_answers_are_split_back_out_of_the_records(tiny):
  _, data_dir = tiny
  answers = baseline_features.load_split_answers(data_dir, 'video', 'train')
  assert len(answers.sequences) == len(answers.candidate) == len(answers.answer_index)
  assert all(seq.ndim == 2 and seq.shape[1] == 49 for seq in answers.sequences)
  assert set(answers.candidate) == set(range(len(answers.candidate_ids)))


def test_audio_baselines_command_uses_egemaps_functionals(tiny, tmp_path):
  _, data_dir = tiny
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  proc = subprocess.run(
      [sys.executable, '-m', 'experiments.baselines', '--modality=audio',
       f'--data_dir={data_dir}', f'--workdir={tmp_path}', '--num_clusters=6', '--workers=1'],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(tmp_path / 'results.json') as f:
    results = json.load(f)
  assert 'skipped' not in results['non_sequential']
  assert results['non_sequential']['family'] in ('svm', 'ridge', 'random_forest')
  assert 'non_sequential' in proc.stdout and 'bow' in proc.stdout


def test_fusion_of_trained_models_and_table4(tiny, tmp_path):
  """Tiny HireNets on text, audio and video -> experiments.fusion -> experiments.report."""
  from helpers import tiny_config
  from hirenet_jax.hirenet import train_lib
  _, data_dir = tiny
  for modality in ('text', 'audio', 'video'):
    config = tiny_config(data_dir, modality=modality, num_epochs=1, tensorboard=False)
    train_lib.train_and_evaluate(config, str(tmp_path / f'{modality}_hirenet_s0'))
  env = dict(os.environ, PYTHONPATH=REPO, JAX_PLATFORMS='cpu')
  proc = subprocess.run([sys.executable, '-m', 'experiments.fusion', f'--workdir={tmp_path}',
                         '--jax_cache_dir='], cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(tmp_path / 'fusion_s0' / 'results.json') as f:
    fused = json.load(f)
  assert fused['modalities'] == ['audio', 'text', 'video']
  for key in ('early_fusion', 'late_fusion', 'random_vote', 'majority_vote'):
    assert 0.0 <= fused[key]['test']['f1'] <= 1.0
  # Late fusion is the mean of the three runs' test scores on the shared candidates.
  scores = {}
  for modality in ('text', 'audio', 'video'):
    with open(tmp_path / f'{modality}_hirenet_s0' / 'predictions.csv') as f:
      rows = [line.split(',') for line in f.read().splitlines()[1:]]
    scores[modality] = {r[0]: float(r[3]) for r in rows if r[4] == 'test'}
  ids = sorted(set.intersection(*(set(s) for s in scores.values())))
  labels = {}
  with open(tmp_path / 'text_hirenet_s0' / 'predictions.csv') as f:
    for line in f.read().splitlines()[1:]:
      cid, _, label, _, _ = line.split(',')
      labels[cid] = int(label)
  mean = [np.mean([scores[m][c] for m in scores]) for c in ids]
  expected = metrics.classification_metrics([labels[c] for c in ids], mean)
  for key in ('precision', 'recall', 'f1', 'accuracy'):
    assert fused['late_fusion']['test'][key] == pytest.approx(expected[key], abs=1e-6)
  report = subprocess.run([sys.executable, '-m', 'experiments.report', f'--workdir={tmp_path}'],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
  assert report.returncode == 0, report.stderr[-2000:]
  table4 = (tmp_path / 'report' / 'table4.md').read_text()
  assert 'Early Fusion' in table4 and 'Late Fusion' in table4 and 'Majority vote' in table4
