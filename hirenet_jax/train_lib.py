"""Training, model selection and evaluation of the HireNet family (flax sst2 `train.py`).

`train_and_evaluate(config, workdir)` trains with Adam (gradient clipping, configurable
schedule), evaluates on validation after every epoch, keeps the checkpoint with the best
validation F1 (and, with `config.select_threshold`, the threshold maximising it), stops
early when validation F1 stops improving, resumes a killed run from its latest
checkpoint, and finally scores validation and test with the best checkpoint
(paper: Experimental settings). It writes `results.json`, `predictions.csv`,
`metrics.jsonl` and TensorBoard files in the workdir.

The steps are pure module-level functions; `make_steps` jits them once per mesh with the
batch sharded over the `data` axis and the state replicated and donated.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import math
import os
import signal
import time
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging
from flax.training import train_state as train_state_lib

from hirenet_jax import checkpointing
from hirenet_jax import logging_utils
from hirenet_jax import metrics as metrics_lib
from hirenet_jax import models
from hirenet_jax import packing
from hirenet_jax import sharding
from hirenet_jax import dataset_spec
from hirenet_jax.dataset_spec import MODALITIES
from hirenet_jax.dataset_spec import SPLITS

RESULTS_FILE = 'results.json'
PREDICTIONS_FILE = 'predictions.csv'
CONFIG_FILE = 'config.json'


class ConfigError(ValueError):
  """A bad configuration or dataset; the message is one line meant for the user."""


class TrainState(train_state_lib.TrainState):
  """params, opt_state and step (pytree leaves) with the model's apply_fn and tx."""


# ----------------------------------------------------------------------------- data


class DataSource(Protocol):
  """What training reads: a prepared dataset of one modality (see input_pipeline)."""
  meta: dict  # meta.json: vocab_size, feature_dim, candidate_ids per split, ...

  def embeddings(self) -> np.ndarray | None:
    """Pretrained word vectors float32 [V, E], or None."""

  def num_records(self, split: str) -> int:
    """Candidates in `split` (all processes together)."""

  def num_batches(self, split: str, *, batch_size: int, epoch: int = 0,
                  shuffle: bool = False) -> int:
    """Batches of one epoch of `split` (the same on every process)."""

  def batches(self, split: str, *, batch_size: int, epoch: int, shuffle: bool,
              start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """This process's rows of each global batch, from batch `start_step` on."""

  def record_info(self, split: str) -> dict[str, list]:
    """Per record of `split` in record order: `candidate_id`, `position_id`, `label`
    and `answer_index` (raw interview position of each answer slot)."""


class PreparedDataset:
  """A DataSource over the TFDS shards written by `data_prep.build`."""

  def __init__(self, data_dir: str, modality: str, *, seed: int, num_buckets: int,
               width_factor: float = packing.DEFAULT_WIDTH_FACTOR, pack_groups: int = 0):
    from hirenet_jax import input_pipeline  # The dependency stays local to this class.
    self._ip = input_pipeline
    self.data_dir, self.modality = data_dir, modality
    # Packed rows shard over the devices: their count is a multiple of 8 and of the
    # device count (so 1 and 8 devices see the same batches).
    self._packing = dict(num_buckets=num_buckets, width_factor=width_factor,
                         row_multiple=math.lcm(8, jax.device_count()),
                         process_count=jax.process_count(), pack_groups=pack_groups)
    self._seed = seed
    meta_path = os.path.join(data_dir, 'assets', modality, 'meta.json')
    if not os.path.exists(meta_path):
      raise ConfigError(f'no prepared {modality!r} dataset in {data_dir} '
                        f'(missing {meta_path}); build it with data_prep.build')
    self.meta = input_pipeline.load_meta(data_dir, modality)
    self._info = {}

  def embeddings(self):
    return self._ip.load_embeddings(self.data_dir, self.modality)

  def num_records(self, split):
    return len(self.meta['candidate_ids'][split])

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict,
                  data_dir: str | None = None) -> 'PreparedDataset':
    """The prepared dataset of `config` (`data_dir` overrides config.data_dir)."""
    return cls(data_dir or config.data_dir, config.modality, seed=config.seed,
               num_buckets=config.num_buckets,
               width_factor=config.get('row_width_factor', packing.DEFAULT_WIDTH_FACTOR),
               pack_groups=config.get('pack_groups', 0))

  def num_batches(self, split, *, batch_size, epoch=0, shuffle=False):
    return self._ip.num_batches(self.data_dir, self.modality, split, batch_size=batch_size,
                                seed=self._seed, epoch=epoch, shuffle=shuffle,
                                **self._packing)

  def batches(self, split, *, batch_size, epoch, shuffle, start_step=0):
    return self._ip.make_batches(
        self.data_dir, self.modality, split, batch_size=batch_size, seed=self._seed,
        epoch=epoch, shuffle=shuffle, start_step=start_step,
        process_index=jax.process_index(), **self._packing)

  def record_info(self, split):
    if split not in self._info:
      import tensorflow_datasets as tfds  # Only to read the ids back from the shards.
      source = tfds.builder_from_directory(
          self._ip.dataset_dir(self.data_dir, self.modality)).as_data_source(split=split)
      records = source.__getitems__(list(range(len(source))))
      text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
      self._info[split] = {
          'candidate_id': [text(r['candidate_id']) for r in records],
          'position_id': [text(r['position_id']) for r in records],
          'label': [int(r['label']) for r in records],
          'answer_index': [np.asarray(r['answer_index']).tolist() for r in records]}
    return self._info[split]

  def padding_efficiency(self, split, *, batch_size, epoch=0, shuffle=False):
    return self._ip.padding_efficiency(self.data_dir, self.modality, split,
                                       batch_size=batch_size, seed=self._seed, epoch=epoch,
                                       shuffle=shuffle, **self._packing)


