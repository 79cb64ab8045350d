"""Host allocator setting that keeps XLA:CPU from page-faulting its buffers every step.

XLA:CPU allocates a program's temporary buffers at each execution with the C library's
`malloc`. glibc serves blocks above its mmap threshold (128 KiB, adapting up to 32 MiB)
with a fresh `mmap` and gives them back with `munmap` when they are freed, so every step
touches brand-new pages: the kernel faults in and zeroes its whole working set again.
For the text encoder at batch 32 that is ~15,000 page faults (63 MB) per pass, about a
third of the pass on 2 cores (README, Performance).

`keep_freed_memory()` asks glibc to serve every block from its heap (`M_MMAP_MAX = 0`),
to keep the freed memory at the top of the heap instead of trimming it (`M_TRIM_THRESHOLD
= -1`; a finite threshold below a step's working set, 1 GiB against the 1.4 GiB of a
paper-length audio step, brings the faults back: that step took 1.04 s instead of 0.83;
the figures in this docstring were measured with the GRU of 2026-11-30 before its
layer-level backward pass),
and to give every thread the one main heap (`M_ARENA_MAX = 1`):
XLA's worker threads otherwise get per-thread heaps of at most 64 MiB, which glibc unmaps
as soon as they are empty, so their large buffers page-fault every step all the same
(without it, a sort's temporaries still faulted 16,000 pages per call).
The next step then reuses the same, already mapped pages, once the heap has grown to
cover the step's fragments: a few of the first steps still grow it (a sort's 33 MiB in 2
to 6 of its first calls; tests/test_host_memory.py). Encoder pass 43 -> 29-31 ms,
paper-shape text train step 77.6 -> 59.1 ms (README, Performance). The cost is memory: what
is freed is not handed back to the system until the process ends: the resident size stays at its peak, and a
heap that never shrinks keeps its fragments (paper-shape text step 0.89 GB either way;
paper-length audio step 2.2 -> 6.2 GB; 3.5 GB with today's GRU, which keeps fewer arrays
per step). One arena makes threads that
allocate at the same time take turns; XLA allocates a few large blocks per step, so it
gains, but a framework whose threads allocate many small blocks concurrently can lose
(torch's GRU, 63 -> 81 ms per pass when sharing such a process; benchmarks/compare_torch.py
runs torch in its own process for that reason).

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
