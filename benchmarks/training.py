"""Training-speed measurements behind `python -m experiments.benchmark` (no flags here).

`run`: train / eval steps on packed batches of the paper's shapes (synthetic content);
`pipeline`: one epoch of the real input pipeline on the default corpus; `format_*`:
the printed tables. See experiments/benchmark.py for what each figure means.
"""

from __future__ import annotations

import itertools
import resource
import statistics
import time

import numpy as np

from data_prep.hirenet import datasets
from hirenet_jax.hirenet import packing

# Paper shapes: (time steps, feature dim); text has token ids, D = 0.
PAPER_SHAPES = {'text': (95, 0), 'audio': (100 * 52, 25), 'video': (4 * 51, 49)}


def synthetic_batch(modality: str, batch_size: int, questions: int, vocab_size: int,
                    seed: int = 0, *,
                    width_factor: float = packing.DEFAULT_WIDTH_FACTOR,
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
  width = packing.row_width(t_pad, lengths.mean(), width_factor)
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


def compile_and_measure(jitted, *args) -> tuple[float, int | None]:
  """(compile seconds, program memory bytes) of `jitted` on `args`.

  Program memory: arguments + outputs + temporaries of the compiled program (XLA buffer
  assignment), the step's own peak whatever ran before it in the process.
  """
  start = time.perf_counter()
  compiled = jitted.lower(*args).compile()
  compile_s = time.perf_counter() - start
  analysis = compiled.memory_analysis()
  if analysis is None:
    return compile_s, None
  return compile_s, int(analysis.argument_size_in_bytes + analysis.output_size_in_bytes
                        + analysis.temp_size_in_bytes - analysis.alias_size_in_bytes)


def _setup(config):
  import jax
  from hirenet_jax.core import sharding
  from hirenet_jax.hirenet import steps as steps_lib
  mesh = sharding.make_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  return mesh, steps_lib.make_steps(mesh, config.matmul_precision), sharding.replicate(
      np.asarray(jax.random.PRNGKey(0)), mesh)


def run(config, *, num_steps: int, questions: int, vocab_size: int,
        time_steps: int | None = None) -> dict:
  """Compiles and times the train and eval steps on a paper-shape batch."""
  import jax
  from hirenet_jax.core import sharding
  from hirenet_jax.hirenet import steps as steps_lib
  steps_lib.check_config(config)
  batch = synthetic_batch(config.modality, config.batch_size, questions, vocab_size,
                          width_factor=config.get('row_width_factor', packing.DEFAULT_WIDTH_FACTOR),
                          time_steps=time_steps)
  mesh, steps, rng = _setup(config)
  model = steps_lib.make_model(config, {'vocab_size': vocab_size})
  state = steps_lib.create_train_state(config, model, batch, total_steps=1000, mesh=mesh)
  global_batch = sharding.shard_batch(batch, mesh)
  compile_s, program_bytes = compile_and_measure(steps.train, state, global_batch, rng)

  (state, _), _ = _timed(steps.train, state, global_batch, rng)  # Warm-up.
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
      'compile_s': compile_s, 'train_step_s': step_s,
      'eval_compile_s': eval_compile_s, 'eval_step_s': statistics.median(eval_times),
      'interviews_per_s': config.batch_size / step_s,
      'valid_steps_per_s': valid_steps / step_s,
      'steps_per_s': 1.0 / step_s,
      'program_memory_mb': None if program_bytes is None else program_bytes / 2**20,
      'peak_memory_mb': memory / 2**20, 'peak_memory_kind': memory_kind,
      'num_timed_steps': num_steps,
  }


