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

import json
import os
import resource
import statistics
import sys
import time

import numpy as np
from absl import app
from absl import flags
from ml_collections import config_flags

from experiments import common
from hirenet_jax import packing

_CONFIG = config_flags.DEFINE_config_file(
    'config', 'experiments/configs/default.py', 'Training configuration file.',
    lock_config=True)
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
_CACHE_DIR = flags.DEFINE_string('jax_cache_dir', '', 'XLA compilation cache ("" = off, '
                                 'so the compile time is real).')
_DATA_CACHE = flags.DEFINE_string('prepared_cache_dir',
                                  os.path.expanduser('~/.cache/hirenet_jax/datasets'),
                                  'Where the default corpus datasets are cached.')

# Paper shapes: (time steps, feature dim); text has token ids, D = 0.
PAPER_SHAPES = {'text': (95, 0), 'audio': (100 * 52, 25), 'video': (4 * 51, 49)}


def synthetic_batch(modality: str, batch_size: int, questions: int, vocab_size: int,
                    seed: int = 0, *, width_factor: float = 3.0,
                    time_steps: int | None = None) -> dict[str, np.ndarray]:
  """A packed contract batch (docs/contracts.md) of the paper's shapes, random content.

  Rows are `width_factor` mean answers wide (at least the longest answer), as the input
  pipeline packs them (input_pipeline.packing_layout); `time_steps` overrides the
  paper's answer length.
  """
  rng = np.random.default_rng(seed)
  t, d = PAPER_SHAPES[modality]
  t = time_steps or t
  t_pad = -(-t // 8) * 8
  b, q, length = batch_size, questions, 8
  lengths = rng.integers(int(0.7 * t), t + 1, (b, q)).astype(np.int32)
  if d:
    answers = rng.normal(size=(b, q, t_pad, d)).astype(np.float32)
  else:
    answers = rng.integers(2, vocab_size, (b, q, t_pad)).astype(np.int32)
  mask = np.arange(t_pad) < lengths[..., None]
  answers = answers * (mask[..., None] if d else mask).astype(answers.dtype)
  padded = {
      'answers': answers,
      'answer_lengths': lengths,
      'questions': rng.integers(2, vocab_size, (b, q, length)).astype(np.int32),
      'question_lengths': np.full((b, q), length, np.int32),
      'job_title': rng.integers(2, vocab_size, (b, 4)).astype(np.int32),
      'job_title_length': np.full((b,), 4, np.int32),
      'label': rng.integers(0, 2, b).astype(np.int32),
      'weight': np.ones((b,), np.float32),
      'index': np.arange(b, dtype=np.int32),
  }
  width = max(t_pad, -(-int(width_factor * lengths.mean()) // 8) * 8)
  return packing.pack_padded(padded, width=width, row_multiple=8)


def _timed(fn, *args):
  import jax
  start = time.perf_counter()
  out = jax.block_until_ready(fn(*args))
  return out, time.perf_counter() - start


def peak_memory_bytes() -> tuple[int, str]:
  """Peak device memory when the backend reports it, else the host's peak RSS."""
  import jax
  stats = jax.local_devices()[0].memory_stats() or {}
  if 'peak_bytes_in_use' in stats:
    return int(stats['peak_bytes_in_use']), 'device peak_bytes_in_use'
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, 'host max RSS'


def program_memory_bytes(jitted, *args) -> int | None:
  """Arguments + outputs + temporaries of the compiled program (XLA buffer assignment):
  the step's own peak, whatever ran before it in the process."""
  analysis = jitted.lower(*args).compile().memory_analysis()
  if analysis is None:
    return None
  return int(analysis.argument_size_in_bytes + analysis.output_size_in_bytes
             + analysis.temp_size_in_bytes - analysis.alias_size_in_bytes)


def _setup(config):
  import jax
  from hirenet_jax import sharding
  from hirenet_jax import train_lib
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  return mesh, train_lib.make_steps(mesh, config.matmul_precision), sharding.replicate(
      np.asarray(jax.random.PRNGKey(0)), mesh)


def run(config, *, num_steps: int, questions: int, vocab_size: int,
        time_steps: int | None = None) -> dict:
  """Compiles and times the train and eval steps on a paper-shape batch."""
  import jax
  from hirenet_jax import sharding
  from hirenet_jax import train_lib
  train_lib.check_config(config)
  batch = synthetic_batch(config.modality, config.batch_size, questions, vocab_size,
                          width_factor=config.get('row_width_factor', 3.0),
                          time_steps=time_steps)
  mesh, steps, rng = _setup(config)
  model = train_lib.make_model(config, {'vocab_size': vocab_size})
  state = train_lib.create_train_state(config, model, batch, total_steps=1000, mesh=mesh)
  global_batch = sharding.shard_batch(batch, mesh)
  program_bytes = program_memory_bytes(steps.train, state, global_batch, rng)

  (state, _), compile_s = _timed(steps.train, state, global_batch, rng)
  times = []
  for _ in range(num_steps):
    (state, _), dt = _timed(steps.train, state, global_batch, rng)
    times.append(dt)
  _, eval_compile_s = _timed(steps.eval, state, global_batch)
  eval_times = [_timed(steps.eval, state, global_batch)[1] for _ in range(num_steps)]
  step_s = statistics.median(times)
  valid_steps = int(batch['answer_lengths'].sum())
  memory, memory_kind = peak_memory_bytes()
  t, d = PAPER_SHAPES[config.modality]
  return {
      'modality': config.modality, 'variant': config.model.variant,
      'device': jax.devices()[0].device_kind, 'num_devices': jax.device_count(),
      'batch_size': config.batch_size, 'answers_per_interview': questions,
      'batch_shape': list(batch['answers'].shape), 'time_steps': time_steps or t,
      'feature_dim': d or config.model.embedding_dim,
      'hidden_size': config.model.hidden_size, 'dtype': config.dtype,
      'matmul_precision': config.matmul_precision,
      'batch_padding_efficiency': valid_steps / batch['answer_segments'].size,
      'compile_s': compile_s - step_s, 'train_step_s': step_s,
      'eval_compile_s': eval_compile_s, 'eval_step_s': statistics.median(eval_times),
      'interviews_per_s': config.batch_size / step_s,
      'valid_steps_per_s': valid_steps / step_s,
      'steps_per_s': 1.0 / step_s,
      'program_memory_mb': None if program_bytes is None else program_bytes / 2**20,
      'peak_memory_mb': memory / 2**20, 'peak_memory_kind': memory_kind,
      'num_timed_steps': num_steps,
  }


def pipeline(config, prepared_cache_dir: str, *, max_batches: int = 0) -> dict:
  """One shuffled training epoch of the default corpus through the real pipeline.

  Compiles every shape first, then times the epoch's train steps twice: as the pipeline
  feeds them (reading, packing and host-to-device copies inside the loop) and again on
  the same batches already on the device; the ratio of steps/s is the loading cost.
  """
  import jax
  from hirenet_jax import sharding
  from hirenet_jax import train_lib
  data_dir = common.prepare_data(config, prepared_cache_dir)
  data = train_lib.PreparedDataset.from_config(config, data_dir)
  batches = data.batches('train', batch_size=config.batch_size, epoch=0, shuffle=True)
  n = len(batches) if max_batches <= 0 else min(max_batches, len(batches))
  by_shape = {b['answers'].shape: b for b in _take(batches, n)}
  mesh, steps, rng = _setup(config)
  model = train_lib.make_model(config, data.meta)
  state = train_lib.create_train_state(config, model, next(iter(by_shape.values())),
                                       total_steps=1000, mesh=mesh)
  for shape_batch in by_shape.values():
    state, _ = jax.block_until_ready(
        steps.train(state, sharding.shard_batch(shape_batch, mesh), rng))
  cached, valid, interviews = [], 0, 0.0
  start = time.perf_counter()
  for batch in _take(batches, n):
    state, _ = steps.train(state, sharding.shard_batch(batch, mesh), rng)
    cached.append(batch)
    valid += int(batch['answer_lengths'].sum())
    interviews += float(batch['weight'].sum())
  jax.block_until_ready(state)
  real_s = time.perf_counter() - start
  device_batches = [sharding.shard_batch(b, mesh) for b in cached]
  jax.block_until_ready(device_batches)
  start = time.perf_counter()
  for batch in device_batches:
    state, _ = steps.train(state, batch, rng)
  jax.block_until_ready(state)
  cached_s = time.perf_counter() - start
  return {
      'pipeline_batches': n, 'pipeline_epoch_batches': len(batches),
      'layout_widths': list(batches.layout.widths), 'layout_rows': list(batches.layout.rows),
      'num_buckets': len(batches.layout.widths),
      'compiled_train_programs': steps.train._cache_size(),  # pylint: disable=protected-access
      'padding_efficiency': batches.padding_efficiency,
      'mean_interviews_per_batch': interviews / n,
      'real_loading_steps_per_s': n / real_s, 'cached_steps_per_s': n / cached_s,
      'loading_ratio': cached_s / real_s,
      'pipeline_interviews_per_s': interviews / real_s,
      'pipeline_valid_steps_per_s': valid / real_s,
  }


def _take(batches, n):
  for k, batch in enumerate(batches):
    if k == n:
      return
    yield batch


def format_table(r: dict) -> str:
  rows = [
      ('modality / variant', f'{r["modality"]} / {r["variant"]}'),
      ('device', f'{r["device"]} x {r["num_devices"]}'),
      ('batch (interviews x answers)', f'{r["batch_size"]} x {r["answers_per_interview"]}'),
      ('answer length (steps)', f'{r["time_steps"]}'),
      ('packed answers shape', 'x'.join(map(str, r['batch_shape']))),
      ('padding efficiency of this batch', f'{r["batch_padding_efficiency"]:.1%}'),
      ('dtype / matmul precision', f'{r["dtype"]} / {r["matmul_precision"]}'),
      ('compile time (first train step)', f'{r["compile_s"]:.2f} s'),
      ('train step (median)', f'{1000 * r["train_step_s"]:.1f} ms'),
      ('eval step (median)', f'{1000 * r["eval_step_s"]:.1f} ms'),
      ('interviews / s (train)', f'{r["interviews_per_s"]:.1f}'),
      ('valid time steps / s (train)', f'{r["valid_steps_per_s"]:.0f}'),
      ('train step program memory', 'n/a' if r['program_memory_mb'] is None
       else f'{r["program_memory_mb"]:.0f} MiB (XLA buffers)'),
      ('peak memory', f'{r["peak_memory_mb"]:.0f} MiB ({r["peak_memory_kind"]})'),
  ]
  return _table(rows)


def format_pipeline(r: dict) -> str:
  rows = [
      ('default corpus, batches timed', f'{r["pipeline_batches"]} of '
                                        f'{r["pipeline_epoch_batches"]} (one epoch)'),
      ('packed rows (R x W) per bucket', ', '.join(
          f'{k}x{w}' for k, w in zip(r['layout_rows'], r['layout_widths']))),
      ('padding efficiency (epoch)', f'{r["padding_efficiency"]:.1%}'),
      ('interviews per batch (mean)', f'{r["mean_interviews_per_batch"]:.1f}'),
      ('compiled train programs / buckets',
       f'{r["compiled_train_programs"]} / {r["num_buckets"]}'),
      ('steps / s, real loading', f'{r["real_loading_steps_per_s"]:.2f}'),
      ('steps / s, cached batches', f'{r["cached_steps_per_s"]:.2f}'),
      ('real / cached', f'{r["loading_ratio"]:.1%}'),
      ('interviews / s, valid steps / s', f'{r["pipeline_interviews_per_s"]:.1f}, '
                                          f'{r["pipeline_valid_steps_per_s"]:.0f}'),
  ]
  return _table(rows)


def format_scaling(runs: list[dict]) -> str:
  base = runs[0]
  lines = ['answer steps | train step | ratio (ideal) | valid steps/s | program memory']
  for r in runs:
    ratio = r['train_step_s'] / base['train_step_s']
    ideal = r['time_steps'] / base['time_steps']
    memory = ('n/a' if r['program_memory_mb'] is None
              else f'{r["program_memory_mb"]:.0f} MiB')
    lines.append(f'{r["time_steps"]:>12} | {1000 * r["train_step_s"]:>7.0f} ms | '
                 f'{ratio:>5.2f} ({ideal:.2f})  | {r["valid_steps_per_s"]:>13.0f} | {memory}')
  return '\n'.join(lines)


def _table(rows) -> str:
  width = max(len(k) for k, _ in rows)
  return '\n'.join(f'{k:<{width}}  {v}' for k, v in rows)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  common.setup_jax(_CACHE_DIR.value)
  from hirenet_jax import train_lib
  config = _CONFIG.value
  try:
    common.apply_shorthands(config, modality=_MODALITY.value, variant=_VARIANT.value)
    lengths = [int(t) for t in _TIME_STEPS.value] or [None]
    runs = []
    for t in lengths:
      runs.append(run(config, num_steps=_NUM_STEPS.value, questions=_QUESTIONS.value,
                      vocab_size=_VOCAB.value, time_steps=t))
      print(format_table(runs[-1]), end='\n\n', flush=True)
    results = dict(runs[-1])
    if len(runs) > 1:
      results['scaling'] = runs
      print(format_scaling(runs), end='\n\n')
    if _PIPELINE.value:
      results['pipeline'] = pipeline(config, _DATA_CACHE.value,
                                     max_batches=_PIPELINE_BATCHES.value)
      print(format_pipeline(results['pipeline']), end='\n\n', flush=True)
    if _COMPARE_TORCH.value:
      try:
        from benchmarks import compare_torch  # pylint: disable=g-import-not-at-top
        import torch  # pylint: disable=g-import-not-at-top,unused-import
      except ImportError as e:
        raise common.CommandError(f'--compare_torch needs torch ({e}); '
                                  '`pip install torch==2.13.0`') from None
      results['compare_torch'] = compare_torch.run(
          config, num_steps=_NUM_STEPS.value, prepared_cache_dir=_DATA_CACHE.value)
      print(compare_torch.format_table(results['compare_torch']), end='\n\n')
  except (common.CommandError, train_lib.ConfigError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  output = _OUTPUT.value or os.path.join(
      'benchmarks', 'results', f'{config.modality}_{config.model.variant}.json')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'wrote {output}')


if __name__ == '__main__':
  app.run(main)