# ------------------------------------------------------------------ model and state


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError on an unknown modality / variant or inconsistent numbers."""
  if config.modality not in MODALITIES:
    raise ConfigError(f'unknown modality {config.modality!r}; expected one of '
                      f'{", ".join(MODALITIES)}')
  if config.model.variant not in models.VARIANTS:
    raise ConfigError(f'unknown variant {config.model.variant!r}; expected one of '
                      f'{", ".join(models.VARIANTS)}')
  for field in ('batch_size', 'num_epochs'):
    if config[field] <= 0:
      raise ConfigError(f'config.{field} must be positive, got {config[field]}')
  if config.schedule not in ('constant', 'cosine', 'linear'):
    raise ConfigError(f'unknown schedule {config.schedule!r}; expected constant, '
                      'cosine or linear')
  if config.dtype not in ('float32', 'bfloat16'):
    raise ConfigError(f'config.dtype must be float32 or bfloat16, got {config.dtype!r}')


def make_model(config: ml_collections.ConfigDict, meta: Mapping[str, Any]) -> models.HireNet:
  """The model for `config.model` and the dataset described by `meta`."""
  return models.create_model(
      config.model, vocab_size=int(meta['vocab_size']),
      features_input=not dataset_spec.modality(config.modality).words, dtype=jnp.dtype(config.dtype))


def make_schedule(config: ml_collections.ConfigDict, total_steps: int) -> optax.Schedule:
  """Learning rate per step: linear warmup, then constant, cosine or linear decay."""
  lr, warmup = config.learning_rate, config.warmup_steps
  end = lr * config.end_learning_rate_factor
  decay_steps = max(total_steps - warmup, 1)
  if config.schedule == 'constant':
    main = optax.constant_schedule(lr)
  elif config.schedule == 'cosine':
    main = optax.cosine_decay_schedule(lr, decay_steps, alpha=config.end_learning_rate_factor)
  else:
    main = optax.linear_schedule(lr, end, decay_steps)
  if warmup <= 0:
    return main
  return optax.join_schedules([optax.linear_schedule(0.0, lr, warmup), main], [warmup])


def make_optimizer(config: ml_collections.ConfigDict, params: Any,
                   total_steps: int) -> optax.GradientTransformation:
  """Adam with global-norm clipping; a frozen embedding table gets no state, no update."""
  tx = optax.adam(make_schedule(config, total_steps), b1=config.adam_b1,
                  b2=config.adam_b2, eps=config.adam_eps)
  if config.grad_clip_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(config.grad_clip_norm), tx)
  if config.model.train_embeddings or 'embed' not in params:
    return tx
  labels = {k: jax.tree.map(lambda _, k=k: 'frozen' if k == 'embed' else 'trained', v)
            for k, v in params.items()}
  return optax.multi_transform({'trained': tx, 'frozen': optax.set_to_zero()}, labels)


def _zeros_like_batch(batch: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """One all-zero row with the batch's shapes (identical on every process)."""
  out = {k: np.zeros((1,) + np.shape(v)[1:], np.asarray(v).dtype) for k, v in batch.items()}
  out['answer_lengths'] = np.ones_like(out['answer_lengths'])
  return out


