"""core.trainer on a toy task: a run killed mid-epoch and restarted ends with the same
parameters as one never killed; selection keeps the best epoch and its threshold; early
stopping counts epochs without improvement."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hirenet_jax.core import losses
from hirenet_jax.core import sharding
from hirenet_jax.core import trainer

D, BATCH, ROWS = 4, 8, 44  # 44 rows: 6 batches an epoch, the last one half padding.


def _data():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(ROWS, D)).astype(np.float32)
  y = (x @ np.arange(1.0, D + 1) > 0).astype(np.float32)
  return x, y


def _train_step(state, batch, rng):
  """Logistic regression whose inputs get noise from fold_in(rng, step): a resumed run
  must draw the same noise to end where an uninterrupted one does."""
  noise = jax.random.normal(jax.random.fold_in(rng, state.step), batch['x'].shape)

  def loss_fn(params):
    logits = (batch['x'] + 0.1 * noise) @ params['w'] + params['b']
    loss_sum, weight = losses.weighted_bce(logits, batch['y'], batch['weight'])
    return loss_sum / jnp.maximum(weight, 1.0), (loss_sum, weight)

  (_, (loss_sum, weight)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  return state.apply_gradients(grads=grads), {'loss_sum': loss_sum, 'weight': weight}


def _batches(epoch, start_step):
  x, y = _data()
  order = np.random.default_rng([0, epoch]).permutation(ROWS)
  for s in range(start_step * BATCH, ROWS, BATCH):
    idx = order[s:s + BATCH]
    pad = BATCH - len(idx)
    yield {'x': np.pad(x[idx], ((0, pad), (0, 0))), 'y': np.pad(y[idx], (0, pad)),
           'weight': np.pad(np.ones(len(idx), np.float32), (0, pad))}


def _task(validate=None, batches=_batches, num_epochs=3):
  x, y = _data()

  def auc(state, epoch):
    del epoch
    scores = x @ np.asarray(state.params['w']) + float(state.params['b'])
    pos, neg = scores[y == 1], scores[y == 0]
    return {'validation_roc_auc': float((pos[:, None] > neg[None]).mean())}

  return trainer.Task(
      train_step=jax.jit(_train_step, donate_argnums=0),
      train_batches=batches, epoch_steps=[-(-ROWS // BATCH)] * num_epochs,
      validate=validate or auc,
      summarise=lambda s: {'loss': s.get('loss_sum', 0.0) / max(s.get('weight', 0.0), 1.0)},
      describe=lambda e: f'validation ROC AUC {e["validation_roc_auc"]:.4f}')


def _fit(task, workdir, **options):
  mesh = sharding.make_mesh()
  params = sharding.replicate({'w': np.zeros((D,), np.float32), 'b': np.float32(0)}, mesh)
  state = trainer.create_state(lambda *a: None, params, optax.adam(0.1), mesh)
  rng = sharding.replicate(np.asarray(jax.random.PRNGKey(3)), mesh)
  options = trainer.Options(async_checkpointing=False, **options)
  return trainer.fit(task, state, rng, workdir, mesh, options)


def test_killed_mid_epoch_resumes_to_the_same_parameters(tmp_path):
  full = _fit(_task(), str(tmp_path / 'full'), checkpoint_every_steps=4)
  served = []

  def dies_after_nine(epoch, start_step):
    for batch in _batches(epoch, start_step):
      if len(served) == 9:  # Inside the second epoch, a batch after its checkpoint.
        raise KeyboardInterrupt('killed')
      served.append((epoch, start_step))
      yield batch

  killed = str(tmp_path / 'killed')
  with pytest.raises(KeyboardInterrupt):
    _fit(_task(batches=dies_after_nine), killed, checkpoint_every_steps=4)
  starts = []

  def recording(epoch, start_step):
    starts.append((epoch, start_step))
    return _batches(epoch, start_step)

  resumed = _fit(_task(batches=recording), killed, checkpoint_every_steps=4)
  assert starts[0] == (1, 2)  # Step 8 of 6 + 6: batch 2 of epoch 1.
  for a, b in zip(jax.tree.leaves(full.state.params), jax.tree.leaves(resumed.state.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert resumed.loop.history == full.loop.history
  assert int(resumed.state.step) == int(full.state.step)


def test_selection_keeps_the_best_epoch_and_early_stopping_counts_bad_epochs(tmp_path):
  aucs = [0.6, 0.8, 0.7, 0.75, 0.9]  # Epoch 4 is never reached: patience 2 after epoch 1.

  def planted(state, epoch):
    return {'validation_roc_auc': aucs[epoch], 'threshold': 0.1 * (epoch + 1),
            'step_seen': int(state.step)}

  fit = _fit(_task(validate=planted, num_epochs=5), str(tmp_path), early_stopping_patience=2)
  assert [h['epoch'] for h in fit.loop.history] == [0, 1, 2, 3]
  assert fit.loop.finished and fit.loop.epoch == 4 and fit.loop.bad_epochs == 2
  assert fit.best.best_epoch == 1 and fit.best.threshold == pytest.approx(0.2)
  assert int(fit.state.step) == fit.loop.history[1]['step_seen'] == fit.best.best_step


def test_a_finished_run_is_not_retrained(tmp_path):
  first = _fit(_task(), str(tmp_path))

  def no_data(epoch, start_step):
    raise AssertionError(f'trained again (epoch {epoch}, step {start_step})')

  again = _fit(_task(batches=no_data), str(tmp_path))
  assert again.loop.history == first.loop.history
  for a, b in zip(jax.tree.leaves(first.state.params), jax.tree.leaves(again.state.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
