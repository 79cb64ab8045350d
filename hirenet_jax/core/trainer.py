"""The training loop of both systems (flax sst2 `train.py`, nanodo `Trainer`).

A system (HireNet, the person-job-fit baselines) describes its training as a `Task`: its
jitted train step, its training batches epoch by epoch, and how an epoch is validated.
`fit` owns the rest: the train state, the data position, checkpoints (`checkpointing`:
the latest one, resumed by itself, mid-epoch included, and the best one), model selection
on a validation metric with its decision threshold (`metrics.is_better`), early stopping,
and the progress lines and train scalars. A killed run restarted in the same workdir ends
with the same parameters as one never killed: the batches of an epoch are a function of
the epoch and the step within it, and the step draws its randomness from
`fold_in(rng, state.step)` with the run's key, which is saved with the state.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from flax.training import train_state as train_state_lib

from hirenet_jax.core import checkpointing
from hirenet_jax.core import metrics as metrics_lib
from hirenet_jax.core import run_log
from hirenet_jax.core import sharding
from hirenet_jax.core.errors import ConfigError


class TrainState(train_state_lib.TrainState):
  """params, opt_state and step (pytree leaves) with the model's apply_fn and tx."""


def create_state(apply_fn: Callable, params: Any, tx, mesh: jax.sharding.Mesh | None = None
                 ) -> TrainState:
  """Step 0 of `params` with the optimizer state of `tx`, replicated on `mesh`."""
  out_sharding = sharding.replicated(mesh) if mesh is not None else None
  step = (jnp.zeros((), jnp.int32) if mesh is None
          else sharding.replicate(np.zeros((), np.int32), mesh))
  return TrainState(step=step, apply_fn=apply_fn, params=params, tx=tx,
                    opt_state=jax.jit(tx.init, out_shardings=out_sharding)(params))


def checkpoint_tree(state: TrainState, rng: jax.Array) -> dict[str, Any]:
  """What a checkpoint holds: the state's arrays and the run's RNG key."""
  return {'params': state.params, 'opt_state': state.opt_state, 'step': state.step,
          'rng': rng}


@dataclasses.dataclass
class LoopState:
  """Where the loop is, saved with every checkpoint so that a killed run resumes exactly:
  the data position, model selection so far and the epoch's running metric sums."""
  epoch: int = 0
  step_in_epoch: int = 0
  best_epoch: int = -1
  best_step: int = -1
  threshold: float = metrics_lib.DEFAULT_THRESHOLD
  bad_epochs: int = 0
  epoch_sums: dict = dataclasses.field(default_factory=dict)
  finished: bool = False
  history: list = dataclasses.field(default_factory=list)

  @classmethod
  def from_dict(cls, d: Mapping[str, Any], *, required_keys: Sequence[str] = ()
                ) -> 'LoopState':
    """Raises ConfigError for a checkpoint whose epochs lack `required_keys`, what
    selection now reads (written by an older version): resuming it would mix two rules."""
    needed = set(required_keys)
    for entry in d.get('history', []):
      missing = needed - set(entry)
      if missing:
        raise ConfigError(
            f'the checkpoint was written by an older version of hirenet_jax (its epoch '
            f'{entry.get("epoch")} lacks {sorted(missing)}): train into a new --workdir')
    return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})

  def best_entry(self) -> dict | None:
    """The history entry of the selected epoch so far (None before the first)."""
    return next((h for h in self.history if h['epoch'] == self.best_epoch), None)


@dataclasses.dataclass(frozen=True)
class Task:
  """What a system gives the trainer.

  train_step: jitted `(state, batch, rng) -> (state, per-batch metric sums)`; `rng` is
    the run's key, from which the step derives its own with `fold_in(rng, state.step)`.
  train_batches: `(epoch, start_step) -> host batches` of that epoch from its
    `start_step`-th batch on (each with a `weight` per row); the same for a resumed run.
  epoch_steps: the number of batches of each epoch (its length is the number of epochs).
  validate: `(state, epoch) -> figures` of the epoch on validation: the selection
    metric's history key (`metrics.SELECTION_METRICS`) and, if the system has them,
    `threshold` (the decision threshold it selects with the epoch) and `constant`.
  summarise: metric sums of a span of train steps -> train figures, `loss` among them.
  describe: an epoch's history entry -> its validation figures for the epoch's line.
  """
  train_step: Callable
  train_batches: Callable[[int, int], Iterable[Mapping[str, np.ndarray]]]
  epoch_steps: Sequence[int]
  validate: Callable[[TrainState, int], dict]
  summarise: Callable[[Mapping[str, float]], dict]
  describe: Callable[[Mapping[str, Any]], str]


@dataclasses.dataclass(frozen=True)
class Options:
  """How the loop selects, stops, logs and checkpoints."""
  selection_metric: str = 'roc_auc'  # A key of metrics.SELECTION_METRICS.
  early_stopping_patience: int = 0  # Epochs without a better selection metric; 0 = off.
  log_every_steps: int = 0  # Train scalars and a progress line; 0 = end of epoch only.
  checkpoint_every_steps: int = 0  # Mid-epoch checkpoints; 0 = end of epoch only.
  max_checkpoints_to_keep: int = 2
  async_checkpointing: bool = True
  required_entry_keys: tuple[str, ...] = ()  # What a resumed checkpoint's epochs must have.
  name: str = ''  # Prefix of the epoch lines, e.g. the model and run.


@dataclasses.dataclass
class Fit:
  """A finished run: the best checkpoint's state, the loop and the best checkpoint's
  loop state (its `threshold`, `best_epoch`, `best_step`)."""
  state: TrainState
  loop: LoopState
  best: LoopState
  train_time_s: float