def pipeline(config, prepared_cache_dir: str, *, max_batches: int = 0,
             rounds: int = 5, chunk: int = 4) -> dict:
  """One shuffled training epoch of the default corpus through the real pipeline.

  A first pass only loads the epoch (timed: decoding every record, which the pipeline
  then keeps in memory, as from a run's second epoch on), copies its batches to the
  devices and compiles every shape. Then the epoch's train steps are timed `rounds`
  times each way, `chunk` steps at a time: as the pipeline feeds them (packing and
  host-to-device copies inside the loop) and on the same batches already on the
  devices; the real way also makes the epoch's `Batches`, as training does each epoch
  (the plan itself is cached: training plans every epoch up front to count its steps).
  Each chunk is timed both ways back to back, the order alternating from chunk
  to chunk and round to round, so that machine noise (a shared 2-core machine varies by
  20% over seconds) and any order effect hit both ways alike. The ratio of steps/s is
  the loading cost; the per-chunk ratios show its spread.
  """
  import jax
  from hirenet_jax.core import sharding
  from hirenet_jax.hirenet import input_pipeline
  from hirenet_jax.hirenet import steps as steps_lib
  data_dir = datasets.prepare(config, prepared_cache_dir)
  data = input_pipeline.PreparedDataset.from_config(config, data_dir)
  batches = data.batches('train', batch_size=config.batch_size, epoch=0, shuffle=True)
  n = len(batches) if max_batches <= 0 else min(max_batches, len(batches))
  start = time.perf_counter()
  host = list(_take(batches, n))
  cold_load_s = time.perf_counter() - start
  by_shape = {b['answers'].shape: b for b in host}
  mesh, steps, rng = _setup(config)
  model = steps_lib.make_model(config, data.meta)
  state = steps_lib.create_train_state(config, model, host[0], total_steps=1000, mesh=mesh)
  for shape_batch in by_shape.values():  # As training feeds them: one program per shape.
    state, _ = jax.block_until_ready(
        steps.train(state, sharding.step_input(shape_batch, mesh), rng))
  programs = steps.train._cache_size()  # pylint: disable=protected-access
  on_device = jax.block_until_ready([sharding.shard_batch(b, mesh) for b in host])
  for shape_batch in {b['answers'].shape: b for b in on_device}.values():
    # Arrays already on the devices (committed) are another jit cache entry: compile
    # them too before timing. Not counted: training never feeds them.
    state, _ = jax.block_until_ready(steps.train(state, shape_batch, rng))
  real_s = cached_s = 0.0
  chunk_ratios = []
  for r in range(rounds):
    # The epoch's batches, made as training makes them each epoch (same plan each round).
    start = time.perf_counter()
    iterator = iter(data.batches('train', batch_size=config.batch_size, epoch=0,
                                 shuffle=True))
    plan_s = time.perf_counter() - start
    for k, first in enumerate(range(0, n, chunk)):
      size = min(chunk, n - first)
      seconds = {'real': plan_s if k == 0 else 0.0}
      for way in (('real', 'cached') if (r + k) % 2 == 0 else ('cached', 'real')):
        loaded = []
        start = time.perf_counter()
        if way == 'real':
          for batch in itertools.islice(iterator, size):
            state, _ = steps.train(state, sharding.step_input(batch, mesh), rng)  # As training.
            loaded.append(batch)
        else:
          for batch in on_device[first:first + size]:
            state, _ = steps.train(state, batch, rng)
        jax.block_until_ready(state)
        seconds[way] = seconds.get(way, 0.0) + time.perf_counter() - start
        for i, batch in enumerate(loaded):  # Both ways must run the same batches.
          check_replayed(batch, host[first + i], first + i)
      real_s += seconds['real']
      cached_s += seconds['cached']
      chunk_ratios.append(seconds['cached'] / seconds['real'])
    if hasattr(iterator, 'close'):
      iterator.close()
  n_total = n * rounds
  valid = rounds * sum(int(b['answer_lengths'].sum()) for b in host)
  interviews = rounds * sum(float(b['weight'].sum()) for b in host)
  quartiles = np.percentile(chunk_ratios, [25, 50, 75])
  return {
      'pipeline_batches': n, 'pipeline_epoch_batches': len(batches), 'rounds': rounds,
      'chunk': chunk, 'load_window': batches.window,
      'layout_widths': list(batches.layout.widths), 'layout_rows': list(batches.layout.rows),
      'num_buckets': len(batches.layout.widths),
      'compiled_train_programs': programs,
      'padding_efficiency': batches.padding_efficiency,
      'cold_load_ms_per_batch': 1000 * cold_load_s / n,
      'mean_interviews_per_batch': interviews / n_total,
      'real_loading_steps_per_s': n_total / real_s, 'cached_steps_per_s': n_total / cached_s,
      'loading_ratio': cached_s / real_s,
      'chunk_ratio_quartiles': [float(q) for q in quartiles],
      'pipeline_interviews_per_s': interviews / real_s,
      'pipeline_valid_steps_per_s': valid / real_s,
  }


def check_replayed(batch: dict, expected: dict, position: int) -> None:
  """Raises if a batch of a remade epoch is not the one timed the other way: an epoch
  made again from the same plan must hold the same interviews."""
  if not np.array_equal(batch['index'], expected['index']):
    raise RuntimeError(f'batch {position} differs between epochs of the same plan')


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
      ('compile time (train step)', f'{r["compile_s"]:.2f} s'),
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
                                        f'{r["pipeline_epoch_batches"]} (one epoch), '
                                        f'{r["rounds"]} rounds'),
      ('packed rows (R x W) per bucket', ', '.join(
          f'{k}x{w}' for k, w in zip(r['layout_rows'], r['layout_widths']))),
      ('padding efficiency (epoch)', f'{r["padding_efficiency"]:.1%}'),
      ('interviews per batch (mean)', f'{r["mean_interviews_per_batch"]:.1f}'),
      ('compiled train programs / buckets',
       f'{r["compiled_train_programs"]} / {r["num_buckets"]}'),
      ('batches loaded per grain element', f'{r["load_window"]}'),
      ('loading alone, first epoch (decoding)', f'{r["cold_load_ms_per_batch"]:.1f} ms / batch'),
      ('steps / s, real loading (records cached)', f'{r["real_loading_steps_per_s"]:.2f}'),
      ('steps / s, cached batches', f'{r["cached_steps_per_s"]:.2f}'),
      ('real / cached', f'{r["loading_ratio"]:.1%}'),
      (f'per {r["chunk"]}-step chunk: quartiles', ' / '.join(
          f'{q:.1%}' for q in r['chunk_ratio_quartiles'])),
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
