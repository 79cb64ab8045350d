"""Properties of the HireNet family (paper eq. 1-15) on tiny shapes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hirenet_jax.hirenet import models
from hirenet_jax.hirenet import packing

VOCAB = 40
_SIZES = dict(vocab_size=VOCAB, embedding_dim=8, hidden_size=6, context_size=5,
              attention_size=4)


@pytest.fixture(scope='module', autouse=True)
def _strict_ranks():
  with jax.numpy_rank_promotion('raise'):
    yield


def make_batch(seed=0, *, features_dim=None, **pack_kwargs):
  """`make_padded`, packed by the input pipeline's packing (first fit, width T)."""
  return packing.pack_padded(make_padded(seed, features_dim=features_dim), **pack_kwargs)


def one_answer_per_row(padded, *, width, extra_rows=0):
  """The least packed layout: every answer alone at the start of its own row."""
  lengths = padded['answer_lengths']
  b, q, t = padded['answers'].shape[:3]
  rows = b * q + extra_rows
  answers = np.zeros((rows, width) + padded['answers'].shape[3:], padded['answers'].dtype)
  answers[:b * q, :t] = padded['answers'].reshape((b * q, t) + answers.shape[2:])
  answer_rows = np.arange(b * q, dtype=np.int32).reshape(b, q)
  starts = np.zeros((b, q), np.int32)
  out = dict(padded)
  out.update(answers=answers, answer_rows=answer_rows, answer_starts=starts,
             answer_segments=packing.segments(lengths, answer_rows, starts, rows, width))
  return out


def make_padded(seed=0, *, features_dim=None):
  """Three candidates with ragged interviews, including every edge case.

  Candidate 0: four answers, one of length 0 (failed extraction) in the middle.
  Candidate 1: a single answer, an empty job title, an empty question.
  Candidate 2: two answers.
  """
  rng = np.random.default_rng(seed)
  b, q, t, l = 3, 4, 7, 5
  answer_lengths = np.array([[7, 0, 3, 2], [4, 0, 0, 0], [5, 6, 0, 0]], np.int32)
  question_lengths = np.array([[3, 2, 5, 1], [0, 0, 0, 0], [2, 4, 0, 0]], np.int32)
  job_title_length = np.array([2, 0, 5], np.int32)
  if features_dim:
    answers = rng.normal(size=(b, q, t, features_dim)).astype(np.float32)
  else:
    answers = rng.integers(2, VOCAB, (b, q, t)).astype(np.int32)
  batch = dict(
      answers=answers, answer_lengths=answer_lengths,
      questions=rng.integers(2, VOCAB, (b, q, l)).astype(np.int32),
      question_lengths=question_lengths,
      job_title=rng.integers(2, VOCAB, (b, l)).astype(np.int32),
      job_title_length=job_title_length,
      label=np.array([1, 0, 1], np.int32), weight=np.ones(b, np.float32),
      index=np.arange(b, dtype=np.int32))
  return zero_padding(batch)


def zero_padding(batch):
  """Puts zeros in every padded position, as the input pipeline does."""
  batch = dict(batch)
  if 'answer_segments' not in batch:  # Packed answers are zero-padded already.
    t = batch['answers'].shape[2]
    valid = np.arange(t)[None, None] < batch['answer_lengths'][..., None]
    if batch['answers'].ndim == 4:
      valid = valid[..., None]
    batch['answers'] = np.where(valid, batch['answers'], 0).astype(batch['answers'].dtype)
  l = batch['questions'].shape[2]
  qvalid = np.arange(l)[None, None] < batch['question_lengths'][..., None]
  batch['questions'] = np.where(qvalid, batch['questions'], 0).astype(np.int32)
  jvalid = np.arange(batch['job_title'].shape[1])[None] < batch['job_title_length'][:, None]
  batch['job_title'] = np.where(jvalid, batch['job_title'], 0).astype(np.int32)
  return batch


