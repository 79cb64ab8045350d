"""benchmarks.training (experiments.benchmark) on tiny shapes: its figures are consistent
with what it ran."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import training as benchmark
from hirenet_jax.hirenet import input_pipeline
from helpers import tiny_config


def test_synthetic_batch_is_packed_like_the_pipeline():
  batch = benchmark.synthetic_batch('audio', 4, 3, 100, time_steps=40, width_factor=2.0)
  lengths = batch['answer_lengths']
  assert lengths.shape == (4, 3) and (lengths >= 28).all() and (lengths <= 40).all()
  r, w, d = batch['answers'].shape
  assert d == 25 and r % 8 == 0 and w >= 40 and w % 8 == 0
  assert (batch['answer_segments'] >= 0).sum() == lengths.sum()
  assert not batch['answers'][batch['answer_segments'] < 0].any()


def test_run_and_pipeline_report_what_they_measured(tiny, tmp_path):
  _, data_dir = tiny
  config = tiny_config(data_dir)
  r = benchmark.run(config, num_steps=2, questions=3, vocab_size=50, time_steps=16)
  assert r['time_steps'] == 16 and r['batch_size'] == config.batch_size
  assert 0 < r['batch_padding_efficiency'] <= 1
  assert r['valid_steps_per_s'] == pytest.approx(
      r['batch_padding_efficiency'] * np.prod(r['batch_shape']) / r['train_step_s'])
  assert r['program_memory_mb'] > 0
  p = benchmark.pipeline(config, str(tmp_path), max_batches=0)
  data = input_pipeline.PreparedDataset.from_config(config, data_dir)
  assert p['pipeline_batches'] == p['pipeline_epoch_batches'] == data.num_batches(
      'train', batch_size=config.batch_size, shuffle=True)
  # One compiled program per bucket shape at most.
  assert 1 <= p['compiled_train_programs'] <= p['num_buckets']
  assert p['padding_efficiency'] == pytest.approx(data.padding_efficiency(
      'train', batch_size=config.batch_size, shuffle=True))
  assert p['loading_ratio'] == pytest.approx(
      p['real_loading_steps_per_s'] / p['cached_steps_per_s'])
  assert 0 < p['mean_interviews_per_batch'] <= config.batch_size
  low, median, high = p['chunk_ratio_quartiles']
  assert 0 < low <= median <= high
  assert 1 <= p['load_window'] <= 8
  assert 'batches loaded per grain element' in benchmark.format_pipeline(p)
