"""pjf train_lib and commands: outputs agree with themselves, a resumed run ends where an
uninterrupted one does, and the device count does not change the results."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

import helpers
import pjf_tiny
from experiments.configs import pjf as pjf_config
from hirenet_jax.core import checkpointing
from hirenet_jax.core import ranking
from hirenet_jax.pjf import train_lib


def _config(name, **overrides):
  config = pjf_config.get_config('tiny')
  config.model.name = name
  for key, value in overrides.items():
    config[key] = value
  return config


@pytest.fixture(scope='module')
def corpus():
  return pjf_tiny.make_corpus()


@pytest.fixture(scope='module')
def ipjf_run(corpus, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('ipjf'))
  return workdir, train_lib.train_and_evaluate(_config('ipjf', num_epochs=3), corpus, workdir)


def _read_scores(workdir):
  with open(os.path.join(workdir, train_lib.SCORES_FILE)) as f:
    return list(csv.DictReader(f))


def test_scores_and_results_agree(ipjf_run, corpus):
  workdir, results = ipjf_run
  with open(os.path.join(workdir, train_lib.RESULTS_FILE)) as f:
    assert json.load(f) == results
  rows = _read_scores(workdir)
  assert [(r['candidate_id'], r['job_id']) for r in rows] == [
      (p.candidate_id, p.job_id) for p in corpus.pairs]
  for split in ('validation', 'test'):
    pairs = corpus.split(split)
    mine = [r for r in rows if r['split'] == split]
    job = np.asarray([float(r['job_score']) for r in mine])
    cand = np.asarray([float(r['candidate_score']) for r in mine])
    for side, s in (('job', job), ('candidate', cand)):
      got = ranking.pjf_side_metrics(pairs, s, side)
      for name in ranking.metric_names(5):
        assert results[split][side][name] == pytest.approx(got[name], abs=1e-5)
      assert results['random'][split][side]['ndcg@5'] == pytest.approx(
          ranking.pjf_random_metrics(pairs, side)['ndcg@5'])
    t = results['thresholds']
    matches = [p.match for p in pairs]
    hs = ranking.macro_prf(matches, ranking.handshake(job, cand, t['job'], t['candidate']))
    assert results[split]['handshake']['f1'] == pytest.approx(hs['f1'], abs=1e-4)
  assert set(results['selection']) == {'joint'}  # IPJF trains both sides at once.


def test_one_sided_model_trains_a_run_per_side_and_resumes_exactly(corpus, tmp_path,
                                                                    monkeypatch):
  config = _config('ncf', num_epochs=3)
  full = str(tmp_path / 'full')
  train_lib.train_and_evaluate(config, corpus, full)
  assert sorted(os.listdir(full)) == ['candidate', 'config.json', 'job', 'results.json',
                                      'scores.csv']

  # Killed after the second epoch's checkpoint of the job run.
  interrupted = str(tmp_path / 'interrupted')
  real_save = checkpointing.Checkpointer.save_latest
  calls = []

  def save_then_die(self, step, state, meta):
    real_save(self, step, state, meta)
    calls.append(step)
    if len(calls) == 2:
      self.wait()
      raise KeyboardInterrupt('killed')

  monkeypatch.setattr(checkpointing.Checkpointer, 'save_latest', save_then_die)
  with pytest.raises(KeyboardInterrupt):
    train_lib.train_and_evaluate(config, corpus, interrupted)
  monkeypatch.setattr(checkpointing.Checkpointer, 'save_latest', real_save)
  train_lib.train_and_evaluate(config, corpus, interrupted)
  for run in ('job', 'candidate'):
    a = helpers.load_final_params(os.path.join(full, run))
    b = helpers.load_final_params(os.path.join(interrupted, run))
    for x, y in zip(jax_leaves(a), jax_leaves(b), strict=True):
      np.testing.assert_array_equal(x, y)
  assert _read_scores(full) == _read_scores(interrupted)


def test_killed_mid_epoch_resumes_to_the_same_parameters(corpus, tmp_path, monkeypatch):
  """A run whose data stops inside an epoch (the process killed) and restarted in the
  same workdir ends with exactly the parameters and history of a run never killed."""
  config = _config('pjfnn', num_epochs=2, checkpoint_every_steps=4)
  config.model.dropout_rate = 0.3  # The step's randomness must be the same after resuming.
  full = str(tmp_path / 'full')
  expected = train_lib.train_and_evaluate(config, corpus, full)
  real_batches = train_lib.train_batches
  served = []

  def dies_after_nine(*args):
    for batch in real_batches(*args):
      if len(served) == 9:  # 6 batches an epoch: a batch after step 8's checkpoint.
        raise KeyboardInterrupt('killed')
      served.append(args[-2:])
      yield batch

  interrupted = str(tmp_path / 'interrupted')
  monkeypatch.setattr(train_lib, 'train_batches', dies_after_nine)
  with pytest.raises(KeyboardInterrupt):
    train_lib.train_and_evaluate(config, corpus, interrupted)
  starts = []

  def recording(*args):
    starts.append(args[-2:])
    return real_batches(*args)

  monkeypatch.setattr(train_lib, 'train_batches', recording)
  resumed = train_lib.train_and_evaluate(config, corpus, interrupted)
  assert starts[0] == (1, 2)  # The job run resumed at batch 2 of epoch 1.
  for run in ('job', 'candidate'):
    a = helpers.load_final_params(os.path.join(full, run))
    b = helpers.load_final_params(os.path.join(interrupted, run))
    for x, y in zip(jax_leaves(a), jax_leaves(b), strict=True):
      np.testing.assert_array_equal(x, y)
  assert resumed['selection'] == expected['selection']
  assert resumed['test'] == expected['test']
  assert _read_scores(full) == _read_scores(interrupted)


def jax_leaves(tree):
  import jax
  return jax.tree.leaves(tree)


def test_commands_on_one_and_eight_devices_agree(corpus, tmp_path):
  from data_prep.pjf import corpus as pjf_corpus
  corpus_dir = pjf_corpus.write_corpus(corpus, str(tmp_path / 'corpus'))
  one = str(tmp_path / 'one')
  tiny = ['--config=experiments/configs/pjf.py:tiny', '--config.num_epochs=2']
  proc = helpers.run_cli('experiments.pjf', '--model=ncf', f'--corpus_dir={corpus_dir}',
                         f'--workdir={one}', *tiny)
  assert 'handshake' in proc.stdout and 'random ndcg' in proc.stdout
  grid = str(tmp_path / 'grid')
  proc = helpers.run_cli('experiments.pjf_grid', '--models=ncf', '--seeds=2',
                         f'--corpus_dir={corpus_dir}', f'--workdir={grid}', *tiny,
                         num_devices=8)
  with open(os.path.join(grid, 'ncf_s0', train_lib.RESULTS_FILE)) as f:
    assert json.load(f)['num_devices'] == 8
  one_scores, eight_scores = _read_scores(one), _read_scores(os.path.join(grid, 'ncf_s0'))
  assert one_scores and len(one_scores) == len(eight_scores)
  for a, b in zip(one_scores, eight_scores, strict=True):
    assert a['candidate_id'] == b['candidate_id'] and a['job_id'] == b['job_id']
    for key in ('job_score', 'candidate_score'):
      assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-4)
  with open(os.path.join(grid, 'table2_baselines.md')) as f:
    table = f.read()
  assert '| NCF |' in table and '| Random ranking (exact) |' in table
  assert '| 2 |' in table  # Two seeds.
  with open(os.path.join(grid, 'table2_baselines.csv')) as f:
    rows = list(csv.DictReader(f))
  assert [r['method'] for r in rows] == ['NCF', 'Random ranking (exact)']


def test_unknown_model_is_a_one_line_error(tmp_path):
  proc = helpers.run_cli('experiments.pjf', '--model=bert', f'--corpus_dir={tmp_path}',
                         check=False)
  assert proc.returncode == 1 and 'unknown model' in proc.stderr.splitlines()[-1]
