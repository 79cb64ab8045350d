"""Model selection (metrics.select_epoch and the training loop): the best selection metric
wins, a constant predictor never does and is reported loudly; the baselines fitted beside
a run; curves.png."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.core import metrics
from hirenet_jax.hirenet.baselines import beside_run as quick_baselines
from hirenet_jax.hirenet import scoring
from hirenet_jax.hirenet import train_lib
from helpers import tiny_config


def entry(epoch, auc, loss, f1, constant=False):
  return {'epoch': epoch, 'validation_roc_auc': auc, 'validation_loss': loss,
          'validation_f1': f1, 'constant': constant}


# Epoch 2 has constant scores and the best log loss and F1 (the all-hirable vote's):
# a selection that trusted the numbers alone would pick it.
HISTORY = [entry(0, 0.60, 0.69, 0.60), entry(1, 0.80, 0.60, 0.65),
           entry(2, 0.50, 0.50, 0.90, constant=True), entry(3, 0.75, 0.55, 0.70),
           entry(4, 0.80, 0.58, 0.62)]


@pytest.mark.parametrize('metric,expected', [
    ('roc_auc', 1),  # 0.80 first reached at epoch 1; epoch 4 ties and is later.
    ('log_loss', 3),  # Lowest loss among non-constant epochs.
    ('f1', 3),
])
def test_select_epoch_picks_the_best_non_constant_epoch(metric, expected):
  assert metrics.select_epoch(HISTORY, metric) == expected
  # The loop's incremental rule arrives at the same epoch.
  best = None
  for h in HISTORY:
    if metrics.is_better(h, best, metric):
      best = h
  assert best['epoch'] == expected


def test_all_constant_history_still_selects_by_the_metric():
  history = [entry(0, 0.5, 0.70, 0.6, True), entry(1, 0.5, 0.69, 0.6, True)]
  assert metrics.select_epoch(history, 'log_loss') == 1
  assert metrics.select_epoch(history + [entry(2, 0.55, 0.9, 0.1)], 'log_loss') == 2


def test_nan_metric_never_wins():
  history = [entry(0, 0.6, 0.7, 0.5), entry(1, float('nan'), 0.6, 0.5)]
  assert metrics.select_epoch(history, 'roc_auc') == 0


def test_one_validation_class_at_every_epoch_selects_the_first_epoch():
  # ROC AUC is undefined (NaN) at every epoch: however the loss moves, none beats the first.
  history = [entry(e, float('nan'), 0.7 - 0.1 * e, 0.5 + 0.1 * e) for e in range(4)]
  assert metrics.select_epoch(history, 'roc_auc') == 0
  assert not any(metrics.is_better(h, history[0], 'roc_auc') for h in history[1:])


def test_threshold_without_constant_predictions():
  labels = np.array([1, 1, 1, 0, 1, 0, 1, 1])
  scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
  # The all-hirable vote has the best F1 (0.857) ...
  threshold, f1 = metrics.select_threshold(labels, scores)
  assert threshold < scores.min() and f1 == pytest.approx(12 / 14)
  # ... and is excluded: the best threshold that splits the candidates.
  threshold, f1 = metrics.select_threshold(labels, scores, allow_constant=False)
  predicted = scores >= threshold
  assert predicted.any() and not predicted.all()
  brute = max(metrics.classification_metrics(labels, scores, t)['f1'] for t in scores[:-1])
  assert f1 == pytest.approx(brute)
  # Ties still go to the threshold closest to 0.5; one distinct score gives 0.5's side.
  assert metrics.select_threshold([0, 1], [0.1, 0.9], allow_constant=False)[0] == 0.5
  assert metrics.select_threshold([0, 1], [0.3, 0.3], allow_constant=False)[1] == \
      pytest.approx(2 / 3)


def test_constant_warning():
  assert metrics.constant_warning('test', [0.2, 0.7, 0.4], 0.5) is None
  assert 'every test candidate hirable' in metrics.constant_warning('test', [0.6, 0.7], 0.5)
  assert 'near-constant' in metrics.constant_warning('test', [0.49999, 0.50001], 0.5)


class PlantedEvaluate:
  """scoring.evaluate, except that the validation evaluations numbered in `constant`
  return constant scores with a near-zero loss (the best log loss of the run)."""

  def __init__(self, constant):
    self.constant, self.calls = set(constant), 0

  def __call__(self, steps, state, data, split, *, batch_size):
    out = scoring.evaluate(steps, state, data, split, batch_size=batch_size)
    if split == 'validation':
      self.calls += 1
      if self.calls in self.constant:
        out = dict(out, scores=np.full_like(out['scores'], 0.6), loss=1e-3)
    return out


def test_training_never_selects_a_planted_constant_epoch(tiny, tmp_path, monkeypatch):
  _, data_dir = tiny
  monkeypatch.setattr(train_lib, 'evaluate', PlantedEvaluate(constant={2}))
  config = tiny_config(data_dir, num_epochs=3, selection_metric='log_loss',
                       tensorboard=False)
  results = train_lib.train_and_evaluate(config, str(tmp_path))
  history = results['history']
  assert [h['constant'] for h in history] == [False, True, False]
  assert min(h['validation_loss'] for h in history) == history[1]['validation_loss']
  assert results['best_epoch'] == min((0, 2), key=lambda e: history[e]['validation_loss'])
  chosen = history[results['best_epoch']]
  assert results['threshold'] == chosen['threshold']
  assert results['validation']['loss'] == pytest.approx(chosen['validation_loss'])
  assert os.path.getsize(tmp_path / 'curves.png') > 1000
  with open(tmp_path / 'curves.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_constant_predictor_is_reported(tiny, tmp_path, monkeypatch):
  _, data_dir = tiny
  monkeypatch.setattr(train_lib, 'evaluate', PlantedEvaluate(constant=range(1, 10)))
  config = tiny_config(data_dir, num_epochs=2, tensorboard=False)
  results = train_lib.train_and_evaluate(config, str(tmp_path))
  with open(tmp_path / 'results.json') as f:
    on_disk = json.load(f)
  assert on_disk['warnings'] == results['warnings']
  assert any('learnt nothing' in w for w in results['warnings'])
  assert any('every validation candidate' in w for w in results['warnings'])
  from experiments import common  # The entry point prints every warning loudly.
  printed = common.run_report(config, results, str(tmp_path)).splitlines()
  assert sum(line.startswith('WARNING: ') for line in printed) == len(results['warnings'])


def test_baselines_on_the_runs_split(tiny, tmp_path):
  _, data_dir = tiny
  baselines = quick_baselines.fit(data_dir, 'text')
  assert set(baselines) == {'majority_vote', 'tfidf_logreg', 'probe_logreg'}
  # The probe of the dataset's own embedding table is a row like TF-IDF's.
  assert set(baselines['probe_logreg']) == set(baselines['tfidf_logreg'])
  assert baselines['probe_logreg']['name'] == 'probe (mean vectors) + LR'
  assert baselines['probe_logreg']['num_features'] == \
      input_pipeline.load_embeddings(data_dir, 'text').shape[1]
  info = input_pipeline.record_info(data_dir, 'text', 'test')
  for b in baselines.values():
    assert b['test']['num_examples'] == len(info['label'])
    assert b['test']['num_positive'] == sum(info['label'])
  # A model below the best baseline's ROC AUC is told so.
  results = {'test': {'roc_auc': -1.0}, 'warnings': []}
  os.makedirs(tmp_path, exist_ok=True)
  results = train_lib.add_baselines(results, baselines, str(tmp_path))
  assert any('below the' in w for w in results['warnings'])
  with open(tmp_path / 'results.json') as f:
    assert set(json.load(f)['baselines']) == set(baselines)


def test_warning_names_the_probe_when_only_the_probe_is_above(tmp_path):
  row = lambda name, auc: {'name': name, 'test': {'roc_auc': auc}}
  baselines = {'majority_vote': row('majority vote', 0.5), 'tfidf_logreg': row('TF-IDF + LR', 0.6),
               'probe_logreg': row('probe (mean vectors) + LR', 0.8)}
  results = train_lib.add_baselines({'test': {'roc_auc': 0.7}, 'warnings': []}, baselines,
                                    str(tmp_path))
  assert len(results['warnings']) == 1 and 'probe (mean vectors) + LR' in results['warnings'][0]
  baselines['probe_logreg'] = row('probe (mean vectors) + LR', 0.65)
  results = train_lib.add_baselines({'test': {'roc_auc': 0.7}, 'warnings': []}, baselines,
                                    str(tmp_path))
  assert not results['warnings']


@pytest.mark.parametrize('meta', [{}, {'feature_names': ['pitch', 'AU12_c'], 'frame_rate': 4.0}],
                         ids=['audio', 'video'])
def test_functionals_baseline_finds_a_planted_frame_mean(meta):
  """Hirable candidates' answers have a higher mean of the first feature: the functionals
  (mean among them) + logistic regression must rank them first."""
  from hirenet_jax.hirenet.baselines import paper as baseline_features
  rng = np.random.default_rng(0)

  def split(n):
    labels = rng.integers(0, 2, n)
    labels[:2] = (0, 1)
    sequences, candidate = [], []
    for row, label in enumerate(labels):
      for _ in range(2):
        frames = rng.normal(0, 1, (int(rng.integers(5, 12)), 2))
        frames[:, 0] += 1.5 * label
        frames[:, 1] = frames[:, 1] > 0  # Binary for video, any value for audio.
        sequences.append(frames.astype(np.float32))
        candidate.append(row)
    return baseline_features.SplitAnswers(
        sequences, np.asarray(candidate), np.zeros(len(candidate), np.int64),
        [f'c{i}' for i in range(n)], ['p'] * n, labels)

  splits = {'train': split(60), 'validation': split(20), 'test': split(20)}
  params, scores = quick_baselines.functionals_logreg_scores(splits, meta, None)
  assert params['C'] in quick_baselines.C_GRID
  assert metrics.roc_auc(splits['test'].labels, scores['test']) > 0.9


def test_one_class_validation_selects_on_log_loss(tiny, tmp_path):
  """F1 and ROC AUC cannot rank epochs on a one-class validation split: log loss does,
  and the run says so."""
  from hirenet_jax.hirenet.input_pipeline import PreparedDataset
  _, data_dir = tiny
  config = tiny_config(data_dir, num_epochs=1, selection_metric='roc_auc',
                       tensorboard=False)

  class OneClassValidation(PreparedDataset):
    def record_info(self, split):
      info = super().record_info(split)
      return dict(info, label=[0] * len(info['label'])) if split == 'validation' else info

  data = OneClassValidation.from_config(config)
  results = train_lib.train_and_evaluate(config, str(tmp_path), data=data)
  assert results['selection_metric'] == 'log_loss'
  assert results['history'][0]['selection'] == results['history'][0]['validation_loss']
  assert any('single class' in w for w in results['warnings'])