def create_train_state(config: ml_collections.ConfigDict, model: models.HireNet,
                       example_batch: Mapping[str, np.ndarray], *, total_steps: int,
                       embeddings: np.ndarray | None = None,
                       mesh: jax.sharding.Mesh | None = None) -> TrainState:
  """Initialises parameters from `config.seed`, loads the pretrained word vectors into
  params['embed']['embedding'] and builds the optimizer; replicated on `mesh`."""
  init_rng = jax.random.fold_in(jax.random.PRNGKey(config.seed), 0)
  dummy = _zeros_like_batch(example_batch)
  out_sharding = sharding.replicated(mesh) if mesh is not None else None
  init = jax.jit(lambda rng: model.init({'params': rng, 'dropout': rng}, dummy,
                                        train=False)['params'], out_shardings=out_sharding)
  params = flax.core.unfreeze(init(init_rng))
  if 'embed' in params and embeddings is not None and config.pretrained_embeddings:
    table = np.asarray(embeddings, np.float32)
    expected = params['embed']['embedding'].shape
    if table.shape != expected:
      raise ConfigError(
          f'the dataset has {table.shape[0]} x {table.shape[1]} word vectors but the model '
          f'expects {expected[0]} x {expected[1]}; set --config.model.embedding_dim='
          f'{table.shape[1]} or --config.pretrained_embeddings=False')
    params['embed']['embedding'] = (sharding.replicate(table, mesh) if mesh is not None
                                    else jnp.asarray(table))
  tx = make_optimizer(config, params, total_steps)
  opt_init = jax.jit(tx.init, out_shardings=out_sharding)
  return TrainState(step=jnp.zeros((), jnp.int32) if mesh is None
                    else sharding.replicate(np.zeros((), np.int32), mesh),
                    apply_fn=model.apply, params=params, tx=tx, opt_state=opt_init(params))


# ------------------------------------------------------------------------- steps


