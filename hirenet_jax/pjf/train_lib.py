"""Training and evaluation of the person-job-fit baselines (MockLLM paper, Table 2).

A one-sided model is trained twice, once per side: `job` (label `job_accepts`, the
recruiter's decision) and `candidate` (label `candidate_accepts`); a two-sided model
(IPJF) once on both labels and their match. Each run lives in `{workdir}/{run}/` with
orbax checkpoints: the latest (resumed automatically at start-up) and the best by
validation ROC AUC (of its side; of both sides' mean for a joint run). The best
checkpoints score every pair; `{workdir}/scores.csv` holds both sides' scores per pair
and `{workdir}/results.json` the ranking metrics of each side and the macro P/R/F1 of
the handshake (thresholds chosen on validation) on validation and test.

The loop is `core/trainer.py`, HireNet's too: it resumes a killed run, mid-epoch
included (`config.checkpoint_every_steps`), selects on validation ROC AUC and stops
early. Steps are pure and jitted once: a fixed batch shape (the last batch padded with
rows of weight 0), the batch sharded over the mesh's `data` axis, the state replicated
and donated, dropout drawn from `fold_in(rng, step)` so a resumed run draws the same
numbers.
"""

from __future__ import annotations

import csv
import os
import time
from typing import Any, Iterator, Mapping, Sequence

from absl import logging
import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from hirenet_jax.core import losses
from hirenet_jax.core import metrics as metrics_lib
from hirenet_jax.core import optimizer
from hirenet_jax.core import ranking
from hirenet_jax.core import run_log
from hirenet_jax.core import sharding
from hirenet_jax.core import trainer
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.core.errors import check_choice
from hirenet_jax.core.errors import check_positive
from hirenet_jax.pjf import features as features_lib
from hirenet_jax.pjf import models
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.core.trainer import TrainState

RESULTS_FILE = 'results.json'
SCORES_FILE = 'scores.csv'
CONFIG_FILE = 'config.json'
EVAL_SPLITS = ('validation', 'test')
# Run name -> the loss's label heads: (model output key, batch label key).
OBJECTIVES = {
    'job': (('score', 'job_accepts'),),
    'candidate': (('score', 'candidate_accepts'),),
    'joint': (('job', 'job_accepts'), ('candidate', 'candidate_accepts'),
              ('match', 'match')),
}


def runs_of(model_name: str) -> tuple[str, ...]:
  """The training runs of a model: one joint run, or one per side."""
  return ('joint',) if model_name in models.TWO_SIDED else ('job', 'candidate')


def _loss(logits: Mapping[str, jax.Array], batch: Mapping[str, jax.Array], run: str
          ) -> tuple[jax.Array, jax.Array]:
  """(sum of the weighted BCE of each head, total weight)."""
  total = jnp.zeros((), jnp.float32)
  for head, label in OBJECTIVES[run]:
    head_sum, weight = losses.weighted_bce(logits[head], batch[label], batch['weight'])
    total = total + head_sum
  return total, weight


def side_scores(logits: Mapping[str, jax.Array], run: str) -> dict[str, jax.Array]:
  """Probabilities per side of one run's outputs: {'job': [B]} / {'candidate': [B]} /
  both (a joint run's side heads)."""
  if run == 'joint':
    return {side: jax.nn.sigmoid(logits[side]) for side in ranking.SIDES}
  return {run: jax.nn.sigmoid(logits['score'])}


