r"""Multimodal fusion of trained monomodal HireNets (paper Table 4).

  python -m experiments.fusion --workdir=W [--seed=0] [--variant=hirenet] \
      [--modalities=text,audio,video]

Loads the selected checkpoints of W/{modality}_{variant}_s{seed} (experiments.grid or
experiments.train runs on the same corpus), scores every candidate of every split, and
on the candidates that have all the modalities computes:
  - early fusion: the modalities' last layers v concatenated, then SVM / Ridge / Random
    Forest tuned on validation F1 (as the non-sequential baselines);
  - late fusion: the mean of the modalities' scores;
  - the random and position-majority vote baselines on the same candidates.
Writes W/fusion_s{seed}/results.json, which experiments.report reads.
"""

from __future__ import annotations

import json
import os

from absl import app
from absl import flags
import numpy as np

from hirenet_jax.hirenet import dataset_spec
from experiments import common

_WORKDIR = flags.DEFINE_string('workdir', 'workdirs/grid', 'Grid directory.')
_SEED = flags.DEFINE_integer('seed', 0, 'Which seed\'s runs to fuse.')
_VARIANT = flags.DEFINE_enum('variant', 'hirenet', ['hn_avg', 'hn_satt', 'hirenet'],
                             'Which (hierarchical) variant to fuse.')
_MODALITIES = flags.DEFINE_list('modalities', ['text', 'audio', 'video'], 'Modalities.')

RESULTS_FILE = 'results.json'


def modality_outputs(run_dir: str):
  """{split: ModalityOutputs} of one finished run's selected checkpoint."""
  import ml_collections
  from hirenet_jax.hirenet.baselines import paper as baseline_features
  from hirenet_jax.hirenet import input_pipeline
  from hirenet_jax.hirenet import scoring
  from hirenet_jax.hirenet import train_lib
  config_path = os.path.join(run_dir, scoring.CONFIG_FILE)
  if not os.path.exists(os.path.join(run_dir, train_lib.RESULTS_FILE)):
    raise common.CommandError(f'{run_dir} is not a finished run (no results.json): '
                              'train it first (experiments.grid or experiments.train)')
  with open(config_path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  data = input_pipeline.PreparedDataset.from_config(config, config.data_dir)
  state, steps, _, config = scoring.load_for_prediction(run_dir, data, config)
  batch_size = config.eval_batch_size or config.batch_size
  outputs = {}
  for split in dataset_spec.SPLITS:
    info = data.record_info(split)
    rows = list(scoring.predict_batches(
        steps, state, data.batches(split, batch_size=batch_size, epoch=0, shuffle=False)))
    order = [r['index'] for r in rows]
    outputs[split] = baseline_features.ModalityOutputs(
        candidate_ids=[info['candidate_id'][i] for i in order],
        position_ids=[info['position_id'][i] for i in order],
        labels=np.asarray([info['label'][i] for i in order]),
        scores=np.asarray([r['score'] for r in rows]),
        vectors=np.stack([r['interview_vector'] for r in rows]))
  return outputs


def main():
  from hirenet_jax.hirenet.baselines import paper as baseline_features
  root, seed = _WORKDIR.value, _SEED.value
  outputs = {}
  for modality in _MODALITIES.value:
    run_dir = os.path.join(root, f'{modality}_{_VARIANT.value}_s{seed}')
    print(f'scoring {run_dir}', flush=True)
    outputs[modality] = modality_outputs(run_dir)
  results = baseline_features.run_fusion(outputs, seed=seed)
  output = common.write_results(os.path.join(root, f'fusion_s{seed}', RESULTS_FILE), results)
  print(f'candidates with {", ".join(results["modalities"])}: {results["num_candidates"]}')
  print(f'{"model":<14} {"precision":>9} {"recall":>7} {"f1":>7}')
  for key, name in (('random_vote', 'Random vote'), ('majority_vote', 'Majority vote'),
                    ('early_fusion', 'Early Fusion'), ('late_fusion', 'Late Fusion')):
    m = results[key]['test']
    print(f'{name:<14} {m["precision"]:>9.3f} {m["recall"]:>7.3f} {m["f1"]:>7.3f}')
  print(f'wrote {output}')


if __name__ == '__main__':
  app.run(common.entry_point(main, extra_errors=(ValueError,)))
