"""Training progress: terminal lines, a JSONL metrics log, TensorBoard event files, and
the atomic file writers (JSON, JSONL, bytes) that the library and data_prep share.

The library never prints: the terminal progress goes through absl logging. TensorBoard
files are written with tensorboardX, which needs no TensorFlow. Only process 0 writes.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Callable, Iterable, Mapping

from absl import logging

METRICS_FILE = 'metrics.jsonl'
TENSORBOARD_DIR = 'tensorboard'


def write_bytes(path: str, data: bytes) -> None:
  """Writes `data` to `path` atomically: a reader (or a killed run) never sees half a
  file. The temporary name carries the process id, so concurrent writers never share one."""
  tmp = f'{path}.tmp{os.getpid()}'
  with open(tmp, 'wb') as f:
    f.write(data)
  os.replace(tmp, path)


def write_json(path: str, obj: Any, *, indent: int | None = 2, sort_keys: bool = True,
               ensure_ascii: bool = True, end: str = '') -> None:
  """Writes `obj` as UTF-8 JSON to `path` atomically (`end` follows the document).

  The format is a parameter so that each file keeps the bytes it has always had (a
  prepared dataset's meta.json, a corpus's info.json), whoever writes it.
  """
  text = json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
  write_bytes(path, (text + end).encode('utf-8'))


def write_jsonl(path: str, records: Iterable[Any]) -> None:
  """Writes one JSON document a line (non-ASCII kept) to `path` atomically."""
  text = ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records)
  write_bytes(path, text.encode('utf-8'))


def read_or_run(path: str, run: Callable[[], Any]) -> Any:
  """The JSON a finished run wrote to `path`, else `run()` (which writes it): a grid
  restarted after a kill reads back the runs it finished and runs only the others."""
  if os.path.isfile(path):
    logging.info('%s: done already', path)
    with open(path, encoding='utf-8') as f:
      return json.load(f)
  logging.info('%s: not written yet, running', path)
  return run()


def _to_float(value: Any) -> float | None:
  value = float(value)
  return value if math.isfinite(value) else None


class MetricWriter:
  """Appends `{"step", "split", **scalars}` lines to metrics.jsonl and to TensorBoard."""

  def __init__(self, workdir: str, *, enabled: bool = True, tensorboard: bool = True):
    self._enabled = enabled
    self._jsonl = None
    self._tb = None
    if not enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    self._jsonl = open(os.path.join(workdir, METRICS_FILE), 'a')
    if tensorboard:
      from tensorboardX import SummaryWriter  # Imported lazily: slow import.
      self._tb = SummaryWriter(os.path.join(workdir, TENSORBOARD_DIR))

  def write_scalars(self, step: int, split: str, scalars: Mapping[str, Any]) -> None:
    if not self._enabled:
      return
    clean = {k: _to_float(v) for k, v in scalars.items()}
    self._jsonl.write(json.dumps({'step': int(step), 'split': split, **clean}) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      for key, value in clean.items():
        if value is not None:
          self._tb.add_scalar(f'{split}/{key}', value, int(step))
      self._tb.flush()

  def close(self) -> None:
    if self._jsonl is not None:
      self._jsonl.close()
    if self._tb is not None:
      self._tb.close()


class ProgressReporter:
  """Logs steps/s, examples/s, ETA and the current metrics every reported interval."""

  def __init__(self, total_steps: int, *, first_step: int = 0, log_fn=logging.info,
               detail_fn=None):
    self.total_steps = int(total_steps)
    self._log = log_fn
    # Per-step lines are details shown with --verbosity=1; epoch lines (log()) always show.
    self._detail = detail_fn or (lambda msg, *args: logging.vlog(1, msg, *args))
    self._last_step = int(first_step)
    self._last_time = time.perf_counter()
    self._examples = 0.0

  def add_examples(self, num_examples: float) -> None:
    self._examples += num_examples

  def report(self, step: int, metrics: Mapping[str, Any], *, epoch: int | None = None
             ) -> dict[str, float]:
    """Logs one progress line; returns the throughput figures it logged."""
    now = time.perf_counter()
    elapsed = max(now - self._last_time, 1e-9)
    steps_per_s = (step - self._last_step) / elapsed
    examples_per_s = self._examples / elapsed
    remaining = max(self.total_steps - step, 0)
    eta_s = remaining / steps_per_s if steps_per_s > 0 else float('inf')
    shown = ' '.join(f'{k}={float(v):.4f}' for k, v in metrics.items())
    where = f'epoch {epoch} ' if epoch is not None else ''
    self._detail('%sstep %d/%d | %.2f steps/s %.1f examples/s ETA %s | %s', where, step,
                 self.total_steps, steps_per_s, examples_per_s, format_seconds(eta_s), shown)
    self._last_step, self._last_time, self._examples = step, now, 0.0
    return {'steps_per_s': steps_per_s, 'examples_per_s': examples_per_s}

  def log(self, message: str, *args) -> None:
    self._log(message, *args)


def format_seconds(seconds: float) -> str:
  """`1h02m03s`, `4m05s`, `6s`, or `?` when unknown."""
  if not math.isfinite(seconds):
    return '?'
  seconds = int(round(seconds))
  h, rest = divmod(seconds, 3600)
  m, s = divmod(rest, 60)
  if h:
    return f'{h}h{m:02d}m{s:02d}s'
  return f'{m}m{s:02d}s' if m else f'{s}s'


# Loggers of dependencies that chatter at INFO/WARNING on every run: gensim's word2vec
# epochs, jax's backend probe ("Unable to initialize backend 'tpu'"), TFDS, grain, orbax.
NOISY_LOGGERS = ('gensim', 'jax._src.xla_bridge', 'tensorflow_datasets', 'grain', 'orbax',
                 'etils', 'absl.testing')
# Dependencies that log through absl's own logger are recognised by their source path.
_NOISY_PATHS = ('/orbax/', '/tensorflow_datasets/', '/grain/', '/etils/', '/jax/_src/',
                '/gensim/')


class _ThirdPartyFilter:
  """Drops records of chatty dependencies below `min_level` (errors always pass)."""

  def __init__(self, min_level: int):
    self.min_level = min_level

  def filter(self, record) -> bool:
    if record.levelno >= self.min_level:
      return True
    if any(record.name == n or record.name.startswith(n + '.') for n in NOISY_LOGGERS):
      return False
    return not any(part in (record.pathname or '') for part in _NOISY_PATHS)


def _installed_filters():
  """The root handlers and absl's logger: every place a record of a dependency passes."""
  import logging as py_logging  # pylint: disable=g-import-not-at-top
  targets = list(py_logging.getLogger().handlers)
  targets.append(logging.get_absl_handler())
  targets.append(logging.get_absl_logger())
  return targets


