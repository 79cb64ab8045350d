"""Settings that tests/conftest.py gives the whole suite and the commands it runs."""

from __future__ import annotations

import os
import subprocess
import sys

import jax.numpy as jnp
import pytest


def test_implicit_rank_promotion_raises():
  with pytest.raises(ValueError, match='rank_promotion'):
    _ = jnp.ones(3) + jnp.ones((2, 3))
  assert (jnp.ones(3)[None] + jnp.ones((2, 3))).shape == (2, 3)  # Written out: fine.


def test_commands_run_by_tests_raise_too():
  code = ('import jax.numpy as jnp\n'
          'try:\n  jnp.ones(3) + jnp.ones((2, 3))\nexcept ValueError:\n  print("raised")\n')
  out = subprocess.run([sys.executable, '-c', code], env=dict(os.environ, JAX_PLATFORMS='cpu'),
                       capture_output=True, text=True, check=True, timeout=120).stdout
  assert out.strip() == 'raised'