def _fetch_sums(pending: list) -> dict[str, float]:
  """Sums a list of per-step metric dicts with one device-to-host transfer."""
  sums: dict[str, float] = {}
  for m in jax.device_get(pending):
    for k, v in m.items():
      sums[k] = sums.get(k, 0.0) + float(v)
  return sums


def _add(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
  return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in set(a) | set(b)}


def fit(task: Task, state: TrainState, rng: jax.Array, workdir: str,
        mesh: jax.sharding.Mesh, options: Options, *,
        writer: run_log.MetricWriter | None = None) -> Fit:
  """Trains (resuming from `workdir`'s latest checkpoint), selects, stops early.

  Args:
    task: the system's step, data and validation.
    state: the initial state, replicated on `mesh` (its shapes are the restore target).
    rng: the run's key, replicated on `mesh`.
    workdir: `checkpoints/` (latest) and `best/` go here.
    mesh: the batch is sharded over its `data` axis.
    options: selection, early stopping, logging and checkpoint intervals.
    writer: where the `train` and `train_epoch` scalars go (None: nowhere).

  Returns:
    The state of the best checkpoint, the final loop state (history, epochs run) and the
    best checkpoint's loop state.
  """
  metrics_lib.check_selection_metric(options.selection_metric)
  prefix = f'{options.name} ' if options.name else ''
  ckpt = checkpointing.Checkpointer(workdir, max_to_keep=options.max_checkpoints_to_keep,
                                    use_async=options.async_checkpointing)
  loop = LoopState()
  restored = ckpt.restore_latest(checkpoint_tree(state, rng))
  if restored is not None:
    tree, saved = restored
    loop = LoopState.from_dict(saved, required_keys=options.required_entry_keys)
    state = state.replace(params=tree['params'], opt_state=tree['opt_state'],
                          step=tree['step'])
    rng = tree['rng']
    logging.info('%sresumed from step %d (epoch %d, batch %d)', prefix, int(state.step),
                 loop.epoch, loop.step_in_epoch)
  epoch_steps = list(task.epoch_steps)
  reporter = run_log.ProgressReporter(sum(epoch_steps), first_step=int(state.step))
  start_time = time.perf_counter()

  def save_latest():
    ckpt.save_latest(int(state.step), checkpoint_tree(state, rng), dataclasses.asdict(loop))

  while not loop.finished:
    epoch = loop.epoch
    steps_per_epoch = epoch_steps[epoch]
    epoch_start = sum(epoch_steps[:epoch])  # Global step before this epoch's first batch.
    epoch_time = time.perf_counter()
    pending = []
    for batch in task.train_batches(epoch, loop.step_in_epoch):
      state, step_metrics = task.train_step(state, sharding.step_input(batch, mesh), rng)
      pending.append(step_metrics)
      reporter.add_examples(float(np.sum(batch['weight'])) * jax.process_count())
      loop.step_in_epoch += 1
      step = epoch_start + loop.step_in_epoch
      if ((options.log_every_steps and step % options.log_every_steps == 0)
          or loop.step_in_epoch == steps_per_epoch):
        sums = _fetch_sums(pending)
        pending = []
        loop.epoch_sums = _add(loop.epoch_sums, sums)
        summary = task.summarise(sums)
        rates = reporter.report(step, summary, epoch=epoch)
        if writer is not None:
          writer.write_scalars(step, 'train', {**summary, **rates})
      if (options.checkpoint_every_steps and step % options.checkpoint_every_steps == 0
          and loop.step_in_epoch < steps_per_epoch):
        # The epoch's running sums are part of the checkpoint.
        loop.epoch_sums = _add(loop.epoch_sums, _fetch_sums(pending))
        pending = []
        save_latest()
    if pending:  # An epoch shorter than epoch_steps said.
      loop.epoch_sums = _add(loop.epoch_sums, _fetch_sums(pending))

    # End of epoch: validation, model selection, early stopping.
    entry = task.validate(state, epoch)
    train_summary = task.summarise(loop.epoch_sums)
    step = int(state.step)
    if writer is not None:
      writer.write_scalars(step, 'train_epoch', train_summary)
    entry = {'epoch': epoch, 'step': step, 'train_loss': train_summary['loss'], **entry}
    entry['selection'] = entry[metrics_lib.SELECTION_METRICS[options.selection_metric][0]]
    improved = metrics_lib.is_better(entry, loop.best_entry(), options.selection_metric)
    loop.history.append(entry)
    reporter.log('%sepoch %d: train loss %.4f | %s%s (%.1fs)', prefix, epoch,
                 train_summary['loss'], task.describe(entry), ' *best*' if improved else '',
                 time.perf_counter() - epoch_time)
    if improved:
      loop.best_epoch, loop.best_step, loop.bad_epochs = epoch, step, 0
      loop.threshold = entry.get('threshold', loop.threshold)
    else:
      loop.bad_epochs += 1
    loop.epoch, loop.step_in_epoch, loop.epoch_sums = epoch + 1, 0, {}
    patience = options.early_stopping_patience
    if loop.epoch >= len(epoch_steps) or (patience and loop.bad_epochs >= patience):
      loop.finished = True
    if improved:
      ckpt.save_best(step, checkpoint_tree(state, rng), dataclasses.asdict(loop))
    save_latest()
  ckpt.wait()
  train_time = time.perf_counter() - start_time
  best_tree, best_meta = ckpt.restore_best(checkpoint_tree(state, rng))
  ckpt.close()
  state = state.replace(params=best_tree['params'], opt_state=best_tree['opt_state'],
                        step=best_tree['step'])
  return Fit(state=state, loop=loop, best=LoopState.from_dict(best_meta),
             train_time_s=train_time)