def pad_batch(batch, *, extra_t=0, extra_q=0, extra_l=0, extra_b=0, seed=1):
  """Adds padding on every axis; extra candidates are random, real-looking ones."""
  rng = np.random.default_rng(seed)
  out = {}
  for key, value in batch.items():
    widths = [(0, 0)] * value.ndim
    if key in ('answers', 'answer_lengths', 'questions', 'question_lengths'):
      widths[1] = (0, extra_q)
    if key == 'answers':
      widths[2] = (0, extra_t)
    if key == 'questions':
      widths[2] = (0, extra_l)
    if key == 'job_title':
      widths[1] = (0, extra_l)
    out[key] = np.pad(value, widths)
  if extra_b:
    other = make_padded(seed + 10, features_dim=(
        batch['answers'].shape[-1] if batch['answers'].ndim == 4 else None))
    other = pad_batch(other, extra_t=out['answers'].shape[2] - other['answers'].shape[2],
                      extra_q=out['answers'].shape[1] - other['answers'].shape[1],
                      extra_l=out['questions'].shape[2] - other['questions'].shape[2])
    out = {k: np.concatenate([out[k], other[k][:extra_b]]) for k in out}
    del rng
  return out


@functools.lru_cache(maxsize=None)
def model_and_params(variant, features_dim=None, train_embeddings=False):
  model = models.HireNet(variant=variant, features_input=features_dim is not None,
                         train_embeddings=train_embeddings, **_SIZES)
  params = model.init(jax.random.key(0), make_batch(features_dim=features_dim),
                      train=False)['params']
  return model, params


def scores(variant, batch, features_dim=None):
  model, params = model_and_params(variant, features_dim)
  logits = model.apply({'params': params}, batch, train=False)
  return np.asarray(models.candidate_scores(logits, batch))


def intermediates(variant, batch):
  model, params = model_and_params(variant)
  _, state = model.apply({'params': params}, batch, train=False, mutable=['intermediates'])
  return {k: np.asarray(v[0]) for k, v in state['intermediates'].items()}


@pytest.mark.parametrize('variant', models.VARIANTS)
@pytest.mark.parametrize('features_dim', [None, 3])
def test_padding_and_packing_do_not_change_score(variant, features_dim):
  padded = make_padded(features_dim=features_dim)
  dense = packing.pack_padded(padded, row_multiple=1)
  base = scores(variant, dense, features_dim)
  assert np.all(np.isfinite(base))
  # Several answers per row (first fit) vs one answer per wider row with extra rows,
  # extra question slots, longer questions / titles and extra candidates.
  assert dense['answers'].shape[0] < 8  # 8 answers share fewer rows.
  more = pad_batch(padded, extra_t=5, extra_q=3, extra_l=4, extra_b=2)
  alone = one_answer_per_row(more, width=12, extra_rows=3)
  assert alone['answers'].shape[:2] == (38, 12)
  np.testing.assert_allclose(scores(variant, alone, features_dim)[:3], base, atol=1e-5)
  wide = packing.pack_padded(more, width=24, rows=8)
  np.testing.assert_allclose(scores(variant, wide, features_dim)[:3], base, atol=1e-5)


@pytest.mark.parametrize('variant', ['hn_avg', 'hn_satt', 'hirenet'])
def test_attention_sums_to_one_on_valid_and_is_zero_on_padding(variant):
  batch = packing.pack_padded(pad_batch(make_padded(), extra_t=2, extra_q=1), width=12)
  inter = intermediates(variant, batch)
  alpha_RxW, beta = inter['answer_attention'], inter['question_attention']
  assert np.all(alpha_RxW[batch['answer_segments'] < 0] == 0.0)
  lengths = batch['answer_lengths']
  alpha = packing.unpack(alpha_RxW, lengths, batch['answer_rows'], batch['answer_starts'])
  t = alpha.shape[-1]
  valid_t = np.arange(t)[None, None] < lengths[..., None]
  assert np.all(alpha[~valid_t] == 0.0)
  np.testing.assert_allclose(alpha.sum(-1)[lengths > 0], 1.0, atol=1e-6)
  assert np.all(alpha.sum(-1)[lengths == 0] == 0.0)  # Failed answer: no weight, no NaN.
  valid_q = lengths > 0
  assert np.all(beta[~valid_q] == 0.0)  # Includes the failed answer in the middle.
  np.testing.assert_allclose(beta.sum(-1), 1.0, atol=1e-6)


