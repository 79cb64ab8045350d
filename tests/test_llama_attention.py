"""The Llama attention computed row by row (and merged with a shared prefix) equals a
plain float64 softmax over all keys, and a batch sharded over devices is not gathered."""

from __future__ import annotations

import textwrap
import types

import jax.numpy as jnp
import numpy as np
import pytest

import helpers

from hirenet_jax.llm import llama

B, T, S, P, N, G, K = 4, 5, 9, 6, 2, 3, 8


def _reference(q, k, v, mask, shared=None):
  """softmax(q k / sqrt(K)) v in float64, the shared keys in front of every row's."""
  q = q.astype(np.float64).reshape(B, T, N, G, K)
  k, v = k.astype(np.float64), v.astype(np.float64)
  if shared is not None:
    k = np.concatenate([np.broadcast_to(shared[0], (B,) + shared[0].shape), k], axis=1)
    v = np.concatenate([np.broadcast_to(shared[1], (B,) + shared[1].shape), v], axis=1)
    mask = np.concatenate([np.ones((B, T, P), bool), mask], axis=2)
  logits = np.einsum('btngk,bsnk->btngs', q, k) / np.sqrt(K)
  logits = np.where(mask[:, :, None, None], logits, -1e9)
  p = np.exp(logits - logits.max(-1, keepdims=True))
  p /= p.sum(-1, keepdims=True)
  return np.einsum('btngs,bsnk->btngk', p, v).reshape(B, T, N * G * K)


@pytest.mark.parametrize('row_groups', [0, 1, 2, 3])
@pytest.mark.parametrize('with_shared', [False, True])
@pytest.mark.parametrize('loop_above', [0, 2 ** 30])
def test_attention_equals_a_plain_softmax(row_groups, with_shared, loop_above, monkeypatch):
  """Left-padded rows (one of them all padding, whose queries see no key), causal within
  the window; row_groups 0 is the whole batch at once, 3 does not divide the batch and
  falls back to one group; rows looped over (`ROW_LOOP_BYTES` 0) or batched."""
  monkeypatch.setattr(llama, 'ROW_LOOP_BYTES', loop_above)
  r = np.random.default_rng(0)
  q = r.standard_normal((B, T, N * G, K)).astype(np.float32) * 3
  k = r.standard_normal((B, S, N, K)).astype(np.float32)
  v = r.standard_normal((B, S, N, K)).astype(np.float32)
  pads = np.array([0, 3, 7, S])
  columns = S - T + np.arange(T)
  keys = np.arange(S)
  mask = (keys[None, None] <= columns[None, :, None]) & (keys[None, None] >= pads[:, None, None])
  shared = None
  if with_shared:
    shared = (r.standard_normal((P, N, K)).astype(np.float32),
              r.standard_normal((P, N, K)).astype(np.float32))
  out = llama._attention(jnp.asarray(q), jnp.asarray(k), jnp.asarray(v), jnp.asarray(mask),
                         None if shared is None else tuple(map(jnp.asarray, shared)),
                         row_groups=row_groups)
  np.testing.assert_allclose(np.asarray(out), _reference(q, k, v, mask, shared),
                             rtol=1e-5, atol=1e-5)


def test_attention_of_a_sharded_batch_stays_on_its_devices():
  """With the batch sharded over 8 devices, attention computed in one group per device
  (or for the whole batch at once) needs no collective; one loop over the whole batch
  makes XLA gather the rows (what grouping by device avoids)."""
  script = textwrap.dedent("""
      import json, os
      os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=8'
      import jax
      import numpy as np
      from jax.sharding import Mesh, NamedSharding, PartitionSpec
      from hirenet_jax.llm import llama
      llama.ROW_LOOP_BYTES = 0  # Tiny shapes: loop over rows all the same.
      rows = NamedSharding(Mesh(np.array(jax.devices()), ('data',)), PartitionSpec('data'))
      put = lambda shape, dtype=np.float32: jax.device_put(np.ones(shape, dtype), rows)
      args = (put((16, 4, 6, 8)), put((16, 12, 2, 8)), put((16, 12, 2, 8)),
              put((16, 4, 12), bool))
      counts = {}
      for groups in (0, 1, 8):
        text = jax.jit(lambda *a: llama._attention(*a, row_groups=groups)).lower(
            *args).compile().as_text()
        counts[groups] = sum(text.count(op) for op in (
            'all-gather', 'all-reduce', 'all-to-all', 'collective-permute'))
      print(json.dumps(counts))
  """)
  counts = helpers.run_python_json(script, timeout=300)
  assert counts['8'] == counts['0'] == 0
  assert counts['1'] > 0


def test_rows_are_looped_over_on_cpus_only():
  """One group per CPU device; accelerators take the whole batch at once."""
  cpu, gpu = types.SimpleNamespace(platform='cpu'), types.SimpleNamespace(platform='gpu')
  assert llama.row_groups_for([cpu] * 8) == 8
  assert llama.row_groups_for([gpu] * 4) == 0
