"""train_lib: optimizer, steps, evaluation coverage, selection, errors, resume.

`FakeData` is an in-memory DataSource yielding contract batches (docs/contracts.md) of a
tiny text corpus whose label is planted in the answers; the end-to-end tests use the real
data_prep / input_pipeline instead.
"""

from __future__ import annotations

import json
import os
import shutil

import jax
import numpy as np
import pytest

from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet import packing
from hirenet_jax.core import sharding
from hirenet_jax.core import errors
from hirenet_jax.core import optimizer
from hirenet_jax.core import trainer
from hirenet_jax.hirenet import scoring
from hirenet_jax.hirenet import steps as steps_lib
from hirenet_jax.hirenet import train_lib
import helpers

VOCAB, EMBED, Q, T, L = 24, 16, 3, 6, 4
CUE = 5  # Token planted in the answers of hirable candidates.


class FakeData:
  """A DataSource over an in-memory text corpus (fixed padded shapes, one bucket)."""

  def __init__(self, num_candidates=(32, 8, 8), seed=0):
    rng = np.random.default_rng(seed)
    self.meta = {'vocab_size': VOCAB, 'embedding_dim': EMBED, 'feature_dim': 0,
                 'candidate_ids': {}}
    self._records = {}
    for split, n in zip(dataset_spec.SPLITS, num_candidates):
      labels = rng.integers(0, 2, n)
      lengths = rng.integers(1, T + 1, (n, Q))
      lengths[:, -1] *= rng.integers(0, 2, n)  # Some candidates answered 2 questions.
      answers = rng.integers(6, VOCAB, (n, Q, T))
      answers[labels == 1, 0, 0] = CUE
      answers *= np.arange(T) < lengths[..., None]
      self._records[split] = dict(
          answers=answers.astype(np.int32), answer_lengths=lengths.astype(np.int32),
          questions=rng.integers(2, VOCAB, (n, Q, L)).astype(np.int32),
          question_lengths=np.full((n, Q), L, np.int32),
          job_title=rng.integers(2, VOCAB, (n, L)).astype(np.int32),
          job_title_length=np.full((n,), L, np.int32), label=labels.astype(np.int32))
      self.meta['candidate_ids'][split] = [f'{split}{i:03d}' for i in range(n)]
    self._table = rng.normal(0, 0.3, (VOCAB, EMBED)).astype(np.float32)
    self._table[0] = 0

  def embeddings(self):
    return self._table

  def num_records(self, split):
    return len(self._records[split]['label'])

  def num_batches(self, split, *, batch_size, epoch=0, shuffle=False):
    return -(-self.num_records(split) // batch_size)

  def batches(self, split, *, batch_size, epoch, shuffle, start_step=0):
    recs, n = self._records[split], self.num_records(split)
    order = (np.random.default_rng([0, epoch]).permutation(n) if shuffle
             else np.arange(n))
    local = batch_size // jax.process_count()
    for b in range(start_step, self.num_batches(split, batch_size=batch_size)):
      idx = order[b * batch_size:(b + 1) * batch_size]
      idx = np.concatenate([idx, -np.ones(batch_size - len(idx), np.int64)])
      idx = idx[jax.process_index() * local:(jax.process_index() + 1) * local]
      real = idx >= 0
      batch = {k: np.where(real.reshape((-1,) + (1,) * (v.ndim - 1)), v[idx], 0)
               .astype(v.dtype) for k, v in recs.items()}
      batch['weight'] = real.astype(np.float32)
      batch['index'] = np.where(real, idx, -1).astype(np.int32)
      yield packing.pack_padded(batch, rows=batch_size * Q)

  def record_info(self, split):
    n = self.num_records(split)
    return {'candidate_id': self.meta['candidate_ids'][split],
            'position_id': ['p0'] * n,
            'label': self._records[split]['label'].tolist(),
            'answer_index': [list(range(Q))] * n}


def tiny_config(**overrides):
  """experiments/configs/test.py for the in-memory data (no data_dir)."""
  return helpers.tiny_config('', **{'model.embedding_dim': EMBED, **overrides})


@pytest.fixture(scope='module')
def data():
  return FakeData()


def _state(config, data, mesh=None):
  model = steps_lib.make_model(config, data.meta)
  example = next(iter(data.batches('train', batch_size=config.batch_size, epoch=0,
                                   shuffle=False)))
  state = steps_lib.create_train_state(config, model, example, total_steps=10,
                                       embeddings=data.embeddings(), mesh=mesh)
  return state, example


def test_frozen_embeddings_get_no_adam_state_and_no_update(data):
  config = tiny_config()
  state, batch = _state(config, data)
  np.testing.assert_array_equal(state.params['embed']['embedding'], data.embeddings())
  shapes = [x.shape for x in jax.tree.leaves(state.opt_state)]
  assert (VOCAB, EMBED) not in shapes
  before = jax.device_get(state.params)
  new_state, _ = jax.jit(steps_lib.train_step)(state, batch, jax.random.PRNGKey(0))
  after = jax.device_get(new_state.params)
  np.testing.assert_array_equal(after['embed']['embedding'], before['embed']['embedding'])
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, b), before, after)
  del changed['embed']
  assert all(jax.tree.leaves(changed)), changed  # Every other parameter moved.


