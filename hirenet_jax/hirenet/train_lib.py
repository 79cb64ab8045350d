"""The training loop of the HireNet family (flax sst2 `train.py`).

`train_and_evaluate(config, workdir)` trains with `optimizer.make_optimizer`, evaluates
on validation after every epoch, keeps the checkpoint with the best validation
`config.selection_metric` (ROC AUC, log loss or the paper's F1; an epoch whose scores
are constant is never preferred, `metrics.select_epoch`) together with the threshold
maximising its validation F1, stops early when the selection metric stops improving,
resumes a killed run from its latest checkpoint, and finally scores validation and test
with the best checkpoint. A constant predictor is reported in `results['warnings']`. It
writes `results.json`, `predictions.csv`, `curves.png`, `metrics.jsonl` and TensorBoard
files in the workdir. The loop itself is `core/trainer.py` (shared with the person-job-fit
baselines); the steps live in `steps.py`, scoring in `scoring.py`, the data in
`input_pipeline.py`.
"""

from __future__ import annotations

import csv
import os
from typing import Any, Mapping, Sequence

import jax
import ml_collections
import numpy as np
from absl import logging

from hirenet_jax.core import curves
from hirenet_jax.core import fairness
from hirenet_jax.core import run_log
from hirenet_jax.core import trainer
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.core import metrics as metrics_lib
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet import models
from hirenet_jax.core import sharding
from hirenet_jax.hirenet import steps as steps_lib
from hirenet_jax.hirenet.dataset_spec import SPLITS
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.hirenet.input_pipeline import DataSource
from hirenet_jax.hirenet.input_pipeline import PreparedDataset
from hirenet_jax.hirenet.scoring import CONFIG_FILE
from hirenet_jax.hirenet.scoring import evaluate
from hirenet_jax.hirenet.scoring import split_metrics

RESULTS_FILE = 'results.json'
PREDICTIONS_FILE = 'predictions.csv'
CURVES_FILE = 'curves.png'


def _summarise(sums: Mapping[str, float]) -> dict[str, float]:
  return {
      'loss': sums.get('loss_sum', 0.0) / max(sums.get('loss_weight', 0.0), 1.0),
      'accuracy': sums.get('correct', 0.0) / max(sums.get('candidates', 0.0), 1.0),
      'grad_norm': sums.get('grad_norm_sum', 0.0) / max(sums.get('steps', 0.0), 1.0),
  }


# What model selection reads from each epoch's history entry (a checkpoint whose epochs
# lack one was written by an older version and is not resumed).
ENTRY_KEYS = ('validation_loss', 'validation_roc_auc', 'validation_f1', 'threshold',
              'validation_score_std', 'constant')


def _describe(entry: Mapping[str, Any]) -> str:
  """An epoch's validation figures for its progress line."""
  return (f'validation loss {entry["validation_loss"]:.4f} ROC AUC '
          f'{entry["validation_roc_auc"]:.4f} F1 {entry["validation_f1"]:.4f} (threshold '
          f'{entry["threshold"]:.3f}){" constant scores" if entry["constant"] else ""}')


def epoch_entry(evaluation: Mapping[str, Any]) -> dict[str, Any]:
  """One epoch's validation figures for model selection: ROC AUC, loss, score spread,
  and F1 at the threshold chosen on these scores (never one predicting a single class)."""
  labels, scores = evaluation['labels'], evaluation['scores']
  threshold, f1 = metrics_lib.select_threshold(labels, scores, allow_constant=False)
  return {'validation_loss': float(evaluation['loss']),
          'validation_roc_auc': metrics_lib.roc_auc(labels, scores),
          'validation_f1': f1, 'threshold': threshold,
          'validation_score_std': float(np.std(scores)),
          'constant': metrics_lib.is_constant(scores, threshold)}


def write_predictions(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
  """predictions.csv: candidate_id, position_id, label, score, split, then an
  `attr_<name>` column per group attribute the corpus carries (for audits)."""
  columns = ['candidate_id', 'position_id', 'label', 'score', 'split']
  columns += sorted({k for r in rows for k in r if k.startswith(fairness.ATTRIBUTE_PREFIX)})
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, columns, restval='')
    writer.writeheader()
    writer.writerows(rows)


# word2vec trained on the training split gives a word a useful vector only if it has seen
# it in enough contexts; below this median count most vectors are noise and are fine-tuned.
AUTO_EMBEDDINGS_MIN_MEDIAN_COUNT = 20


