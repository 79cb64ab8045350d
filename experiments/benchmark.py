r"""Measures training speed: paper-shape batches, the real input pipeline, PyTorch.

  python -m experiments.benchmark --modality=text --variant=hirenet \
      [--config=experiments/configs/gpu.py] [--num_steps=20] [--output=FILE.json] \
      [--time_steps=1300,2600,5200] [--nopipeline] [--compare_torch]

1. Paper shapes (paper: Dataset, Table 2), synthetic content: about 5 questions per
   interview; text answers of ~95 words (200-d word vectors); audio 25 eGeMAPS
   descriptors at 100 frames/s for ~52 s; video 49 OpenFace features every 0.25 s for
   ~51 s. Answer lengths are drawn between 70% and 100% of those (`--time_steps` sets
   other lengths, one measurement each, then the step-time ratios), packed as the input
   pipeline packs them. Reports compile time, median train / eval step time,
   interviews/s, valid time steps/s, the compiled train step's memory (XLA's buffer
   assignment) and the process (CPU) or device peak memory.
2. `--pipeline` (default on): one training epoch of the default synthetic corpus (built
   once into the cache) through the real input pipeline: padding efficiency, compiled
   train-step programs vs buckets, and steps/s with real loading vs on cached batches.
3. `--compare_torch`: benchmarks/compare_torch.py, our masked GRU and HireNet training
   against PyTorch's, side by side in the same process (needs torch installed).

Prints tables and writes JSON.
"""

from __future__ import annotations

import os

from absl import app
from absl import flags

from benchmarks import training
from experiments import common

_CONFIG = common.define_config_flag()
_MODALITY = flags.DEFINE_string('modality', 'text', 'text | audio | video.')
_VARIANT = flags.DEFINE_string('variant', 'hirenet', 'bigru | hn_avg | hn_satt | hirenet.')
_NUM_STEPS = flags.DEFINE_integer('num_steps', 10, 'Timed steps after the first one.')
_QUESTIONS = flags.DEFINE_integer('questions', 5, 'Answers per interview.')
_VOCAB = flags.DEFINE_integer('vocab_size', 20000, 'Vocabulary of the synthetic batches.')
_PIPELINE = flags.DEFINE_bool('pipeline', True, 'Run one epoch of the default corpus '
                              'through the real input pipeline (builds it once).')
_PIPELINE_BATCHES = flags.DEFINE_integer('pipeline_batches', 0, 'Batches of the pipeline '
                                         'measurement; 0 = one whole epoch.')
_TIME_STEPS = flags.DEFINE_list('time_steps', [], 'Answer lengths to measure (e.g. '
                                '1300,2600,5200); default: the paper length.')
_COMPARE_TORCH = flags.DEFINE_bool('compare_torch', False, 'Also run the side-by-side '
                                   'PyTorch comparison (benchmarks/compare_torch.py).')
_OUTPUT = flags.DEFINE_string('output', None,
                              'JSON file; default benchmarks/results/{modality}_{variant}.json.')

# Compilation is part of what is measured: no persistent cache unless asked for.
flags.FLAGS.set_default('jax_cache_dir', '')


def main():
  config = _CONFIG.value
  common.apply_shorthands(config, modality=_MODALITY.value, variant=_VARIANT.value)
  lengths = [int(t) for t in _TIME_STEPS.value] or [None]
  runs = []
  for t in lengths:
    runs.append(training.run(config, num_steps=_NUM_STEPS.value,
                             questions=_QUESTIONS.value, vocab_size=_VOCAB.value,
                             time_steps=t))
    print(training.format_table(runs[-1]), end='\n\n', flush=True)
  results = dict(runs[-1])
  if len(runs) > 1:
    results['scaling'] = runs
    print(training.format_scaling(runs), end='\n\n')
  if _PIPELINE.value:
    results['pipeline'] = training.pipeline(config, common.PREPARED_CACHE_DIR.value,
                                            max_batches=_PIPELINE_BATCHES.value)
    print(training.format_pipeline(results['pipeline']), end='\n\n', flush=True)
  if _COMPARE_TORCH.value:
    from benchmarks import compare_torch  # pylint: disable=g-import-not-at-top
    try:  # torch is imported only in compare_torch's worker process.
      results['compare_torch'] = compare_torch.run(
          config, num_steps=_NUM_STEPS.value, prepared_cache_dir=common.PREPARED_CACHE_DIR.value)
    except ImportError as e:
      raise common.CommandError(f'--compare_torch needs torch ({e})') from None
    print(compare_torch.format_table(results['compare_torch']), end='\n\n')
  output = common.write_results(_OUTPUT.value or os.path.join(
      'benchmarks', 'results', f'{config.modality}_{config.model.variant}.json'), results)
  print(f'wrote {output}')


if __name__ == '__main__':
  app.run(common.entry_point(main, extra_errors=(ValueError,)))