def test_trained_embeddings_do_update(data):
  config = tiny_config(**{'model.train_embeddings': 'true'})
  state, batch = _state(config, data)
  shapes = [x.shape for x in jax.tree.leaves(state.opt_state)]
  assert (VOCAB, EMBED) in shapes
  new_state, _ = jax.jit(steps_lib.train_step)(state, batch, jax.random.PRNGKey(0))
  assert not np.array_equal(new_state.params['embed']['embedding'],
                            state.params['embed']['embedding'])


def test_wrong_embedding_size_is_a_config_error(data):
  with pytest.raises(errors.ConfigError, match='embedding_dim=16'):
    _state(tiny_config(**{'model.embedding_dim': 12}), data)


def test_train_step_metrics_are_sums(data):
  config = tiny_config()
  state, batch = _state(config, data)
  _, m = jax.jit(steps_lib.train_step)(state, batch, jax.random.PRNGKey(0))
  assert float(m['candidates']) == batch['weight'].sum()
  assert float(m['loss_weight']) == batch['weight'].sum()
  assert 0 < float(m['loss_sum']) / float(m['loss_weight']) < 5


def test_evaluate_scores_every_record_exactly_once(data):
  config = tiny_config()
  state, _ = _state(config, data, sharding.make_mesh())
  steps = steps_lib.make_steps(sharding.make_mesh())
  out = scoring.evaluate(steps, state, data, 'validation', batch_size=3 * jax.device_count())
  assert out['scores'].shape == (8,) and np.isfinite(out['scores']).all()
  np.testing.assert_array_equal(out['labels'], data._records['validation']['label'])


def test_schedules():
  config = tiny_config(schedule='cosine', warmup_steps=2, learning_rate=1.0)
  lr = optimizer.make_schedule(config, total_steps=12)
  assert float(lr(0)) == 0.0 and float(lr(2)) == pytest.approx(1.0)
  assert float(lr(12)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize('field,value,match', [
    ('modality', 'smell', 'unknown modality'),
    ('model.variant', 'transformer', 'unknown variant'),
    ('batch_size', 0, 'batch_size must be positive'),
])
def test_bad_config_is_a_config_error(field, value, match, tmp_path, data):
  with pytest.raises(errors.ConfigError, match=match):
    train_lib.train_and_evaluate(tiny_config(**{field: value}), str(tmp_path), data=data)


def test_empty_split_is_a_config_error(tmp_path):
  with pytest.raises(errors.ConfigError, match='validation split'):
    train_lib.train_and_evaluate(tiny_config(), str(tmp_path),
                                 data=FakeData(num_candidates=(16, 0, 8)))


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory, data):
  workdir = str(tmp_path_factory.mktemp('run'))
  config = tiny_config(num_epochs=4, select_threshold=True)
  return workdir, config, train_lib.train_and_evaluate(config, workdir, data=data)


