"""Side-by-side speed comparison with PyTorch (issue [perf], items 1 and 2).

  run(config, num_steps=10, prepared_cache_dir=...) -> results; format_table(results)

Ours runs in this process, torch in a child process (`TorchWorker`) with
`torch.set_num_threads(os.cpu_count())`; the JAX and torch passes are interleaved (one of
each in turn, the other side idle), so machine noise hits both sides alike and the ratios
are fair. Two processes, because each side gets its own best host allocator: ours keeps
freed memory for reuse (hirenet_jax/core/host_memory.py, applied by the entry points), which
makes XLA:CPU faster but torch slower when both share a process (one malloc arena for
both frameworks' threads); the torch child keeps glibc's defaults.

1. Encoder: the masked bidirectional GRU, forward and backward pass (loss = sum of the
   outputs, gradients with respect to the parameters: as in training, where the inputs
   are frozen word vectors or extracted features), at text shapes:
   160 answers padded to 95 steps, 200-d inputs, 50 units per direction. Lengths are
   drawn like the synthetic corpus draws them (data_prep/hirenet/synthetic.py: lognormal, sigma
   0.3), with median 50 words, clipped to [12, 95], the longest set to 95 so the padded
   tensor is [160, 95, 200]. Four implementations, one set of weights
   (`torch_hirenet.load_masked_gru`):
     torch padded:  `nn.GRU(200, 50, bidirectional=True, batch_first=True)` on the
                    padded tensor (not masked: the backward direction reads padding);
     torch packed:  the same with `pack_padded_sequence(enforce_sorted=False)`, the
                    correct masked way in torch (packing inside the timed pass);
     ours padded:   `gru.MaskedGRU(50)` on the padded tensor with its mask;
     ours packed:   `gru.MaskedGRU(50)` on `packing.pack_padded` rows of width 3 x mean
                    length (rounded up to 8, as the input pipeline packs), with the
                    segment ids (packing done beforehand, as the input pipeline does).
   Figure: valid steps per second (sum of lengths / median pass time).
2. End to end: HireNet text training at batch 32 on the default synthetic corpus, real
   batches of the input pipeline (epoch 0, shuffled). Ours: `train_lib` steps on the
   packed batches; torch: `torch_hirenet.TorchHireNet` (same sizes, packed sequences at
   every level) on the same batches unpacked to padded [B, Q, T]. The batches are loaded
   and converted (device_put / torch tensors) before timing, for both; compile (one
   step per batch shape) and one torch warm-up step are not timed; each step ends with
   a sync (`block_until_ready` / the loss as a float). Figures: valid words/s and
   interviews/s (weight sum) over the window. Then ours is also timed fed by the real
   input pipeline (the epoch's `Batches` made and iterated through grain inside the
   timing, as training does; 3 passes over the window, the median reported) against
   the same torch figure, which still excludes torch's loading.

torch is imported only inside the functions that need it: it is not a dependency of
the project.
"""

from __future__ import annotations

import copy
import functools
import itertools
import multiprocessing
import os
import platform
import statistics
import time
import traceback
from typing import Any, Callable, Mapping

import numpy as np

from benchmarks import training
from hirenet_jax.hirenet import packing

ENCODER_ANSWERS = 160  # N answers (a batch of 32 interviews of 5 answers).
ENCODER_MAX_LENGTH = 95  # T: the paper's mean answer length in words.
ENCODER_INPUT = 200  # D: word vector size.
ENCODER_HIDDEN = 50  # H per direction.
LENGTH_MEDIAN = 50.0  # Median answer length of the encoder benchmark.
LENGTH_SIGMA = 0.3  # Lognormal spread of the synthetic corpus (data_prep/hirenet/synthetic.py).
MIN_LENGTH = 12  # The synthetic corpus's shortest answer.

# Issue [perf] targets: ours / torch valid steps per second.
TARGET_VS_PACKED = 2.5
TARGET_VS_PADDED = 1.2
TARGET_END_TO_END = 2.0

# Encoder implementations, in table order.
ENCODER_VARIANTS = ('torch_padded', 'torch_packed', 'ours_padded', 'ours_packed')
# (ours, torch, target) of each ratio line: the issue sets targets for like against
# like (padded against padded, packed against packed); the other two are for reading.
ENCODER_RATIOS = (('ours_padded', 'torch_padded', TARGET_VS_PADDED),
                  ('ours_packed', 'torch_packed', TARGET_VS_PACKED),
                  ('ours_padded', 'torch_packed', None),
                  ('ours_packed', 'torch_padded', None))


