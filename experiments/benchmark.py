r"""Measures training speed on synthetic batches of the paper's shapes.

  python -m experiments.benchmark --modality=text --variant=hirenet \
      [--config=experiments/configs/gpu.py] [--num_steps=20] [--output=FILE.json]

Shapes (paper: Dataset, Table 2): about 5 questions per interview; text answers of ~95
words (200-d word vectors); audio 25 eGeMAPS descriptors at 100 frames/s for ~52 s;
video 49 OpenFace features every 0.25 s for ~51 s. Answer lengths are drawn between
70% and 100% of those. Reports compile time (first step), median train / eval step
time, interviews/s, valid time steps/s, peak memory and the padding efficiency of the
real input pipeline on the default corpus; prints one table and writes JSON.
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

_CONFIG = config_flags.DEFINE_config_file(
    'config', 'experiments/configs/default.py', 'Training configuration file.',
    lock_config=True)
_MODALITY = flags.DEFINE_string('modality', 'text', 'text | audio | video.')
_VARIANT = flags.DEFINE_string('variant', 'hirenet', 'bigru | hn_avg | hn_satt | hirenet.')
_NUM_STEPS = flags.DEFINE_integer('num_steps', 10, 'Timed steps after the first one.')
_QUESTIONS = flags.DEFINE_integer('questions', 5, 'Answers per interview.')
_VOCAB = flags.DEFINE_integer('vocab_size', 20000, 'Vocabulary of the synthetic batches.')
_PADDING = flags.DEFINE_bool('padding', True, 'Measure the input pipeline padding '
                             'efficiency on the default corpus (builds it once).')
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
                    seed: int = 0) -> dict[str, np.ndarray]:
  """A contract batch (docs/contracts.md) of the paper's shapes with random content."""
  rng = np.random.default_rng(seed)
  t, d = PAPER_SHAPES[modality]
  t_pad = -(-t // 8) * 8
  b, q, length = batch_size, questions, 8
  lengths = rng.integers(int(0.7 * t), t + 1, (b, q)).astype(np.int32)
  if d:
    answers = rng.normal(size=(b, q, t_pad, d)).astype(np.float32)
  else:
    answers = rng.integers(2, vocab_size, (b, q, t_pad)).astype(np.int32)
  mask = np.arange(t_pad) < lengths[..., None]
  answers = answers * (mask[..., None] if d else mask).astype(answers.dtype)
  return {
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


def padding_efficiency(config) -> float | None:
  """Valid / padded time steps of one shuffled training epoch of the default corpus."""
  from hirenet_jax import input_pipeline
  data_dir = common.prepare_data(config, _DATA_CACHE.value)
  return input_pipeline.padding_efficiency(
      data_dir, config.modality, 'train', batch_size=config.batch_size, seed=config.seed,
      shuffle=True, num_buckets=config.num_buckets)


def run(config, *, num_steps: int, questions: int, vocab_size: int) -> dict:
  """Compiles and times the train and eval steps; returns the measurements."""
  import jax
  from hirenet_jax import sharding
  from hirenet_jax import train_lib
  train_lib.check_config(config)
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  batch = synthetic_batch(config.modality, config.batch_size, questions, vocab_size)
  model = train_lib.make_model(config, {'vocab_size': vocab_size})
  state = train_lib.create_train_state(config, model, batch, total_steps=1000, mesh=mesh)
  steps = train_lib.make_steps(mesh, config.matmul_precision)
  rng = sharding.replicate(np.asarray(jax.random.PRNGKey(0)), mesh)
  global_batch = sharding.shard_batch(batch, mesh)

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
      'batch_shape': list(batch['answers'].shape), 'paper_time_steps': t,
      'feature_dim': d or config.model.embedding_dim,
      'hidden_size': config.model.hidden_size, 'dtype': config.dtype,
      'matmul_precision': config.matmul_precision,
      'compile_s': compile_s - step_s, 'train_step_s': step_s,
      'eval_compile_s': eval_compile_s, 'eval_step_s': statistics.median(eval_times),
      'interviews_per_s': config.batch_size / step_s,
      'valid_steps_per_s': valid_steps / step_s,
      'steps_per_s': 1.0 / step_s,
      'peak_memory_mb': memory / 2**20, 'peak_memory_kind': memory_kind,
      'num_timed_steps': num_steps,
  }


def format_table(r: dict) -> str:
  rows = [
      ('modality / variant', f'{r["modality"]} / {r["variant"]}'),
      ('device', f'{r["device"]} x {r["num_devices"]}'),
      ('batch answers shape', 'x'.join(map(str, r['batch_shape']))),
      ('dtype / matmul precision', f'{r["dtype"]} / {r["matmul_precision"]}'),
      ('compile time (first train step)', f'{r["compile_s"]:.2f} s'),
      ('train step (median)', f'{1000 * r["train_step_s"]:.1f} ms'),
      ('eval step (median)', f'{1000 * r["eval_step_s"]:.1f} ms'),
      ('interviews / s (train)', f'{r["interviews_per_s"]:.1f}'),
      ('valid time steps / s (train)', f'{r["valid_steps_per_s"]:.0f}'),
      ('train steps / s', f'{r["steps_per_s"]:.2f}'),
      ('peak memory', f'{r["peak_memory_mb"]:.0f} MiB ({r["peak_memory_kind"]})'),
      ('padding efficiency (default corpus)',
       'n/a' if r.get('padding_efficiency') is None else f'{r["padding_efficiency"]:.1%}'),
  ]
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
    results = run(config, num_steps=_NUM_STEPS.value, questions=_QUESTIONS.value,
                  vocab_size=_VOCAB.value)
    results['padding_efficiency'] = padding_efficiency(config) if _PADDING.value else None
  except (common.CommandError, train_lib.ConfigError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)
  output = _OUTPUT.value or os.path.join(
      'benchmarks', 'results', f'{config.modality}_{config.model.variant}.json')
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with open(output, 'w') as f:
    json.dump(results, f, indent=2)
  print(format_table(results))
  print(f'wrote {output}')


if __name__ == '__main__':
  app.run(main)