def test_run_writes_results_predictions_and_logs(finished_run):
  workdir, _, results = finished_run
  with open(os.path.join(workdir, 'results.json')) as f:
    on_disk = json.load(f)
  for split in ('validation', 'test'):
    assert {'precision', 'recall', 'f1', 'accuracy', 'roc_auc'} <= set(on_disk[split])
  assert on_disk['config']['model']['hidden_size'] == 8
  with open(os.path.join(workdir, 'predictions.csv')) as f:
    lines = f.read().splitlines()
  assert lines[0] == 'candidate_id,position_id,label,score,split' and len(lines) == 17
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    splits = {json.loads(line)['split'] for line in f}
  assert {'train', 'validation', 'best_test'} <= splits
  assert any(name.startswith('events') for _, _, files in
             os.walk(os.path.join(workdir, 'tensorboard')) for name in files)
  assert len(results['history']) == 4


def test_best_checkpoint_has_the_best_validation_f1(finished_run):
  _, _, results = finished_run
  best = max(h['validation_f1'] for h in results['history'])
  chosen = [h for h in results['history'] if h['epoch'] == results['best_epoch']][0]
  assert chosen['validation_f1'] == best
  assert results['threshold'] == chosen['threshold']
  assert results['validation']['f1'] == pytest.approx(best)


def _file_stamps(directory):
  """{path: (size, mtime_ns)} of every file under `directory`."""
  return {os.path.join(root, name): (os.stat(os.path.join(root, name)).st_size,
                                     os.stat(os.path.join(root, name)).st_mtime_ns)
          for root, _, names in os.walk(directory) for name in names}


def test_finished_run_is_not_retrained(finished_run, data, monkeypatch):
  workdir, config, results = finished_run

  def no_train_step(*args):
    raise AssertionError('a finished run took a train step')

  monkeypatch.setattr(steps_lib, 'train_step', no_train_step)  # make_steps jits this.
  checkpoints = {d: _file_stamps(os.path.join(workdir, d)) for d in ('checkpoints', 'best')}
  assert checkpoints['checkpoints'] and checkpoints['best']
  again = train_lib.train_and_evaluate(config, workdir, data=data)
  assert {d: _file_stamps(os.path.join(workdir, d)) for d in checkpoints} == checkpoints
  assert again['test'] == results['test'] and again['history'] == results['history']


def test_predict_batches_returns_attention_per_valid_step(finished_run, data):
  workdir, _, _ = finished_run
  state, steps, threshold, config = scoring.load_for_prediction(workdir, data)
  rows = list(scoring.predict_batches(
      steps, state, data.batches('test', batch_size=config.batch_size, epoch=0,
                                 shuffle=False)))
  assert sorted(r['index'] for r in rows) == list(range(8))
  lengths = data._records['test']['answer_lengths']
  for r in rows:
    valid = lengths[r['index']][lengths[r['index']] > 0]
    assert len(r['question_attention']) == len(valid)
    assert sum(r['question_attention']) == pytest.approx(1.0, abs=1e-5)
    assert [len(a) for a in r['answer_attention']] == valid.tolist()
    for a in r['answer_attention']:
      assert sum(a) == pytest.approx(1.0, abs=1e-5)
  with open(os.path.join(workdir, 'predictions.csv')) as f:
    test_scores = {line.split(',')[0]: float(line.split(',')[3])
                   for line in f.read().splitlines()[1:] if line.endswith(',test')}
  for r in rows:
    assert r['score'] == pytest.approx(test_scores[f'test{r["index"]:03d}'], abs=1e-6)


