"""Training progress: terminal lines, a JSONL metrics log and TensorBoard event files.

The library never prints: the terminal progress goes through absl logging. TensorBoard
files are written with tensorboardX, which needs no TensorFlow. Only process 0 writes.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any, Mapping

from absl import logging

METRICS_FILE = 'metrics.jsonl'
TENSORBOARD_DIR = 'tensorboard'


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

  def __init__(self, total_steps: int, *, first_step: int = 0, log_fn=logging.info):
    self.total_steps = int(total_steps)
    self._log = log_fn
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
    self._log('%sstep %d/%d | %.2f steps/s %.1f examples/s ETA %s | %s', where, step,
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


class _ThirdPartyInfoFilter:
  """Drops INFO records of chatty dependencies (orbax, tfds, grain)."""
  _NOISY = ('/orbax/', '/tensorflow_datasets/', '/grain/', '/etils/', '/jax/_src/')

  def filter(self, record) -> bool:
    import logging as py_logging
    if record.levelno >= py_logging.WARNING:
      return True
    return not any(part in record.pathname for part in self._NOISY)


def quiet_third_party_logs() -> None:
  """Keeps the terminal to our own progress lines (warnings of dependencies still show)."""
  logging.get_absl_logger().addFilter(_ThirdPartyInfoFilter())
