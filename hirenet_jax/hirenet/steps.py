"""Model, train state and the pure jitted steps of the HireNet family (flax sst2
`train.py`): `make_steps` jits train / eval / predict once per mesh with the batch sharded
over the `data` axis and the state replicated and donated."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.core import metrics as metrics_lib
from hirenet_jax.hirenet import models
from hirenet_jax.core import optimizer
from hirenet_jax.core import sharding
from hirenet_jax.core import trainer
from hirenet_jax.core.trainer import TrainState
from hirenet_jax.hirenet.dataset_spec import MODALITIES
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.core.errors import check_choice
from hirenet_jax.core.errors import check_positive


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError on an unknown modality / variant or inconsistent numbers."""
  check_choice('modality', config.modality, MODALITIES)
  check_choice('variant', config.model.variant, models.VARIANTS)
  check_positive(config, ('batch_size', 'num_epochs'))
  if config.schedule not in ('constant', 'cosine', 'linear'):
    raise ConfigError(f'unknown schedule {config.schedule!r}; expected constant, '
                      'cosine or linear')
  if config.dtype not in ('float32', 'bfloat16'):
    raise ConfigError(f'config.dtype must be float32 or bfloat16, got {config.dtype!r}')
  try:
    metrics_lib.check_selection_metric(config.selection_metric)
  except ValueError as e:
    raise ConfigError(f'config.selection_metric: {e}') from None


def make_model(config: ml_collections.ConfigDict, meta: Mapping[str, Any]) -> models.HireNet:
  """The model for `config.model` and the dataset described by `meta`."""
  return models.create_model(
      config.model, vocab_size=int(meta['vocab_size']),
      features_input=not dataset_spec.modality(config.modality).words,
      states_input=bool(meta.get('state_dim')), dtype=jnp.dtype(config.dtype))

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
  frozen = () if models.embeddings_trainable(config.model.train_embeddings) else ('embed',)
  tx = optimizer.make_optimizer(config, params, total_steps, frozen=frozen)
  return trainer.create_state(model.apply, params, tx, mesh)



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