def train_step(state: TrainState, batch: dict[str, jax.Array], rng: jax.Array, *, run: str
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One optimizer step on the mean loss of the global batch; per-batch sums back."""
  dropout_rng = jax.random.fold_in(rng, state.step)

  def loss_fn(params):
    logits = state.apply_fn({'params': params}, batch, train=True,
                            rngs={'dropout': dropout_rng})
    loss_sum, weight = _loss(logits, batch, run)
    return loss_sum / jnp.maximum(weight, 1.0), (loss_sum, weight)

  (_, (loss_sum, weight)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  return state.apply_gradients(grads=grads), {'loss_sum': loss_sum, 'weight': weight}


def eval_step(state: TrainState, batch: dict[str, jax.Array], *, run: str
              ) -> dict[str, jax.Array]:
  logits = state.apply_fn({'params': state.params}, batch, train=False)
  return side_scores(logits, run)


def make_steps(mesh: jax.sharding.Mesh, run: str):
  """(train, eval) jitted with the batch sharded, state and rng replicated, state donated."""
  rep, data = sharding.replicated(mesh), sharding.data_sharded(mesh)
  train = jax.jit(lambda s, b, r: train_step(s, b, r, run=run),
                  in_shardings=(rep, data, rep), out_shardings=(rep, rep), donate_argnums=0)
  evals = jax.jit(lambda s, b: eval_step(s, b, run=run), in_shardings=(rep, data),
                  out_shardings=rep)
  return train, evals


def _batches(features, pairs: Sequence[Pair], batch_size: int, order=None):
  """(this process's rows of each global batch, the global batch's number of pairs)."""
  order = np.arange(len(pairs)) if order is None else order
  local = sharding.local_batch_size(batch_size)
  first = jax.process_index() * local
  for start in range(0, len(order), batch_size):
    chunk = [pairs[i] for i in order[start:start + batch_size]]
    yield (features_lib.pair_batch(features, chunk[first:first + local], local),
           len(chunk))


def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
  """The training pairs' order of an epoch: a function of (seed, epoch) only."""
  return np.random.default_rng([seed, epoch]).permutation(n)


def train_batches(features, pairs: Sequence[Pair], batch_size: int, seed: int, epoch: int,
                  start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
  """This process's rows of an epoch's training batches from its `start_step`-th on."""
  order = _epoch_order(seed, epoch, len(pairs))[start_step * batch_size:]
  for batch, _ in _batches(features, pairs, batch_size, order):
    yield batch


def predict(evals, state, features, pairs: Sequence[Pair], batch_size: int, mesh
            ) -> dict[str, np.ndarray]:
  """Scores of each side the run predicts, one per pair in order."""
  outs: dict[str, list] = {}
  for batch, n in _batches(features, pairs, batch_size):
    got = jax.device_get(evals(state, sharding.step_input(batch, mesh)))
    for side, v in got.items():
      outs.setdefault(side, []).append(np.asarray(v, np.float64)[:n])
  return {side: np.concatenate(v) if v else np.zeros((0,)) for side, v in outs.items()}


def _selection_auc(scores: Mapping[str, np.ndarray], pairs: Sequence[Pair]) -> float:
  """Mean validation ROC AUC over the sides a run predicts (NaN sides skipped)."""
  aucs = []
  for side, s in scores.items():
    _, labels = ranking.side_groups_and_labels(pairs, side)
    auc = metrics_lib.roc_auc(labels, s)
    if not np.isnan(auc):
      aucs.append(auc)
  return float(np.mean(aucs)) if aucs else float('nan')


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError on an unknown model or a non-positive size."""
  check_choice('model', config.model.name, models.MODELS)
  check_positive(config, ('batch_size', 'num_epochs'))


def _train_run(config, run: str, model, features, corpus: Corpus, run_dir: str, mesh
               ) -> trainer.Fit:
  """Trains one run (resuming from `run_dir`); the fit holds the best state."""
  train_pairs = corpus.split('train')
  val_pairs = corpus.split('validation')
  steps_per_epoch = -(-len(train_pairs) // config.batch_size)
  example = features_lib.pair_batch(features, train_pairs[:1], 1)
  rng = jax.random.PRNGKey(config.seed)
  rep = sharding.replicated(mesh)
  init = jax.jit(lambda r: model.init({'params': r, 'dropout': r}, example,
                                      train=False)['params'], out_shardings=rep)
  params = flax.core.unfreeze(init(jax.random.fold_in(rng, 0)))
  frozen = () if config.model.get('train_embeddings', True) else ('embed',)
  tx = optimizer.make_optimizer(config, params, steps_per_epoch * config.num_epochs,
                                frozen=frozen)
  state = trainer.create_state(model.apply, params, tx, mesh)
  rng = sharding.replicate(np.asarray(rng), mesh)
  train, evals = make_steps(mesh, run)

  def validate(state, epoch):
    del epoch
    scores = predict(evals, state, features, val_pairs, config.batch_size, mesh)
    return {'validation_roc_auc': _selection_auc(scores, val_pairs)}

  task = trainer.Task(
      train_step=train,
      train_batches=lambda epoch, start: train_batches(
          features, train_pairs, config.batch_size, config.seed, epoch, start),
      epoch_steps=[steps_per_epoch] * config.num_epochs, validate=validate,
      summarise=lambda sums: {'loss': sums.get('loss_sum', 0.0)
                              / max(sums.get('weight', 0.0), 1.0)},
      describe=lambda entry: f'validation ROC AUC {entry["validation_roc_auc"]:.4f}')
  options = trainer.Options(
      selection_metric='roc_auc', early_stopping_patience=config.early_stopping_patience,
      checkpoint_every_steps=config.get('checkpoint_every_steps', 0),
      max_checkpoints_to_keep=2, async_checkpointing=config.async_checkpointing,
      required_entry_keys=('validation_roc_auc',), name=f'{config.model.name}/{run}')
  logging.info('%s/%s: %d train pairs, %d steps per epoch on %d devices',
               config.model.name, run, len(train_pairs), steps_per_epoch, mesh.devices.size)
  return trainer.fit(task, state, rng, run_dir, mesh, options)


def _side_results(pairs: Sequence[Pair], job: np.ndarray, cand: np.ndarray,
                  thresholds: tuple[float, float], k: int) -> dict[str, Any]:
  out: dict[str, Any] = {}
  for side, s in (('candidate', cand), ('job', job)):
    out[side] = ranking.pjf_side_metrics(pairs, s, side, k)
    _, labels = ranking.side_groups_and_labels(pairs, side)
    out[side]['roc_auc'] = metrics_lib.roc_auc(labels, s) if len(pairs) else float('nan')
  matches = np.asarray([p.match for p in pairs], np.int64)
  out['handshake'] = ranking.macro_prf(matches, ranking.handshake(job, cand, *thresholds))
  out['num_pairs'] = len(pairs)
  return out


def write_scores(path: str, pairs: Sequence[Pair], job: np.ndarray, cand: np.ndarray
                 ) -> None:
  """scores.csv: one row per pair with both sides' labels and scores."""
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['candidate_id', 'job_id', 'split', 'job_accepts', 'candidate_accepts',
                     'job_score', 'candidate_score'])
    for p, j, c in zip(pairs, job, cand):
      writer.writerow([p.candidate_id, p.job_id, p.split, p.job_accepts,
                       p.candidate_accepts, f'{j:.9g}', f'{c:.9g}'])


def train_and_evaluate(config: ml_collections.ConfigDict, corpus: Corpus, workdir: str
                       ) -> dict[str, Any]:
  """Trains the model's runs (resuming), scores every pair, writes and returns results.

  Raises:
    ConfigError: unknown model, bad numbers, an empty split, a batch that does not
      split over the devices.
  """
  check_config(config)
  for split in ('train', 'validation'):
    if not corpus.split(split):
      raise ConfigError(f'the {split} split of {corpus.source or "the corpus"} is empty')
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  os.makedirs(workdir, exist_ok=True)
  is_chief = jax.process_index() == 0
  if is_chief:
    run_log.write_json(os.path.join(workdir, CONFIG_FILE), config.to_dict())
  f = config.features
  features = features_lib.featurize(
      corpus, min_count=f.min_count, max_vocab=f.max_vocab, max_words=f.max_words,
      max_sentences=f.max_sentences, max_sentence_words=f.max_sentence_words)
  logging.info('%s: vocabulary of %d words from the training split; %d candidates, '
               '%d jobs, %d pairs', config.model.name, features.vocab.size,
               len(features.candidate_index), len(features.job_index), len(corpus.pairs))
  model = models.create_model(config.model, vocab_size=features.vocab.size,
                              num_candidates=len(features.candidate_index),
                              num_jobs=len(features.job_index))
  start = time.perf_counter()
  scores: dict[str, np.ndarray] = {}
  selection = {}
  for run in runs_of(config.model.name):
    fit = _train_run(config, run, model, features, corpus, os.path.join(workdir, run), mesh)
    _, evals = make_steps(mesh, run)
    scores.update(predict(evals, fit.state, features, corpus.pairs, config.batch_size, mesh))
    selection[run] = {'best_epoch': fit.loop.best_epoch,
                      'validation_roc_auc': fit.loop.best_entry()['validation_roc_auc'],
                      'epochs_run': fit.loop.epoch, 'history': fit.loop.history}
  train_time = time.perf_counter() - start
  job, cand = scores['job'], scores['candidate']
  split_index = {s: [i for i, p in enumerate(corpus.pairs) if p.split == s]
                 for s in EVAL_SPLITS}
  val = split_index['validation']
  matches = [corpus.pairs[i].match for i in val]
  tj, tc, _ = ranking.select_handshake_thresholds(job[val], cand[val], matches)
  results: dict[str, Any] = {
      'model': config.model.name, 'seed': config.seed, 'corpus': corpus.source,
      'k': config.k, 'thresholds': {'job': tj, 'candidate': tc},
      'selection': selection, 'train_time_s': train_time,
      'num_devices': int(mesh.devices.size), 'vocab_size': features.vocab.size,
      'config': config.to_dict(), 'random': {},
  }
  for split, idx in split_index.items():
    pairs = [corpus.pairs[i] for i in idx]
    results[split] = _side_results(pairs, job[idx], cand[idx], (tj, tc), config.k)
    results['random'][split] = {side: ranking.pjf_random_metrics(pairs, side, config.k)
                                for side in ranking.SIDES}
  results = metrics_lib.json_safe(results)
  if is_chief:
    write_scores(os.path.join(workdir, SCORES_FILE), corpus.pairs, job, cand)
    run_log.write_json(os.path.join(workdir, RESULTS_FILE), results)
  return results