def test_resume_after_stop_matches_uninterrupted_run(tmp_path, data):
  """A run stopped mid-epoch (here: its latest checkpoint rolled back to a mid-epoch one)
  and restarted reaches the same parameters and metrics as an uninterrupted run."""
  config = tiny_config(num_epochs=2, checkpoint_every_steps=3, max_checkpoints_to_keep=10)
  full = train_lib.train_and_evaluate(config, str(tmp_path / 'full'), data=data)
  interrupted = str(tmp_path / 'interrupted')
  train_lib.train_and_evaluate(config, interrupted, data=data)
  ckpt_dir = os.path.join(interrupted, 'checkpoints')
  steps = sorted(int(s) for s in os.listdir(ckpt_dir) if s.isdigit())
  assert 3 in steps
  for s in steps:  # Forget everything after step 3 (mid first epoch), as if killed there.
    if s > 3:
      shutil.rmtree(os.path.join(ckpt_dir, str(s)))
  shutil.rmtree(os.path.join(interrupted, 'best'))
  os.remove(os.path.join(interrupted, 'results.json'))
  resumed = train_lib.train_and_evaluate(config, interrupted, data=data)
  assert resumed['test'] == full['test'] and resumed['validation'] == full['validation']
  assert resumed['history'] == full['history']



def test_auto_embeddings_follow_the_training_word_counts(tiny):
  """'auto' freezes word2vec vectors of words the training split saw often and fine-tunes
  those of a split whose median word is rare; explicit values are kept, bad ones refused."""
  from hirenet_jax.hirenet import input_pipeline
  _, data_dir = tiny
  config = helpers.tiny_config(data_dir, **{'model.train_embeddings': 'auto'})
  prepared = input_pipeline.PreparedDataset.from_config(config)
  median = train_lib.median_training_word_count(data_dir, 'text')
  assert median > 0
  resolved = train_lib.resolve_train_embeddings(config, prepared)
  expected = 'true' if median < train_lib.AUTO_EMBEDDINGS_MIN_MEDIAN_COUNT else 'false'
  assert resolved.model.train_embeddings == expected
  assert config.model.train_embeddings == 'auto'  # the caller's config is left alone.
  default = train_lib.AUTO_EMBEDDINGS_MIN_MEDIAN_COUNT
  try:
    train_lib.AUTO_EMBEDDINGS_MIN_MEDIAN_COUNT = median + 1
    assert train_lib.resolve_train_embeddings(config, prepared).model.train_embeddings == 'true'
    train_lib.AUTO_EMBEDDINGS_MIN_MEDIAN_COUNT = median
    assert train_lib.resolve_train_embeddings(config, prepared).model.train_embeddings == 'false'
  finally:
    train_lib.AUTO_EMBEDDINGS_MIN_MEDIAN_COUNT = default
  for value in ('true', 'false'):
    explicit = helpers.tiny_config(data_dir, **{'model.train_embeddings': value})
    assert train_lib.resolve_train_embeddings(explicit, prepared) is explicit
  with pytest.raises(errors.ConfigError, match='train_embeddings'):
    train_lib.resolve_train_embeddings(
        helpers.tiny_config(data_dir, **{'model.train_embeddings': 'maybe'}), prepared)


def test_a_checkpoint_from_an_older_version_is_a_clear_error():
  entry = {'epoch': 0, 'validation_loss': 0.6, 'validation_f1': 0.7, 'threshold': 0.5}
  with pytest.raises(errors.ConfigError, match='older version.*constant'):
    trainer.LoopState.from_dict({'epoch': 1, 'history': [entry]},
                                required_keys=train_lib.ENTRY_KEYS)
  full = dict(entry, validation_roc_auc=0.6, validation_score_std=0.1, constant=False)
  state = trainer.LoopState.from_dict({'epoch': 1, 'history': [full], 'unknown': 3},
                                      required_keys=train_lib.ENTRY_KEYS)
  assert state.epoch == 1 and state.history == [full]