def test_hn_avg_pools_the_mean_of_valid_outputs():
  batch = make_batch()
  model, params = model_and_params('hn_avg')
  _, state = model.apply({'params': params}, batch, train=False,
                         capture_intermediates=True, mutable=['intermediates'])
  inter = state['intermediates']
  outputs_BxQxH = np.asarray(inter['interview_encoder']['__call__'][0][0])
  v = np.asarray(inter['interview_vector'][0])
  valid = batch['answer_lengths'] > 0
  for i in range(3):
    np.testing.assert_allclose(v[i], outputs_BxQxH[i][valid[i]].mean(0), atol=1e-6)
  alpha = packing.unpack(intermediates('hn_avg', batch)['answer_attention'],
                         batch['answer_lengths'], batch['answer_rows'],
                         batch['answer_starts'])
  np.testing.assert_allclose(alpha[0, 0], np.full(7, 1 / 7), atol=1e-7)


def _change_context(batch):
  changed = dict(batch)
  rng = np.random.default_rng(99)
  changed['questions'] = rng.integers(2, VOCAB, batch['questions'].shape).astype(np.int32)
  changed['question_lengths'] = np.full_like(batch['question_lengths'], 4)
  changed['job_title'] = rng.integers(2, VOCAB, batch['job_title'].shape).astype(np.int32)
  changed['job_title_length'] = np.full_like(batch['job_title_length'], 3)
  return zero_padding(changed)


@pytest.mark.parametrize('variant', ['bigru', 'hn_avg', 'hn_satt'])
def test_context_free_variants_ignore_questions_and_job_title(variant):
  batch = make_batch()
  np.testing.assert_array_equal(scores(variant, batch), scores(variant, _change_context(batch)))


def test_hirenet_uses_questions_and_job_title():
  batch = make_batch()
  diff = np.abs(scores('hirenet', batch) - scores('hirenet', _change_context(batch)))
  assert np.all(diff[[0, 2]] > 1e-6)
  only_title = dict(batch)
  only_title['job_title'] = _change_context(batch)['job_title']
  only_title['job_title_length'] = np.full_like(batch['job_title_length'], 3)
  only_title = zero_padding(only_title)
  # The job title alone steers the high-level attention (eq. 12-13); candidate 1 has
  # a single answer, whose weight is 1 whatever the title.
  beta = intermediates('hirenet', batch)['question_attention']
  beta_title = intermediates('hirenet', only_title)['question_attention']
  assert np.all(np.abs(beta - beta_title).max(-1)[[0, 2]] > 1e-5)
  np.testing.assert_array_equal(beta[1], beta_title[1])


@pytest.mark.parametrize('variant', models.VARIANTS)
def test_every_parameter_receives_a_gradient(variant):
  batch = make_batch()
  model, params = model_and_params(variant, train_embeddings=True)

  def loss_fn(p):
    logits = model.apply({'params': p}, batch, train=True,
                         rngs={'dropout': jax.random.key(3)})
    total, count = models.candidate_loss(logits, batch)
    return total / count

  grads = jax.grad(loss_fn)(params)
  for path, g in jax.tree_util.tree_leaves_with_path(grads):
    g = np.asarray(g)
    assert np.all(np.isfinite(g)), jax.tree_util.keystr(path)
    assert np.any(g != 0.0), f'no gradient reaches {jax.tree_util.keystr(path)}'


def test_frozen_embeddings_get_no_gradient():
  batch = make_batch()
  model, params = model_and_params('hirenet')
  grads = jax.grad(lambda p: models.candidate_loss(
      model.apply({'params': p}, batch, train=False), batch)[0])(params)
  assert np.all(np.asarray(grads['embed']['embedding']) == 0.0)
  assert np.any(np.asarray(grads['classifier']['kernel']) != 0.0)


@pytest.mark.parametrize('variant', ['bigru', 'hirenet'])
def test_jit_and_eager_agree(variant):
  batch = make_batch()
  model, params = model_and_params(variant)
  apply = lambda p, b: model.apply({'params': p}, b, train=False)
  eager = np.asarray(apply(params, batch))
  jitted = np.asarray(jax.jit(apply)(params, batch))
  np.testing.assert_allclose(eager, jitted, atol=1e-6)


