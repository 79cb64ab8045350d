"""Data parallelism: the same run on 1 and on 8 (fake CPU) devices gives the same losses,
parameters and metrics (the loss is normalised by the global batch weight)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from hirenet_jax.hirenet import train_lib
from helpers import load_final_params, run_cli, tiny_config, tiny_flags
from helpers import train_losses

OVERRIDES = {'num_epochs': 2, 'log_every_steps': 1, 'model.dropout_rate': 0.3}


def _run(num_devices, data_dir, workdir):
  if num_devices == 1 and jax.device_count() == 1:
    return train_lib.train_and_evaluate(tiny_config(data_dir, **OVERRIDES), workdir)
  run_cli('experiments.train', f'--data_dir={data_dir}', f'--workdir={workdir}',
          *tiny_flags(**OVERRIDES),
          num_devices=num_devices)
  import json, os
  with open(os.path.join(workdir, 'results.json')) as f:
    return json.load(f)


def test_one_and_eight_devices_give_the_same_run(tiny, tmp_path):
  _, data_dir = tiny
  one = _run(1, data_dir, str(tmp_path / 'one'))
  eight = _run(8, data_dir, str(tmp_path / 'eight'))
  assert one['num_devices'] == 1 and eight['num_devices'] == 8
  np.testing.assert_allclose(train_losses(str(tmp_path / 'one')),
                             train_losses(str(tmp_path / 'eight')), rtol=1e-5, atol=1e-6)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4),
               load_final_params(str(tmp_path / 'one')),
               load_final_params(str(tmp_path / 'eight')))
  for split in ('validation', 'test'):
    assert eight[split]['f1'] == pytest.approx(one[split]['f1'], abs=1e-6)
    assert eight[split]['loss'] == pytest.approx(one[split]['loss'], rel=1e-4)


def test_batch_not_divisible_by_the_devices_is_one_clear_line(tiny, tmp_path):
  _, data_dir = tiny
  proc = run_cli('experiments.train', f'--data_dir={data_dir}', f'--workdir={tmp_path}',
                 *tiny_flags(batch_size=12), num_devices=8, check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1].startswith('error: batch_size 12 is not '
                                                          'divisible by the 8 devices')
