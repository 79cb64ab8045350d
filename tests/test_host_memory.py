"""The host allocator setting stops XLA:CPU from page-faulting its buffers every call.

Each case runs in a fresh interpreter: the setting is process-wide and must come before
JAX starts its threads.
"""

import os
import statistics
import subprocess
import sys

import pytest

from hirenet_jax.core import host_memory

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A program with ~80 MiB of temporaries (a 16 MiB input, cumsum, sort) whose output is
# small: what it page-faults per call is what its temporaries cost.
_SCRIPT = """
import resource
from hirenet_jax.core import host_memory
applied = host_memory.keep_freed_memory()
import jax, jax.numpy as jnp
f = jax.jit(lambda x: jnp.sort(jnp.cumsum(x * 2.0))[::1024])
x = jnp.ones((1 << 22,), jnp.float32)
jax.block_until_ready(f(x))
faults = []
for _ in range(24):
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  jax.block_until_ready(f(x))
  faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(applied, ','.join(map(str, faults)), host_memory.describe())
"""


def _run_kept():
  out = subprocess.run([sys.executable, '-c', _SCRIPT], cwd=_REPO, check=True,
                       capture_output=True, text=True,
                       env={**os.environ, 'JAX_PLATFORMS': 'cpu'}).stdout.split(maxsplit=2)
  return out[0] == 'True', [int(f) for f in out[1].split(',')], out[2].strip()


@pytest.mark.skipif(host_memory._glibc() is None, reason='needs glibc (Linux)')  # pylint: disable=protected-access
def test_kept_memory_is_reused_without_page_faults():
  applied, faults, described = _run_kept()
  assert applied
  assert 'M_ARENA_MAX=1' in described
  # 80 MiB of temporaries are ~20,000 pages (glibc defaults: ~25,000 faults every call);
  # reused memory faults (almost) none once the heap has grown to the working set. The
  # heap grows (by ~33 MiB, ~8,500 faults) in 2 to 6 of the first calls, as freed blocks
  # fragment (measured: 12 processes; with 6 calls in all, every call faulted in one), so
  # the steady state is judged on the last 12 of 24 calls.
  assert statistics.median(faults[12:]) < 1000, faults


def test_describe_says_defaults_when_not_applied():
  # Nothing in the test processes applies the setting (the entry points do).
  assert host_memory.describe() == 'C library defaults'


@pytest.mark.parametrize('value, expected', [('', False), ('0', False), ('false', False),
                                             ('1', True), ('yes', True)])
def test_opt_out_environment_variable(monkeypatch, value, expected):
  monkeypatch.setenv(host_memory.OPT_OUT_ENV, value)
  assert host_memory.opted_out() is expected


def test_negative_threshold_is_refused():
  with pytest.raises(ValueError, match='trim_threshold_bytes'):
    host_memory.keep_freed_memory(-1)