def train_step(state: TrainState, batch: dict[str, jax.Array], rng: jax.Array
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One Adam step on the mean BCE of the global batch; returns per-batch metric sums.

  The loss is the sum of the per-example losses over the whole global batch divided by
  its total weight, so the update does not depend on how the batch is sharded.
  """
  dropout_rng = jax.random.fold_in(rng, state.step)

  def loss_fn(params):
    logits = state.apply_fn({'params': params}, batch, train=True,
                            rngs={'dropout': dropout_rng})
    loss_sum, weight = models.candidate_loss(logits, batch)
    return loss_sum / jnp.maximum(weight, 1.0), (loss_sum, weight, logits)

  (_, (loss_sum, weight, logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params)
  new_state = state.apply_gradients(grads=grads)
  scores_B = models.candidate_scores(logits, batch)
  weight_B = batch['weight'].astype(jnp.float32)
  correct_B = (scores_B >= 0.5) == (batch['label'] == 1)
  return new_state, {
      'loss_sum': loss_sum,
      'loss_weight': weight,
      'correct': (correct_B * weight_B).sum(),
      'candidates': weight_B.sum(),
      'grad_norm_sum': optax.tree.norm(grads),
      'steps': jnp.ones((), jnp.float32),
  }


def eval_step(state: TrainState, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """Candidate scores [B] with their record index [B] and label [B], plus loss sums."""
  logits = state.apply_fn({'params': state.params}, batch, train=False)
  loss_sum, weight = models.candidate_loss(logits, batch)
  return {
      'scores': models.candidate_scores(logits, batch),
      'index': batch['index'],
      'label': batch['label'],
      'loss_sum': loss_sum,
      'loss_weight': weight,
  }


def predict_step(state: TrainState, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
  """Scores [B] and the sown attention weights: answer [R, W] (packed like the
  answers), question [B, Q].

  `bigru` has no attention: its score is the mean of the answer probabilities, so its
  question weights are uniform over the valid answers and its answer weights are zero.
  """
  logits, variables = state.apply_fn({'params': state.params}, batch, train=False,
                                     mutable=['intermediates'])
  inter = variables.get('intermediates', {})
  valid_BxQ = (batch['answer_lengths'] > 0).astype(jnp.float32)
  if 'question_attention' in inter:
    question_BxQ = inter['question_attention'][0]
    answer_RxW = inter['answer_attention'][0]
  else:
    question_BxQ = valid_BxQ / jnp.maximum(valid_BxQ.sum(-1, keepdims=True), 1.0)
    answer_RxW = jnp.zeros(batch['answer_segments'].shape, jnp.float32)
  out = {
      'scores': models.candidate_scores(logits, batch),
      'index': batch['index'],
      'question_attention': question_BxQ,
      'answer_attention': answer_RxW,
  }
  if 'interview_vector' in inter:  # v (eq. 14): the input of early fusion.
    out['interview_vector'] = inter['interview_vector'][0]
  return out


@dataclasses.dataclass(frozen=True)
class Steps:
  """The jitted steps of one mesh."""
  train: Callable
  eval: Callable
  predict: Callable
  mesh: jax.sharding.Mesh


def make_steps(mesh: jax.sharding.Mesh, matmul_precision: str = 'default') -> Steps:
  """Jits the steps with state / rng replicated, batch sharded, state donated.

  jit compiles one program per bucket shape; `matmul_precision` (e.g. 'bfloat16' on
  GPU / TPU) lowers float32 matmuls to bf16 passes while everything else stays float32.
  """
  rep, data = sharding.replicated(mesh), sharding.data_sharded(mesh)
  precision = None if matmul_precision == 'default' else matmul_precision

  def with_precision(fn):
    @functools.wraps(fn)
    def wrapped(*args):
      with jax.default_matmul_precision(precision):
        return fn(*args)
    return wrapped

  # The precision is read while tracing, so it is set inside the jitted functions (which
  # stay jit objects: `train._cache_size()` counts the compiled programs).
  train = jax.jit(with_precision(train_step), in_shardings=(rep, data, rep),
                  out_shardings=(rep, rep), donate_argnums=0)
  evals = jax.jit(with_precision(eval_step), in_shardings=(rep, data), out_shardings=rep)
  predict = jax.jit(with_precision(predict_step), in_shardings=(rep, data),
                    out_shardings=rep)
  return Steps(train=train, eval=evals, predict=predict, mesh=mesh)


# -------------------------------------------------------------------- evaluation


def evaluate(steps: Steps, state: TrainState, data: DataSource, split: str, *,
             batch_size: int) -> dict[str, Any]:
  """Scores every record of `split` exactly once.

  Returns `scores` and `labels` float/int arrays in record order and the mean `loss`.
  """
  n = data.num_records(split)
  outputs = [steps.eval(state, sharding.step_input(batch, steps.mesh))
             for batch in data.batches(split, batch_size=batch_size, epoch=0,
                                       shuffle=False)]
  outputs = jax.device_get(outputs)  # One transfer for the whole split.
  scores = np.full(n, np.nan, np.float64)
  labels = np.full(n, -1, np.int64)
  seen = np.zeros(n, np.int64)
  loss_sum = loss_weight = 0.0
  for out in outputs:
    real = out['index'] >= 0
    idx = out['index'][real]
    scores[idx] = out['scores'][real]
    labels[idx] = out['label'][real]
    np.add.at(seen, idx, 1)
    loss_sum += float(out['loss_sum'])
    loss_weight += float(out['loss_weight'])
  if not (seen == 1).all():
    raise RuntimeError(f'{split}: {int((seen == 0).sum())} records never scored, '
                       f'{int((seen > 1).sum())} scored more than once')
  return {'scores': scores, 'labels': labels, 'loss': loss_sum / max(loss_weight, 1.0)}


def split_metrics(evaluation: Mapping[str, Any], threshold: float) -> dict[str, float]:
  """Classification metrics of an `evaluate` result plus its loss."""
  out = metrics_lib.classification_metrics(evaluation['labels'], evaluation['scores'],
                                           threshold)
  out['loss'] = float(evaluation['loss'])
  return out


# ------------------------------------------------------------------------ training


def _checkpoint_tree(state: TrainState, rng: jax.Array) -> dict[str, Any]:
  return {'params': state.params, 'opt_state': state.opt_state, 'step': state.step,
          'rng': rng}


def _fetch_sums(pending: list) -> dict[str, float]:
  """Sums a list of per-step metric dicts with one device-to-host transfer."""
  sums: dict[str, float] = {}
  for m in jax.device_get(pending):
    for k, v in m.items():
      sums[k] = sums.get(k, 0.0) + float(v)
  return sums


def _summarise(sums: Mapping[str, float]) -> dict[str, float]:
  return {
      'loss': sums.get('loss_sum', 0.0) / max(sums.get('loss_weight', 0.0), 1.0),
      'accuracy': sums.get('correct', 0.0) / max(sums.get('candidates', 0.0), 1.0),
      'grad_norm': sums.get('grad_norm_sum', 0.0) / max(sums.get('steps', 0.0), 1.0),
  }


def _add(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
  return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in set(a) | set(b)}


def _select(config, evaluation) -> tuple[float, float]:
  """(threshold, validation F1) used for model selection."""
  if config.select_threshold:
    return metrics_lib.select_threshold(evaluation['labels'], evaluation['scores'])
  threshold = metrics_lib.DEFAULT_THRESHOLD
  return threshold, metrics_lib.classification_metrics(
      evaluation['labels'], evaluation['scores'], threshold)['f1']


def _write_json(path: str, obj: Any) -> None:
  tmp = path + '.tmp'
  with open(tmp, 'w') as f:
    json.dump(obj, f, indent=2, sort_keys=True)
  os.replace(tmp, path)


def write_predictions(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
  """predictions.csv: candidate_id, position_id, label, score, split."""
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, ['candidate_id', 'position_id', 'label', 'score', 'split'])
    writer.writeheader()
    writer.writerows(rows)


def _initial_meta() -> dict[str, Any]:
  return {'epoch': 0, 'step_in_epoch': 0, 'best_f1': -1.0, 'best_epoch': -1,
          'best_step': -1, 'threshold': metrics_lib.DEFAULT_THRESHOLD, 'bad_epochs': 0,
          'epoch_sums': {}, 'finished': False, 'history': []}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       data: DataSource | None = None) -> dict[str, Any]:
  """Trains (resuming from `workdir` if possible), selects, evaluates; returns results.

  Args:
    config: see experiments/configs/default.py. `config.data_dir` names the prepared
      dataset unless `data` is given.
    workdir: checkpoints, metrics.jsonl, tensorboard/, results.json, predictions.csv.
    data: a DataSource overriding `config.data_dir` (tests).

  Returns:
    The results.json dict: `validation` and `test` metrics of the best checkpoint, the
    `threshold`, `best_epoch`, `history` and the `config`.

  Raises:
    ConfigError: bad configuration or dataset (unknown modality or variant, batch not
      divisible by the devices, an empty split, embeddings of the wrong size).
  """
  check_config(config)
  if data is None:
    if not config.data_dir:
      raise ConfigError('config.data_dir is empty: give a prepared dataset directory')
    data = PreparedDataset.from_config(config)
  for split in SPLITS:
    if data.num_records(split) == 0:
      raise ConfigError(f'the {split} split of the {config.modality} dataset is empty')
  mesh = sharding.make_mesh()
  try:
    sharding.check_batch_size(config.batch_size, mesh)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  eval_batch_size = config.eval_batch_size or config.batch_size
  try:
    sharding.check_batch_size(eval_batch_size, mesh)
  except ValueError as e:
    raise ConfigError(f'eval {e}') from None
  is_chief = jax.process_index() == 0
  os.makedirs(workdir, exist_ok=True)
  if is_chief:
    _write_json(os.path.join(workdir, CONFIG_FILE), config.to_dict())

  # Packing makes epochs differ by a few batches: the schedule gets the exact total.
  epoch_steps = [data.num_batches('train', batch_size=config.batch_size, epoch=e,
                                  shuffle=True) for e in range(config.num_epochs)]
  total_steps = sum(epoch_steps)
  example = next(iter(data.batches('train', batch_size=config.batch_size, epoch=0,
                                   shuffle=False)))
  model = make_model(config, data.meta)
  state = create_train_state(config, model, example, total_steps=total_steps,
                             embeddings=data.embeddings(), mesh=mesh)
  rng = sharding.replicate(np.asarray(jax.random.PRNGKey(config.seed)), mesh)
  steps = make_steps(mesh, config.matmul_precision)

  ckpt = checkpointing.Checkpointer(workdir, max_to_keep=config.max_checkpoints_to_keep,
                                    use_async=config.async_checkpointing)
  meta = _initial_meta()
  restored = ckpt.restore_latest(_checkpoint_tree(state, rng))
  if restored is not None:
    tree, meta = restored
    state = state.replace(params=tree['params'], opt_state=tree['opt_state'],
                          step=tree['step'])
    rng = tree['rng']
    logging.info('resumed from step %d (epoch %d, batch %d)', int(state.step),
                 meta['epoch'], meta['step_in_epoch'])

  writer = logging_utils.MetricWriter(workdir, enabled=is_chief,
                                      tensorboard=config.tensorboard)
  reporter = logging_utils.ProgressReporter(total_steps, first_step=int(state.step))
  logging.info('%s / %s: %d train steps per epoch on %d devices (%d processes)',
               config.modality, config.model.variant, epoch_steps[0],
               mesh.devices.size, jax.process_count())
  start_time = time.perf_counter()

  def save_latest():
    ckpt.save_latest(int(state.step), _checkpoint_tree(state, rng), meta)

  while not meta['finished']:
    epoch = meta['epoch']
    steps_per_epoch = epoch_steps[epoch]
    epoch_start = sum(epoch_steps[:epoch])  # Global step before this epoch's first batch.
    pending = []
    for batch in data.batches('train', batch_size=config.batch_size, epoch=epoch,
                              shuffle=True, start_step=meta['step_in_epoch']):
      state, step_metrics = steps.train(state, sharding.step_input(batch, mesh), rng)
      pending.append(step_metrics)
      reporter.add_examples(float(np.sum(batch['weight'])) * jax.process_count())
      meta['step_in_epoch'] += 1
      step = epoch_start + meta['step_in_epoch']
      if step % config.log_every_steps == 0 or meta['step_in_epoch'] == steps_per_epoch:
        sums = _fetch_sums(pending)
        pending = []
        meta['epoch_sums'] = _add(meta['epoch_sums'], sums)
        summary = _summarise(sums)
        rates = reporter.report(step, summary, epoch=epoch)
        writer.write_scalars(step, 'train', {**summary, **rates})
      if (config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0
          and meta['step_in_epoch'] < steps_per_epoch):
        # The epoch's running sums are part of the checkpoint.
        meta['epoch_sums'] = _add(meta['epoch_sums'], _fetch_sums(pending))
        pending = []
        save_latest()
      if config.debug_kill_after_steps and step == config.debug_kill_after_steps:
        ckpt.wait()  # Simulated preemption once the last checkpoint is on disk.
        os.kill(os.getpid(), signal.SIGKILL)

    # End of epoch: validation, model selection, early stopping.
    evaluation = evaluate(steps, state, data, 'validation', batch_size=eval_batch_size)
    threshold, f1 = _select(config, evaluation)
    val = split_metrics(evaluation, threshold)
    train_summary = _summarise(meta['epoch_sums'])
    step = int(state.step)
    writer.write_scalars(step, 'validation', val)
    writer.write_scalars(step, 'train_epoch', train_summary)
    improved = f1 > meta['best_f1']
    meta['history'].append({'epoch': epoch, 'step': step, 'train_loss': train_summary['loss'],
                            'validation_loss': val['loss'], 'validation_f1': f1,
                            'threshold': threshold})
    reporter.log('epoch %d: train loss %.4f | validation loss %.4f F1 %.4f '
                 '(threshold %.3f)%s', epoch, train_summary['loss'], val['loss'], f1,
                 threshold, ' *best*' if improved else '')
    if improved:
      meta.update(best_f1=f1, best_epoch=epoch, best_step=step, threshold=threshold,
                  bad_epochs=0)
    else:
      meta['bad_epochs'] += 1
    meta.update(epoch=epoch + 1, step_in_epoch=0, epoch_sums={})
    patience = config.early_stopping_patience
    if meta['epoch'] >= config.num_epochs or (patience and meta['bad_epochs'] >= patience):
      meta['finished'] = True
    if improved:
      ckpt.save_best(step, _checkpoint_tree(state, rng), meta)
    save_latest()
  ckpt.wait()
  train_time = time.perf_counter() - start_time

  # Test the best checkpoint (paper: model selection on validation F1).
  best_tree, best_meta = ckpt.restore_best(_checkpoint_tree(state, rng))
  ckpt.close()
  state = state.replace(params=best_tree['params'], opt_state=best_tree['opt_state'],
                        step=best_tree['step'])
  threshold = best_meta['threshold']
  results: dict[str, Any] = {'threshold': threshold, 'best_epoch': best_meta['best_epoch'],
                             'best_step': best_meta['best_step'],
                             'epochs_run': meta['epoch'], 'history': meta['history'],
                             'train_time_s': train_time,
                             'num_devices': int(mesh.devices.size),
                             'num_processes': jax.process_count(),
                             'config': config.to_dict()}
  if hasattr(data, 'padding_efficiency'):
    results['train_padding_efficiency'] = data.padding_efficiency(
        'train', batch_size=config.batch_size)
  rows = []
  for split in ('validation', 'test'):
    evaluation = evaluate(steps, state, data, split, batch_size=eval_batch_size)
    results[split] = split_metrics(evaluation, threshold)
    writer.write_scalars(int(state.step), f'best_{split}', results[split])
    info = data.record_info(split)
    for i, score in enumerate(evaluation['scores']):
      rows.append({'candidate_id': info['candidate_id'][i],
                   'position_id': info['position_id'][i],
                   'label': int(evaluation['labels'][i]), 'score': float(score),
                   'split': split})
  writer.close()
  results = metrics_lib.json_safe(results)
  if is_chief:
    write_predictions(os.path.join(workdir, PREDICTIONS_FILE), rows)
    _write_json(os.path.join(workdir, RESULTS_FILE), results)
  return results


# ------------------------------------------------------------------------ predict


def load_for_prediction(workdir: str, data: DataSource,
                        config: ml_collections.ConfigDict | None = None
                        ) -> tuple[TrainState, Steps, float, ml_collections.ConfigDict]:
  """The best checkpoint of a finished run, its threshold, jitted steps and config."""
  if config is None:
    with open(os.path.join(workdir, CONFIG_FILE)) as f:
      config = ml_collections.ConfigDict(json.load(f))
  mesh = sharding.make_mesh()
  batch_size = config.eval_batch_size or config.batch_size
  example = next(iter(data.batches('test', batch_size=batch_size, epoch=0, shuffle=False)))
  model = make_model(config, data.meta)
  state = create_train_state(config, model, example, total_steps=1, embeddings=None,
                             mesh=mesh)
  rng = sharding.replicate(np.asarray(jax.random.PRNGKey(0)), mesh)
  tree, meta = checkpointing.restore_best(workdir, _checkpoint_tree(state, rng))
  state = state.replace(params=tree['params'], opt_state=tree['opt_state'],
                        step=tree['step'])
  return state, make_steps(mesh, config.matmul_precision), float(meta['threshold']), config


def predict_batches(steps: Steps, state: TrainState,
                    batches: Iterator[dict[str, np.ndarray]]) -> Iterator[dict[str, Any]]:
  """Per real candidate: `index`, `score`, `question_attention` (one weight per valid
  answer slot), `answer_attention` (per valid slot, one weight per valid step) and
  `interview_vector` (v, eq. 14; None for bigru)."""
  for batch in batches:
    out = jax.device_get(steps.predict(state, sharding.step_input(batch, steps.mesh)))
    lengths = np.asarray(batch['answer_lengths'])
    answer_attention_BxQxT = packing.unpack(out['answer_attention'], lengths,
                                            batch['answer_rows'], batch['answer_starts'])
    for row in range(lengths.shape[0]):
      if out['index'][row] < 0:
        continue
      slots = np.flatnonzero(lengths[row] > 0)
      yield {
          'index': int(out['index'][row]),
          'score': float(out['scores'][row]),
          'answer_slots': slots.tolist(),
          'question_attention': [float(out['question_attention'][row, q]) for q in slots],
          'answer_attention': [answer_attention_BxQxT[row, q, :lengths[row, q]].tolist()
                               for q in slots],
          'interview_vector': (np.asarray(out['interview_vector'][row])
                               if 'interview_vector' in out else None),
      }