def _remove_filters() -> None:
  for target in _installed_filters():
    for f in list(target.filters):
      if isinstance(f, _ThirdPartyFilter):
        target.removeFilter(f)


_configured = False


def configure_terminal(verbosity: int) -> None:
  """Sets what a command prints, from absl's `--verbosity` flag.

  0 (default): our own lines (what is being prepared, one line per epoch, results),
  tqdm progress bars, and errors; INFO and WARNING records of dependencies (gensim,
  TFDS, grain, orbax, jax's backend probe) are dropped. 1 or more: everything, including
  our per-step throughput lines (absl's DEBUG level). Call it right after flag parsing,
  before jax is imported where possible (the environment variable set here is read by
  XLA's C++ logging when jax loads).
  """
  import logging as py_logging  # pylint: disable=g-import-not-at-top
  global _configured
  _configured = True
  _remove_filters()
  if verbosity >= 1:
    for name in NOISY_LOGGERS:
      py_logging.getLogger(name).setLevel(py_logging.NOTSET)
    return
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '1')  # XLA's C++ INFO lines.
  for name in NOISY_LOGGERS:
    py_logging.getLogger(name).setLevel(py_logging.ERROR)
  for target in _installed_filters():
    target.addFilter(_ThirdPartyFilter(py_logging.ERROR))


def quiet_third_party_logs() -> None:
  """Drops INFO records of dependencies (their warnings still show).

  Does nothing after configure_terminal, which decides from --verbosity.
  """
  import logging as py_logging  # pylint: disable=g-import-not-at-top
  if _configured:
    return
  if not any(isinstance(f, _ThirdPartyFilter) for f in logging.get_absl_logger().filters):
    logging.get_absl_logger().addFilter(_ThirdPartyFilter(py_logging.WARNING))
