"""Host allocator setting that keeps XLA:CPU from page-faulting its buffers every step.

XLA:CPU allocates a program's temporary buffers at each execution with `malloc`. glibc
serves blocks above its mmap threshold with a fresh `mmap` and unmaps them when freed, so
every step faults in and zeroes its whole working set again (a third of a text encoder
pass on 2 cores; docs/performance.md).

`keep_freed_memory()` asks glibc to serve every block from its heap (`M_MMAP_MAX = 0`),
to keep freed memory instead of trimming it (`M_TRIM_THRESHOLD = -1`: any finite
threshold below a step's working set brings the faults back), and to give every thread
the one main heap (`M_ARENA_MAX = 1`: per-thread heaps are unmapped as soon as they are
empty, so their large buffers would fault all the same). After a few steps have grown the
heap, each step reuses already mapped pages (tests/test_host_memory.py).

The cost is memory: the resident size stays at its peak and the heap keeps its fragments
(paper-length audio needs more RSS). One arena makes threads that allocate at the same
time take turns, which suits XLA (a few large blocks per step) but not a framework whose
threads allocate many small blocks (benchmarks/compare_torch.py runs torch in its own
process for that reason).

The entry points apply it at start-up (`experiments/common.setup_jax`); set the
environment variable `HIRENET_SYSTEM_MALLOC=1` to keep glibc's defaults. It does nothing
on systems without glibc (macOS, musl): `keep_freed_memory` then returns False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

OPT_OUT_ENV = 'HIRENET_SYSTEM_MALLOC'

# <malloc.h> mallopt parameters.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8


def _glibc():
  """The process's glibc, or None (another C library or OS)."""
  if platform.system() != 'Linux':
    return None
  try:
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
  except OSError:
    return None
  if not hasattr(libc, 'gnu_get_libc_version') or not hasattr(libc, 'mallopt'):
    return None
  return libc


def keep_freed_memory(trim_threshold_bytes: int | None = None) -> bool:
  """Makes glibc malloc reuse freed memory instead of unmapping it (module docstring).

  Args:
    trim_threshold_bytes: freed memory kept at the heap's top before glibc returns it to
      the system; None (default) never returns it.

  Affects the allocations made after the call, process-wide (torch, numpy and XLA alike),
  and the threads that make their first allocation after it (call it before JAX starts).

  Returns:
    True if all three settings were applied; False without glibc, or if glibc refused.
  """
  if trim_threshold_bytes is not None and trim_threshold_bytes < 0:
    raise ValueError(f'trim_threshold_bytes must be >= 0, got {trim_threshold_bytes}')
  libc = _glibc()
  if libc is None:
    return False
  libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
  libc.mallopt.restype = ctypes.c_int
  # mallopt takes an int; -1 (read as the largest size_t) disables trimming.
  trim = -1 if trim_threshold_bytes is None else min(int(trim_threshold_bytes), 2**31 - 1)
  ok = all(libc.mallopt(param, value) == 1 for param, value in (
      (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, trim), (_M_ARENA_MAX, 1)))
  if ok:
    global _applied_trim_threshold
    _applied_trim_threshold = trim
  return ok


_applied_trim_threshold: int | None = None


def describe() -> str:
  """This process's setting, for benchmark reports."""
  if _applied_trim_threshold is None:
    return 'C library defaults'
  trim = ('-1, never' if _applied_trim_threshold < 0 else
          f'{_applied_trim_threshold / 2**20:g} MiB')
  return f'glibc keeps freed memory (M_MMAP_MAX=0, M_TRIM_THRESHOLD={trim}, M_ARENA_MAX=1)'


def opted_out() -> bool:
  """Whether the environment asks for glibc's default allocator settings."""
  return os.environ.get(OPT_OUT_ENV, '').strip().lower() not in ('', '0', 'false', 'no')