def encoder_lengths(num_answers: int = ENCODER_ANSWERS,
                    max_length: int = ENCODER_MAX_LENGTH, *, median: float = LENGTH_MEDIAN,
                    seed: int = 0) -> np.ndarray:
  """<int64>[N] answer lengths: lognormal (sigma 0.3), clipped, the longest = max_length."""
  rng = np.random.default_rng(seed)
  lengths = np.rint(median * np.exp(LENGTH_SIGMA * rng.standard_normal(num_answers)))
  lengths = np.clip(lengths, min(MIN_LENGTH, max_length), max_length).astype(np.int64)
  lengths[np.argmax(lengths)] = max_length
  return lengths


def _timed(fn: Callable[[], Any]) -> Callable[[], float]:
  """`fn` as a function returning its wall seconds."""
  def timed():
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
  return timed


def _interleaved_times(fns: Mapping[str, Callable[[], float]], *, repeats: int,
                       warmup: int = 1) -> dict[str, list[float]]:
  """`repeats` timings of each function (each returns its own wall seconds), the
  functions taking turns."""
  for _ in range(warmup):
    for fn in fns.values():
      fn()
  times = {name: [] for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      times[name].append(fn())
  return times


class TorchWorker:
  """torch in a child process (spawned: a fresh interpreter, glibc's default allocator).

  `call(method, *args)` runs one of the `_WORKER_METHODS` there and returns its result;
  timings are taken inside the child, so the pipe's latency is not counted. A context
  manager: the child exits on `close`.
  """

  def __init__(self):
    ctx = multiprocessing.get_context('spawn')
    self._conn, child_conn = ctx.Pipe()
    self._process = ctx.Process(target=_torch_worker_main, args=(child_conn,), daemon=True,
                                name='torch-benchmark-worker')
    self._process.start()
    child_conn.close()

  def call(self, method: str, *args: Any) -> Any:
    self._conn.send((method, args))
    try:
      status, value = self._conn.recv()
    except EOFError as e:
      raise RuntimeError(f'the torch worker died (exit code {self._process.exitcode}) '
                         f'during {method}') from e
    if status != 'ok':
      raise RuntimeError(f'torch worker, {method}: {value}')
    return value

  def close(self) -> None:
    if self._process.is_alive():
      self._conn.send(None)
      self._process.join(timeout=30)
    if self._process.is_alive():
      self._process.kill()
    self._conn.close()

  def __enter__(self) -> 'TorchWorker':
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()


def _with_torch_worker(benchmark: Callable[..., Any]) -> Callable[..., Any]:
  """Lets `benchmark(..., worker=None)` start (and close) a TorchWorker of its own."""
  @functools.wraps(benchmark)
  def wrapper(*args, worker: TorchWorker | None = None, **kwargs):
    if worker is not None:
      return benchmark(*args, worker=worker, **kwargs)
    with TorchWorker() as own_worker:
      return benchmark(*args, worker=own_worker, **kwargs)
  return wrapper


def _worker_info(state: dict[str, Any]) -> dict[str, Any]:
  import torch
  del state
  return {'torch': torch.__version__, 'torch_threads': torch.get_num_threads()}


def _worker_setup_encoder(state, x_NxTxD, lengths_N, params, hidden_size):
  import torch

  from benchmarks import torch_hirenet
  gru = torch.nn.GRU(x_NxTxD.shape[-1], hidden_size, bidirectional=True, batch_first=True)
  torch_hirenet.load_masked_gru(gru, params)
  x, lengths = torch.from_numpy(x_NxTxD), torch.from_numpy(lengths_N)
  state['torch_padded'] = _timed(lambda: torch_hirenet.encoder_step(gru, x, lengths, False))
  state['torch_packed'] = _timed(lambda: torch_hirenet.encoder_step(gru, x, lengths, True))


def _worker_setup_training(state, config, vocab_size, table, batches):
  from benchmarks import torch_hirenet
  step = _torch_train_step(config, vocab_size, table)
  torch_batches = [torch_hirenet.padded_batch(b) for b in batches]
  state['train'] = [_timed(lambda b=b: step(b)) for b in torch_batches]


def _worker_time(state, name, index=None):
  fn = state[name] if index is None else state[name][index]
  return fn()


_WORKER_METHODS = {'info': _worker_info, 'setup_encoder': _worker_setup_encoder,
                   'setup_training': _worker_setup_training, 'time': _worker_time}


def _torch_worker_main(conn) -> None:
  """The child's loop: (method, args) in, ('ok', result) or ('error', text) out."""
  import torch
  torch.set_num_threads(os.cpu_count() or 1)
  state: dict[str, Any] = {}
  while True:
    message = conn.recv()
    if message is None:
      return
    method, args = message
    try:
      conn.send(('ok', _WORKER_METHODS[method](state, *args)))
    except Exception as e:  # pylint: disable=broad-except
      conn.send(('error', f'{type(e).__name__}: {e}\n{traceback.format_exc()}'))


@_with_torch_worker
def encoder_benchmark(*, num_steps: int = 10, num_answers: int = ENCODER_ANSWERS,
                      max_length: int = ENCODER_MAX_LENGTH, input_size: int = ENCODER_INPUT,
                      hidden_size: int = ENCODER_HIDDEN,
                      median_length: float = LENGTH_MEDIAN,
                      width_factor: float = packing.DEFAULT_WIDTH_FACTOR,
                      unroll: int = 1, seed: int = 0,
                      worker: TorchWorker | None = None) -> dict[str, Any]:
  """Times the four encoder implementations (module docstring, item 1).

  `worker` runs the torch side (a new one is started and closed if None).

  Returns the shapes, the length statistics and per implementation the median pass
  time and valid steps per second, and the ours / torch ratios.
  """
  import jax
  import jax.numpy as jnp

  from hirenet_jax.core import gru as gru_lib

  lengths_N = encoder_lengths(num_answers, max_length, median=median_length, seed=seed)
  rng = np.random.default_rng(seed + 1)
  x_NxTxD = rng.standard_normal((num_answers, max_length, input_size)).astype(np.float32)
  x_NxTxD *= (np.arange(max_length) < lengths_N[:, None])[..., None]
  width = packing.row_width(lengths_N.max(), lengths_N.mean(), width_factor)
  packed = packing.pack_padded({'answers': x_NxTxD[None], 'answer_lengths': lengths_N[None]},
                               width=width, row_multiple=8)
  x_RxWxD, segments_RxW = packed['answers'], packed['answer_segments']

  model = gru_lib.MaskedGRU(hidden_size, unroll=unroll)
  mask_NxT = gru_lib.lengths_to_mask(jnp.asarray(lengths_N), max_length)
  params = model.init(jax.random.PRNGKey(seed), jnp.asarray(x_NxTxD), mask_NxT)['params']

  def loss(params, x, mask, segments):
    return model.apply({'params': params}, x, mask, segments)[0].sum()

  # Gradients w.r.t. the parameters, as in training: the encoder's inputs are frozen
  # word vectors or extracted features, so neither side computes input gradients.
  grad_fn = jax.jit(jax.value_and_grad(loss))
  padded_args = (params, jnp.asarray(x_NxTxD), mask_NxT, None)
  segments = jnp.asarray(segments_RxW)
  packed_args = (params, jnp.asarray(x_RxWxD), segments >= 0, segments)

  worker.call('setup_encoder', x_NxTxD, lengths_N, jax.device_get(params), hidden_size)

  fns = {
      'torch_padded': lambda: worker.call('time', 'torch_padded'),
      'torch_packed': lambda: worker.call('time', 'torch_packed'),
      'ours_padded': _timed(lambda: jax.block_until_ready(grad_fn(*padded_args))),
      'ours_packed': _timed(lambda: jax.block_until_ready(grad_fn(*packed_args))),
  }
  times = _interleaved_times(fns, repeats=num_steps)
  valid_steps = int(lengths_N.sum())
  variants = {}
  for name in ENCODER_VARIANTS:
    median_s = statistics.median(times[name])
    variants[name] = {'median_s': median_s, 'min_s': min(times[name]),
                      'valid_steps_per_s': valid_steps / median_s}
  steps_per_s = lambda name: variants[name]['valid_steps_per_s']
  return {
      'padded_shape': [num_answers, max_length, input_size],
      'packed_shape': list(x_RxWxD.shape),
      'hidden_size': hidden_size, 'unroll': unroll, 'num_timed_steps': num_steps,
      'valid_steps': valid_steps,
      'lengths': {'mean': float(lengths_N.mean()), 'min': int(lengths_N.min()),
                  'max': int(lengths_N.max()),
                  'distribution': f'lognormal(median {median_length:g}, sigma '
                                  f'{LENGTH_SIGMA}) clipped to [{MIN_LENGTH}, {max_length}]'},
      'padded_efficiency': valid_steps / (num_answers * max_length),
      'packed_efficiency': valid_steps / (x_RxWxD.shape[0] * x_RxWxD.shape[1]),
      'variants': variants,
      'ratios': [{'ours': ours, 'torch': theirs, 'target': target,
                  'ratio': steps_per_s(ours) / steps_per_s(theirs)}
                 for ours, theirs, target in ENCODER_RATIOS],
  }


def _torch_train_step(config, vocab_size: int, table: np.ndarray | None):
  """A TorchHireNet train step: the sizes of `config.model`, the dataset's word vectors
  `table` (None: no pretrained vectors)."""
  import torch

  from benchmarks import torch_hirenet
  torch.manual_seed(config.seed)
  m = config.model
  model = torch_hirenet.TorchHireNet(
      int(vocab_size), embedding_dim=m.embedding_dim, hidden_size=m.hidden_size,
      context_size=m.context_size, attention_size=m.attention_size,
      dropout_rate=m.dropout_rate)
  if config.pretrained_embeddings and table is not None:
    with torch.no_grad():
      model.embed.weight.copy_(torch.from_numpy(np.asarray(table, np.float32)))
  model.embed.weight.requires_grad_(bool(m.train_embeddings))
  model.train()
  return torch_hirenet.make_train_step(
      model, learning_rate=config.learning_rate, b1=config.adam_b1, b2=config.adam_b2,
      eps=config.adam_eps, clip=config.grad_clip_norm)


@_with_torch_worker
def end_to_end_benchmark(config, *, prepared_cache_dir: str, batch_size: int = 32,
                         num_batches: int = 20,
                         worker: TorchWorker | None = None) -> dict[str, Any]:
  """Times HireNet text training, ours and torch on the same batches (item 2).

  Args:
    config: a training config (text modality, `hirenet` variant); not modified.
    prepared_cache_dir: where the default corpus's prepared dataset is cached.
    batch_size: interviews per batch (global).
    num_batches: timed window, the first batches of the shuffled epoch 0.
    worker: runs the torch side (a new one is started and closed if None).

  Raises:
    ValueError: the config is not text / hirenet (the torch reference is that model).
  """
  import jax

  from data_prep.hirenet import datasets
  from hirenet_jax.core import sharding
  from hirenet_jax.hirenet import dataset_spec
  from hirenet_jax.hirenet import input_pipeline
  from hirenet_jax.hirenet import steps as steps_lib

  if not dataset_spec.modality(config.modality).words or config.model.variant != 'hirenet':
    raise ValueError('the torch comparison needs --modality=text --variant=hirenet, got '
                     f'{config.modality} / {config.model.variant}')
  config = copy.deepcopy(config)
  config.batch_size = batch_size
  data_dir = datasets.prepare(config, prepared_cache_dir)
  data = input_pipeline.PreparedDataset.from_config(config, data_dir)
  batches = []
  for batch in data.batches('train', batch_size=batch_size, epoch=0, shuffle=True):
    batches.append(batch)
    if len(batches) == num_batches:
      break

  mesh = sharding.make_mesh()
  sharding.check_batch_size(batch_size, mesh)
  model = steps_lib.make_model(config, data.meta)
  state = steps_lib.create_train_state(config, model, batches[0], total_steps=len(batches),
                                       embeddings=data.embeddings(), mesh=mesh)
  steps = steps_lib.make_steps(mesh, config.matmul_precision)
  rng = sharding.replicate(np.asarray(jax.random.PRNGKey(config.seed)), mesh)
  ours_batches = [sharding.shard_batch(b, mesh) for b in batches]
  table = data.embeddings()
  worker.call('setup_training', config, int(data.meta['vocab_size']),
              None if table is None else np.asarray(table, np.float32),
              [{k: np.asarray(v) for k, v in b.items()} for b in batches])

  compile_s = {}
  for batch, global_batch in zip(batches, ours_batches):
    shape = tuple(batch['answers'].shape)
    if shape not in compile_s:
      start = time.perf_counter()
      state, metrics = steps.train(state, global_batch, rng)
      jax.block_until_ready((state, metrics))
      compile_s[shape] = time.perf_counter() - start
      # Host batches, as the pipeline hands them to the step, are another jit cache
      # entry than arrays already on the devices: compile that too (not counted).
      state, metrics = steps.train(state, sharding.step_input(batch, mesh), rng)
      jax.block_until_ready((state, metrics))
  worker.call('time', 'train', 0)  # Warm-up (allocator, thread pool).

  ours_s, torch_s = [], []
  for i, global_batch in enumerate(ours_batches):
    start = time.perf_counter()
    state, metrics = steps.train(state, global_batch, rng)
    jax.block_until_ready((state, metrics))
    ours_s.append(time.perf_counter() - start)
    torch_s.append(worker.call('time', 'train', i))

  pipeline_s = []  # Whole passes over the window, loading included.
  for _ in range(3):
    start = time.perf_counter()
    fed = data.batches('train', batch_size=batch_size, epoch=0, shuffle=True)
    for i, batch in enumerate(itertools.islice(fed, len(batches))):
      training.check_replayed(batch, batches[i], i)
      state, metrics = steps.train(state, sharding.step_input(batch, mesh), rng)
      jax.block_until_ready((state, metrics))
    pipeline_s.append(time.perf_counter() - start)

  words = int(sum(int(b['answer_lengths'].sum()) for b in batches))
  interviews = float(sum(float(b['weight'].sum()) for b in batches))
  out = {'batch_size': batch_size, 'num_batches': len(batches), 'valid_words': words,
         'interviews': interviews,
         'packed_shapes': sorted({tuple(b['answers'].shape) for b in batches}),
         'compile_s': sum(compile_s.values())}
  for name, times in (('ours', ours_s), ('torch', torch_s)):
    total = sum(times)
    out[name] = {'total_s': total, 'median_step_s': statistics.median(times),
                 'words_per_s': words / total, 'interviews_per_s': interviews / total}
  total = statistics.median(pipeline_s)
  out['ours_pipeline'] = {'total_s': total, 'mean_step_s': total / len(batches),
                          'words_per_s': words / total, 'interviews_per_s': interviews / total,
                          'passes_s': pipeline_s}
  out['ratio'] = out['ours']['words_per_s'] / out['torch']['words_per_s']
  out['pipeline_ratio'] = out['ours_pipeline']['words_per_s'] / out['torch']['words_per_s']
  out['target'] = TARGET_END_TO_END
  return out


def run(config, *, num_steps: int = 10, prepared_cache_dir: str,
        num_batches: int = 20, batch_size: int = 32) -> dict[str, Any]:
  """Both comparisons, ours here and torch in a `TorchWorker` (module docstring);
  returns the measurements.

  Args:
    config: the training config (text / hirenet); its `model.unroll` is also used by
      the encoder benchmark.
    num_steps: timed passes of each encoder implementation (medians are reported).
    prepared_cache_dir: where the default corpus's prepared dataset is cached.
    num_batches: batches in the end-to-end window (torch's step is the slow side:
      20 keeps the whole run to 2-3 minutes on 2 CPU cores).
    batch_size: interviews per end-to-end batch.

  Raises:
    ImportError: torch is not installed.
    ValueError: the config is not text / hirenet.
  """
  import importlib.util

  import jax

  from hirenet_jax.core import host_memory
  if importlib.util.find_spec('torch') is None:
    raise ImportError('the torch comparison needs torch: pip install torch==2.13.0')
  with TorchWorker() as worker:
    machine = {
        'processor': platform.processor() or platform.machine(),
        'cpu_count': os.cpu_count(), **worker.call('info'), 'jax': jax.__version__,
        'jax_device': jax.devices()[0].device_kind, 'jax_devices': jax.device_count(),
        'host_allocator': host_memory.describe(),
    }
    start = time.perf_counter()
    encoder = encoder_benchmark(num_steps=num_steps, unroll=config.model.get('unroll', 1),
                                seed=config.seed, worker=worker)
    encoder['wall_s'] = time.perf_counter() - start
    start = time.perf_counter()
    end_to_end = end_to_end_benchmark(config, prepared_cache_dir=prepared_cache_dir,
                                      batch_size=batch_size, num_batches=num_batches,
                                      worker=worker)
    end_to_end['wall_s'] = time.perf_counter() - start
  return {'machine': machine, 'encoder': encoder, 'end_to_end': end_to_end}


def _table(rows: list[tuple[str, ...]]) -> list[str]:
  widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
  return ['  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]


def format_table(results: Mapping[str, Any]) -> str:
  """The results of `run` as text tables (ratios are ours / torch, higher is better)."""
  m, enc, e2e = results['machine'], results['encoder'], results['end_to_end']
  labels = {'torch_padded': 'torch nn.GRU, padded',
            'torch_packed': 'torch nn.GRU, pack_padded_sequence',
            'ours_padded': 'ours MaskedGRU, padded + mask',
            'ours_packed': 'ours MaskedGRU, packed rows'}
  lengths = enc['lengths']
  lines = [
      f'machine: {m["processor"]}, {m["cpu_count"]} CPUs; torch {m["torch"]} '
      f'({m["torch_threads"]} threads), jax {m["jax"]} ({m["jax_device"]} x '
      f'{m["jax_devices"]}); host allocator: ours {m.get("host_allocator", "?")}, torch '
      'C library defaults (its own process)',
      '',
      'Encoder: bidirectional GRU forward + backward, '
      f'{"x".join(map(str, enc["padded_shape"]))} padded '
      f'({enc["padded_efficiency"]:.0%} valid), packed rows '
      f'{"x".join(map(str, enc["packed_shape"]))} ({enc["packed_efficiency"]:.0%} valid), '
      f'H={enc["hidden_size"]}; lengths {lengths["distribution"]}: mean '
      f'{lengths["mean"]:.1f}, {lengths["min"]}-{lengths["max"]}; median of '
      f'{enc["num_timed_steps"]} passes',
  ]
  rows = [('implementation', 'ms / pass', 'valid steps / s')]
  for name in ENCODER_VARIANTS:
    v = enc['variants'][name]
    rows.append((labels[name], f'{1000 * v["median_s"]:.1f}',
                 f'{v["valid_steps_per_s"]:,.0f}'))
  lines += _table(rows)
  lines.append('')
  rows = [('ratio (valid steps / s)', 'ours / torch', 'target', 'met')]
  for r in enc['ratios']:
    if r['target'] is None:
      target, met = '-', '-'
    else:
      target, met = f'>= {r["target"]:g}x', 'yes' if r['ratio'] >= r['target'] else 'no'
    rows.append((f'{r["ours"]} / {r["torch"]}', f'{r["ratio"]:.2f}x', target, met))
  lines += _table(rows)
  lines += [
      '',
      f'End to end: HireNet text training, batch {e2e["batch_size"]}, '
      f'{e2e["num_batches"]} real batches (packed '
      f'{", ".join("x".join(map(str, s)) for s in e2e["packed_shapes"])}; '
      f'{e2e["interviews"]:.0f} interviews, {e2e["valid_words"]:,} words; packing closes '
      f'a batch when its rows are full), compile {e2e["compile_s"]:.1f} s not timed',
  ]
  rows = [('implementation', 'ms / step', 'words / s', 'interviews / s')]
  for name, label in (('torch', 'torch TorchHireNet (packed sequences)'),
                      ('ours', 'ours HireNet (packed rows)'),
                      ('ours_pipeline', 'ours, fed by the input pipeline (mean)')):
    v = e2e[name]
    step_s = v['mean_step_s'] if name == 'ours_pipeline' else v['median_step_s']
    rows.append((label, f'{1000 * step_s:.0f}', f'{v["words_per_s"]:,.0f}',
                 f'{v["interviews_per_s"]:.1f}'))
  lines += _table(rows)
  met = lambda ratio: 'yes' if ratio >= e2e['target'] else 'no'
  lines.append(f'ours / torch: {e2e["ratio"]:.2f}x (target >= {e2e["target"]:g}x: '
               f'{met(e2e["ratio"])}); fed by the input pipeline, against torch without '
               f'its loading: {e2e["pipeline_ratio"]:.2f}x ({met(e2e["pipeline_ratio"])})')
  return '\n'.join(lines)