def test_bigru_scores_are_the_mean_of_valid_answer_probabilities():
  batch = make_batch()
  model, params = model_and_params('bigru')
  logits = np.asarray(model.apply({'params': params}, batch, train=False))
  assert logits.shape == (3, 4)
  probs = 1 / (1 + np.exp(-logits))
  valid = batch['answer_lengths'] > 0
  expected = [probs[i][valid[i]].mean() for i in range(3)]
  np.testing.assert_allclose(scores('bigru', batch), expected, atol=1e-6)
  total, count = models.candidate_loss(logits, batch)
  assert float(count) == valid.sum()  # One training example per valid answer.


def test_unknown_variant_is_rejected():
  model = models.HireNet(variant='hierarchical', **_SIZES)
  with pytest.raises(ValueError, match='unknown variant'):
    model.init(jax.random.key(0), make_batch(), train=False)


def test_hirenet_overfits_a_cue_inside_one_answer():
  """32 interviews; hirable iff the cue word occurs in the second answer."""
  rng = np.random.default_rng(0)
  b, q, t, cue = 32, 3, 8, 2
  answers = rng.integers(3, VOCAB, (b, q, t)).astype(np.int32)
  labels = np.arange(b) % 2
  positions = rng.integers(0, t, b)
  answers[labels == 1, 1, positions[labels == 1]] = cue
  batch = packing.pack_padded(dict(
      answers=answers, answer_lengths=np.full((b, q), t, np.int32),
      questions=rng.integers(3, VOCAB, (b, q, 4)).astype(np.int32),
      question_lengths=np.full((b, q), 4, np.int32),
      job_title=rng.integers(3, VOCAB, (b, 3)).astype(np.int32),
      job_title_length=np.full((b,), 3, np.int32),
      label=labels.astype(np.int32), weight=np.ones(b, np.float32)), width=3 * t)
  model = models.HireNet(variant='hirenet', **{**_SIZES, 'hidden_size': 16})
  params = model.init(jax.random.key(0), batch, train=False)['params']
  tx = optax.adam(1e-2)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state):
    def loss_fn(p):
      total, count = models.candidate_loss(model.apply({'params': p}, batch, train=False),
                                           batch)
      return total / count
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss

  for _ in range(200):
    params, opt_state, loss = step(params, opt_state)
  probs = np.asarray(models.candidate_scores(
      model.apply({'params': params}, batch, train=False), batch))
  assert float(loss) < 0.1
  np.testing.assert_array_equal(probs > 0.5, labels == 1)


def test_bfloat16_compute_keeps_a_float32_state_and_close_scores():
  batch = make_batch(features_dim=3)
  model32, params = model_and_params('hirenet', 3)
  model16 = models.HireNet(variant='hirenet', features_input=True, dtype=jnp.bfloat16,
                           **_SIZES)
  s32 = np.asarray(models.candidate_scores(model32.apply({'params': params}, batch,
                                                         train=False), batch))
  logits16, state = model16.apply({'params': params}, batch, train=False,
                                  mutable=['intermediates'])
  s16 = np.asarray(models.candidate_scores(logits16, batch))
  assert logits16.dtype == jnp.float32
  assert state['intermediates']['interview_vector'][0].dtype == jnp.float32
  # Measured: 1.1e-4 here, at most 2.8e-4 over 12 seeds of batch and parameters; the
  # candidates' scores lie 3e-2 apart, so 1e-3 still tells them apart.
  gap = np.abs(s16 - s32).max()
  assert 0 < gap < 1e-3  # Not 0: the compute really is bfloat16.
  assert np.ptp(s32) > 10 * 1e-3


# ------------------------------------------------- language-model states (an llm dataset)

STATE_DIM = 5


def with_states(batch, seed=7):
  """`batch` with word states that are a fixed function of the word ids (zero for the
  padding id 0), so every layout of the ids has its states laid out the same way."""
  table = np.random.default_rng(seed).normal(size=(VOCAB, STATE_DIM)).astype(np.float16)
  table[0] = 0
  return dict(batch, answer_states=table[batch['answers']],
              question_states=table[batch['questions']],
              job_title_states=table[batch['job_title']])


@functools.lru_cache(maxsize=None)
def states_model_and_params(variant):
  model = models.HireNet(variant=variant, states_input=True, state_projection=6,
                         state_dropout=0.5, **_SIZES)
  params = model.init(jax.random.key(0), with_states(make_batch()), train=False)['params']
  return model, params