def median_training_word_count(data_dir: str, modality: str) -> float:
  """The median count, in the training split's answers, of the vocabulary's words."""
  from hirenet_jax.hirenet.baselines import paper as baseline_features  # pylint: disable=g-import-not-at-top
  train = baseline_features.load_split_answers(data_dir, modality, 'train')
  meta = input_pipeline.load_meta(data_dir, modality)
  counts = np.zeros(int(meta['vocab_size']), np.int64)
  for sequence in train.sequences:
    np.add.at(counts, np.asarray(sequence, np.int64), 1)
  return float(np.median(counts[2:])) if counts.size > 2 else 0.0  # 0, 1: pad, unknown.


def dataset_representation(meta: Mapping[str, Any]) -> str:
  """The text representation a dataset was prepared with: 'word2vec' (trained on its
  training split), 'vectors:PATH' (a pretrained file) or 'llm:LAYER' (language-model
  states of that layer, 0..n); from meta.json's `embeddings` entry, which datasets built
  before this was recorded wrote in words or as a bare path."""
  source = (meta.get('embeddings') or {}).get('source') or 'word2vec'
  if source.startswith(('vectors:', 'llm:')):
    return source
  if source == 'word2vec' or 'training split' in source:
    return 'word2vec'
  return f'vectors:{source}'


def describe_representation(meta: Mapping[str, Any]) -> str:
  """The dataset's text representation in one line, for the start of a run."""
  have, entry = dataset_representation(meta), meta.get('embeddings') or {}
  if have.startswith('llm:'):
    return (f'{have}: frozen states of layer {entry.get("layer")} of '
            f'{entry.get("num_layers")} of {entry.get("encoder")}, pooled onto words '
            f'({entry.get("dim")}-d), read through a learned projection')
  if have.startswith('vectors:'):
    return f'{have} ({entry.get("format")}, {entry.get("dim")}-d word vectors)'
  dim = entry.get('dim', meta.get('embedding_dim'))
  return f'{have} ({dim}-d, trained on the training split)'


def _same_representation(wanted: str, have: str, meta: Mapping[str, Any]) -> bool:
  """Whether a dataset prepared with `have` is what `wanted` asks for: 'vectors' and
  'llm' accept any file or layer, 'llm:LAYER' counts negative layers from the end."""
  want = dataset_spec.parse_representation(wanted)
  got = dataset_spec.parse_representation(have)
  if want.kind != got.kind:
    return False
  if want.kind == 'vectors':
    return want.path is None or os.path.abspath(want.path) == os.path.abspath(got.path)
  if want.kind == 'llm':
    num_layers = int((meta.get('embeddings') or {}).get('num_layers') or 0)
    return want.layer is None or want.layer % (num_layers + 1) == got.layer
  return True


def resolve_representation(config: ml_collections.ConfigDict,
                           data: DataSource) -> ml_collections.ConfigDict:
  """`config` checked against the dataset's word vectors, with `text_representation`
  'auto' replaced by the dataset's and, for pretrained vectors, `model.embedding_dim`
  set to their dimension: a 300-d file needs no override (split-trained word2vec keeps
  the config's, checked when the table is loaded).

  Raises:
    ConfigError: the dataset was prepared with another representation than the config's.
  """
  meta = getattr(data, 'meta', None) or {}
  have = dataset_representation(meta)
  wanted = str(config.get('text_representation', 'auto') or 'auto')
  if wanted != 'auto':
    try:
      same = _same_representation(wanted, have, meta)
    except ValueError as e:
      raise ConfigError(f'config.text_representation: {e}') from None
    if not same:
      raise ConfigError(
          f'the dataset was prepared with text representation {have!r} but '
          f'config.text_representation is {wanted!r}; rebuild the dataset or set '
          f'--config.text_representation={have}')
  gguf = config.get('gguf', '') or ''
  if gguf and have.startswith('llm:'):
    used = (meta.get('embeddings') or {}).get('gguf')
    if not used or os.path.abspath(gguf) != os.path.abspath(used):
      raise ConfigError(
          f'the dataset\'s states come from {used or "the embedded model"}, but '
          f'config.gguf is {gguf}; rebuild the dataset or leave config.gguf empty')
  dim = int(meta.get('embedding_dim') or 0)
  set_dim = (have.startswith('vectors:') and config.pretrained_embeddings and dim
             and dim != config.model.embedding_dim)
  if (wanted == have or 'text_representation' not in config) and not set_dim:
    return config
  config = ml_collections.ConfigDict(config.to_dict())
  if 'text_representation' in config:
    config.text_representation = have
  if set_dim:
    logging.info('model.embedding_dim: %d, the dimension of %s', dim, have)
    config.model.embedding_dim = dim
  return config


