"""Scoring with a trained HireNet: whole-split evaluation during training, and the
selected checkpoint of a finished run applied to a prepared dataset, with its attention
weights (what experiments.predict and experiments.explain read)."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator, Mapping

import jax
import ml_collections
import numpy as np

from hirenet_jax.core import checkpointing
from hirenet_jax.core import fairness
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.core import metrics as metrics_lib
from hirenet_jax.hirenet import packing
from hirenet_jax.core import sharding
from hirenet_jax.core import trainer
from hirenet_jax.hirenet import steps as steps_lib
from hirenet_jax.hirenet.input_pipeline import DataSource
from hirenet_jax.hirenet.steps import Steps
from hirenet_jax.hirenet.steps import TrainState

CONFIG_FILE = 'config.json'  # The run's config, written by training.


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
  model = steps_lib.make_model(config, data.meta)
  state = steps_lib.create_train_state(config, model, example, total_steps=1, embeddings=None,
                             mesh=mesh)
  rng = sharding.replicate(np.asarray(jax.random.PRNGKey(0)), mesh)
  tree, meta = checkpointing.restore_best(workdir, trainer.checkpoint_tree(state, rng))
  state = state.replace(params=tree['params'], opt_state=tree['opt_state'],
                        step=tree['step'])
  return state, steps_lib.make_steps(mesh, config.matmul_precision), float(meta['threshold']), config


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


def load_run_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run was trained with; FileNotFoundError if `workdir` is not a run."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f'{workdir} is not a training run (no {path})')
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def score_dataset(workdir: str, data_dir: str, splits, config: ml_collections.ConfigDict
                  ) -> tuple[ml_collections.ConfigDict, dict, list[dict]]:
  """Scores `splits` of a prepared dataset with a run's selected checkpoint.

  Returns (config, meta of the dataset, rows): one row per candidate with candidate_id,
  position_id, label, split, score, hirable, threshold, question_attention,
  answer_attention and answer_index (raw interview position of each attended answer),
  and an `attr_<name>` entry per group attribute the candidate carries, as in
  predictions.csv (for audits; the model never sees them).
  """
  data = input_pipeline.PreparedDataset.from_config(config, data_dir)
  state, steps, threshold, config = load_for_prediction(workdir, data, config)
  batch_size = config.eval_batch_size or config.batch_size
  rows = []
  for split in splits:
    if data.num_records(split) == 0:
      continue
    info = data.record_info(split)
    attributes = info.get('attributes')
    batches = data.batches(split, batch_size=batch_size, epoch=0, shuffle=False)
    for row in predict_batches(steps, state, batches):
      i = row['index']
      columns = ({fairness.ATTRIBUTE_PREFIX + k: v for k, v in attributes[i].items()}
                 if attributes else {})
      rows.append({
          'candidate_id': info['candidate_id'][i],
          'position_id': info['position_id'][i],
          'label': info['label'][i],
          'split': split,
          'score': row['score'],
          'hirable': row['score'] >= threshold,
          'threshold': threshold,
          'question_attention': row['question_attention'],
          'answer_attention': row['answer_attention'],
          'answer_index': [info['answer_index'][i][q] for q in row['answer_slots']],
          **columns,
      })
  return config, data.meta, rows