def states_scores(variant, batch):
  model, params = states_model_and_params(variant)
  return np.asarray(models.candidate_scores(
      model.apply({'params': params}, batch, train=False), batch))


@pytest.mark.parametrize('variant', models.VARIANTS)
def test_states_model_score_does_not_depend_on_padding_packing_or_batch(variant):
  padded = make_padded()
  base = states_scores(variant, with_states(packing.pack_padded(padded, row_multiple=1)))
  assert np.all(np.isfinite(base))
  more = pad_batch(padded, extra_t=5, extra_q=3, extra_l=4, extra_b=2)
  alone = with_states(one_answer_per_row(more, width=12, extra_rows=3))
  np.testing.assert_allclose(states_scores(variant, alone)[:3], base, atol=1e-5)
  wide = with_states(packing.pack_padded(more, width=24, rows=8))
  np.testing.assert_allclose(states_scores(variant, wide)[:3], base, atol=1e-5)
  for i in range(3):  # Each candidate alone in its batch.
    one = {k: v[i:i + 1] for k, v in padded.items()}
    single = states_scores(variant, with_states(packing.pack_padded(one, width=12)))
    np.testing.assert_allclose(single, base[i:i + 1], atol=1e-5)


def test_states_model_reads_the_states_not_the_ids():
  batch = with_states(make_batch())
  model, params = states_model_and_params('hirenet')
  assert 'embed' not in params and 'state_projection' in params
  base = states_scores('hirenet', batch)
  other_ids = dict(batch, answers=np.where(batch['answers'] > 0, 2, 0).astype(np.int32))
  np.testing.assert_array_equal(states_scores('hirenet', other_ids), base)
  for key in ('answer_states', 'question_states', 'job_title_states'):
    changed = dict(batch, **{key: (batch[key] * 2).astype(np.float16)})
    assert np.abs(states_scores('hirenet', changed) - base)[[0, 2]].max() > 1e-6, key


def test_states_model_trains_every_parameter_with_dropout():
  batch = with_states(make_batch())
  model, params = states_model_and_params('hirenet')

  def loss_fn(p, rng):
    logits = model.apply({'params': p}, batch, train=True, rngs={'dropout': rng})
    total, count = models.candidate_loss(logits, batch)
    return total / count

  grads = jax.grad(loss_fn)(params, jax.random.key(3))
  for path, g in jax.tree_util.tree_leaves_with_path(grads):
    assert np.any(np.asarray(g) != 0.0), f'no gradient reaches {jax.tree_util.keystr(path)}'
  # Dropout on the projected states: two draws differ in training, never in evaluation.
  assert loss_fn(params, jax.random.key(1)) != loss_fn(params, jax.random.key(2))


def test_lexical_dimensions_read_the_ids_beside_the_states_and_all_train():
  """With `lexical_dim`, a word's id reaches the score besides its state (the model
  above ignores ids), padding and packing still change nothing, and the id table
  trains."""
  model = models.HireNet(variant='hirenet', states_input=True, state_projection=6,
                         lexical_dim=3, state_dropout=0.5, **_SIZES)
  batch = with_states(make_batch())
  params = model.init(jax.random.key(0), batch, train=False)['params']
  assert params['lexical']['embedding'].shape == (_SIZES['vocab_size'], 3)

  def scores(b):
    return np.asarray(models.candidate_scores(model.apply({'params': params}, b, train=False),
                                              b))

  base = scores(batch)
  other_ids = dict(batch, answers=np.where(batch['answers'] > 0, 2, 0).astype(np.int32))
  assert np.abs(scores(other_ids) - base)[[0, 2]].max() > 1e-6
  padded = make_padded()
  packed = scores(with_states(packing.pack_padded(padded, row_multiple=1)))
  alone = with_states(one_answer_per_row(
      pad_batch(padded, extra_t=5, extra_q=3, extra_l=4, extra_b=2), width=12, extra_rows=3))
  np.testing.assert_allclose(scores(alone)[:3], packed, atol=1e-5)

  def loss_fn(p):
    logits = model.apply({'params': p}, batch, train=True, rngs={'dropout': jax.random.key(1)})
    total, count = models.candidate_loss(logits, batch)
    return total / count

  assert np.any(np.asarray(jax.grad(loss_fn)(params)['lexical']['embedding']) != 0.0)