def resolve_train_embeddings(config: ml_collections.ConfigDict,
                             data: DataSource) -> ml_collections.ConfigDict:
  """`config` with `model.train_embeddings` 'auto' replaced by 'true' or 'false' (and
  checked): frozen for vectors loaded from a file (the paper's setting) or a training
  split whose word2vec saw most words often, fine-tuned otherwise."""
  value = config.model.train_embeddings
  if str(value).strip().lower() != 'auto':
    try:
      models.embeddings_trainable(value)
    except ValueError as e:
      raise ConfigError(f'config.model.train_embeddings: {e}') from None
    return config
  data_dir = getattr(data, 'data_dir', None)
  source = dataset_representation(getattr(data, 'meta', None) or {})
  words = dataset_spec.modality(config.modality).words
  if not words or not data_dir:
    decision, why = 'false', 'no word vectors to tune' if not words else (
        'no prepared dataset to count words in')
  elif source.startswith('vectors:'):
    decision, why = 'false', f'pretrained {source}'
  elif source.startswith('llm:'):
    decision, why = 'false', f'{source}: the model reads frozen states, not the table'
  else:
    median = median_training_word_count(data_dir, config.modality)
    trainable = median < AUTO_EMBEDDINGS_MIN_MEDIAN_COUNT
    decision = 'true' if trainable else 'false'
    why = (f'median training count of a vocabulary word {median:g} '
           f'{"<" if trainable else ">="} {AUTO_EMBEDDINGS_MIN_MEDIAN_COUNT}')
  logging.info('train_embeddings=auto: %s (%s)', 'fine-tuned' if decision == 'true'
               else 'frozen', why)
  config = ml_collections.ConfigDict(config.to_dict())
  config.model.train_embeddings = decision
  return config


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
    `threshold`, `selection_metric`, `best_epoch`, `history`, `warnings` (sentences for
    the user: a constant predictor) and the `config`.

  Raises:
    ConfigError: bad configuration or dataset (unknown modality, variant or selection
      metric, batch not divisible by the devices, an empty split, embeddings of the
      wrong size).
  """
  steps_lib.check_config(config)
  if data is None:
    if not config.data_dir:
      raise ConfigError('config.data_dir is empty: give a prepared dataset directory')
    data = PreparedDataset.from_config(config)
  for split in SPLITS:
    if data.num_records(split) == 0:
      raise ConfigError(f'the {split} split of the {config.modality} dataset is empty')
  config = resolve_representation(config, data)
  config = resolve_train_embeddings(config, data)
  selection_metric, warnings = config.selection_metric, []
  if selection_metric != 'log_loss' and len(set(data.record_info('validation')['label'])) < 2:
    warnings.append(f'the validation split has a single class, so {selection_metric} cannot '
                    'rank epochs: selected on validation log loss instead')
    selection_metric = 'log_loss'
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  eval_batch_size = config.eval_batch_size or config.batch_size
  sharding.check_batch_size(eval_batch_size, mesh, name='eval batch_size')
  is_chief = jax.process_index() == 0
  os.makedirs(workdir, exist_ok=True)
  if is_chief:
    run_log.write_json(os.path.join(workdir, CONFIG_FILE), config.to_dict())

  # Packing makes epochs differ by a few batches: the schedule gets the exact total.
  epoch_steps = [data.num_batches('train', batch_size=config.batch_size, epoch=e,
                                  shuffle=True) for e in range(config.num_epochs)]
  total_steps = sum(epoch_steps)
  example = next(iter(data.batches('train', batch_size=config.batch_size, epoch=0,
                                   shuffle=False)))
  model = steps_lib.make_model(config, data.meta)
  state = steps_lib.create_train_state(config, model, example, total_steps=total_steps,
                             embeddings=data.embeddings(), mesh=mesh)
  rng = sharding.replicate(np.asarray(jax.random.PRNGKey(config.seed)), mesh)
  steps = steps_lib.make_steps(mesh, config.matmul_precision)

  writer = run_log.MetricWriter(workdir, enabled=is_chief, tensorboard=config.tensorboard)
  logging.info('%s / %s: %d train steps per epoch on %d devices (%d processes)',
               config.modality, config.model.variant, epoch_steps[0],
               mesh.devices.size, jax.process_count())

  def validate(state, epoch):
    del epoch
    evaluation = evaluate(steps, state, data, 'validation', batch_size=eval_batch_size)
    entry = epoch_entry(evaluation)
    val = split_metrics(evaluation, entry['threshold'])
    writer.write_scalars(int(state.step), 'validation',
                         {**val, 'score_std': entry['validation_score_std']})
    return entry

  task = trainer.Task(
      train_step=steps.train,
      train_batches=lambda epoch, start: data.batches(
          'train', batch_size=config.batch_size, epoch=epoch, shuffle=True,
          start_step=start),
      epoch_steps=epoch_steps, validate=validate, summarise=_summarise,
      describe=_describe)
  options = trainer.Options(
      selection_metric=selection_metric,
      early_stopping_patience=config.early_stopping_patience,
      log_every_steps=config.log_every_steps,
      checkpoint_every_steps=config.checkpoint_every_steps,
      max_checkpoints_to_keep=config.max_checkpoints_to_keep,
      async_checkpointing=config.async_checkpointing, required_entry_keys=ENTRY_KEYS)
  fit = trainer.fit(task, state, rng, workdir, mesh, options, writer=writer)

  # Test the best checkpoint.
  state, loop = fit.state, fit.loop
  threshold = fit.best.threshold
  if loop.best_entry()['constant']:
    warnings.append('every epoch\'s validation scores were constant (std < '
                    f'{metrics_lib.CONSTANT_SCORE_STD:g}): the model learnt nothing usable '
                    '(see curves.png)')
  results: dict[str, Any] = {'threshold': threshold, 'best_epoch': fit.best.best_epoch,
                             'best_step': fit.best.best_step,
                             'selection_metric': selection_metric,
                             'epochs_run': loop.epoch, 'history': loop.history,
                             'train_time_s': fit.train_time_s,
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
    results[split]['score_std'] = float(np.std(evaluation['scores']))
    warning = metrics_lib.constant_warning(split, evaluation['scores'], threshold)
    if warning:
      warnings.append(warning)
    writer.write_scalars(int(state.step), f'best_{split}', results[split])
    info = data.record_info(split)
    attributes = info.get('attributes')
    for i, score in enumerate(evaluation['scores']):
      rows.append({'candidate_id': info['candidate_id'][i],
                   'position_id': info['position_id'][i],
                   'label': int(evaluation['labels'][i]), 'score': float(score),
                   'split': split,
                   **({fairness.ATTRIBUTE_PREFIX + k: v for k, v in attributes[i].items()}
                      if attributes else {})})
  writer.close()
  for warning in warnings:
    logging.warning('%s', warning)
  results['warnings'] = warnings
  results = metrics_lib.json_safe(results)
  if is_chief:
    write_predictions(os.path.join(workdir, PREDICTIONS_FILE), rows)
    run_log.write_json(os.path.join(workdir, RESULTS_FILE), results)
    curves.plot_curves(loop.history, results['best_epoch'], selection_metric,
                       os.path.join(workdir, CURVES_FILE))
  return results


def add_baselines(results: dict[str, Any], baselines: Mapping[str, Any], workdir: str
                  ) -> dict[str, Any]:
  """Adds the baselines fitted beside the run to its results and results.json, with a
  warning when the best of them has a higher test ROC AUC than the model."""
  results = dict(results, baselines=dict(baselines),
                 warnings=list(results.get('warnings', [])))
  aucs = {b.get('name', key): b['test'].get('roc_auc') for key, b in baselines.items()}
  aucs = {name: auc for name, auc in aucs.items() if auc is not None}
  model_auc = results['test'].get('roc_auc')
  if aucs and model_auc is not None:
    name = max(aucs, key=aucs.get)
    if model_auc < aucs[name]:
      results['warnings'].append(
          f'the model\'s test ROC AUC {model_auc:.3f} is below the {name} baseline\'s '
          f'{aucs[name]:.3f}: it adds nothing over a simple model')
  results = metrics_lib.json_safe(results)
  if jax.process_index() == 0:
    run_log.write_json(os.path.join(workdir, RESULTS_FILE), results)
  return results

