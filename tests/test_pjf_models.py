"""pjf models: text encoders ignore padding, and every baseline learns a planted signal."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

import pjf_tiny
from experiments.configs import pjf as pjf_config
from hirenet_jax.core import ranking
from hirenet_jax.pjf import features as features_lib
from hirenet_jax.pjf import models



@pytest.fixture(scope='module', autouse=True)
def _strict_ranks():
  """Broadcasts must be explicit in these modules (and nowhere else is it imposed)."""
  with jax.numpy_rank_promotion('raise'):
    yield


@pytest.fixture(scope='module')
def corpus():
  return pjf_tiny.make_corpus()


@pytest.fixture(scope='module')
def feats(corpus):
  # Every tiny document fits: 5 sentences of at most 8 words, 40 words in all.
  return features_lib.featurize(corpus, max_words=48, max_sentences=5, max_sentence_words=8)


def _pad(batch, extra_words, extra_sentences, extra_sentence_words):
  """The batch with more padding on every text axis."""
  out = dict(batch)
  for side in ('resume', 'job'):
    out[f'{side}_words'] = np.pad(batch[f'{side}_words'], ((0, 0), (0, extra_words)))
    out[f'{side}_sentences'] = np.pad(
        batch[f'{side}_sentences'],
        ((0, 0), (0, extra_sentences), (0, extra_sentence_words)))
    out[f'{side}_sentence_lengths'] = np.pad(batch[f'{side}_sentence_lengths'],
                                             ((0, 0), (0, extra_sentences)))
  return out


def _model(name, feats):
  config = pjf_config.get_config('tiny').model
  config.name = name
  return models.create_model(config, vocab_size=feats.vocab.size,
                             num_candidates=len(feats.candidate_index),
                             num_jobs=len(feats.job_index))


@pytest.mark.parametrize('name', ['pjfnn', 'bpjfnn', 'apjfnn', 'ipjf'])
def test_padding_does_not_change_the_encodings_and_empty_ones_are_finite(name, corpus, feats):
  model = _model(name, feats)
  batch = features_lib.pair_batch(feats, corpus.pairs[:8], 8)
  params = model.init(jax.random.PRNGKey(0), batch)['params']
  # Random parameters for the padding id too: masking, not a zero embedding, hides it.
  apply = jax.jit(lambda b: (model.apply({'params': params}, b, method='encode'),
                             model.apply({'params': params}, b)))
  base = apply(batch)
  for extra in [(9, 2, 5)]:  # More words, sentences and words per sentence.
    padded = apply(_pad(batch, *extra))
    for a, b in zip(jax.tree.leaves(base), jax.tree.leaves(padded), strict=True):
      np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
  # Empty documents (no word, no sentence) give finite outputs, never NaN.
  empty = dict(batch)
  for key in ('resume_lengths', 'job_lengths', 'resume_sentence_lengths',
              'job_sentence_lengths'):
    empty[key] = np.zeros_like(batch[key])
  for leaf in jax.tree.leaves(apply(empty)):
    assert np.isfinite(np.asarray(leaf)).all()


# Each model, trained full-batch on the training split, ranks the test split's jobs of
# each candidate better than a random ranking: the 'attractive' jobs (pjf_tiny) are
# accepted by everyone, and are known by their id (NCF) or their text (the others).
_PLANTED = {'ncf': 'score', 'pjfnn': 'score', 'bpjfnn': 'score', 'apjfnn': 'score',
            'ipjf': 'candidate'}


@pytest.mark.parametrize('name', models.MODELS)
def test_learns_the_planted_signal(name, corpus, feats):
  head, side, label = _PLANTED[name], 'candidate', 'candidate_accepts'
  model = _model(name, feats)
  train = corpus.split('train')
  test = corpus.split('test')
  batch = features_lib.pair_batch(feats, train, len(train))
  test_batch = features_lib.pair_batch(feats, test, len(test))
  params = model.init(jax.random.PRNGKey(0), batch)['params']
  tx = optax.adam(1e-2)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state):
    def loss_fn(p):
      logits = model.apply({'params': p}, batch)
      loss = optax.sigmoid_binary_cross_entropy(logits[head], batch[label]).mean()
      if name == 'ipjf':  # Two-sided: both intentions and the match, jointly.
        loss += optax.sigmoid_binary_cross_entropy(
            logits['job'], batch['job_accepts']).mean()
        loss += optax.sigmoid_binary_cross_entropy(logits['match'], batch['match']).mean()
      return loss
    grads = jax.grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  for _ in range(40):
    params, opt_state = step(params, opt_state)
  scores = np.asarray(jax.jit(model.apply)({'params': params}, test_batch)[head])
  got = ranking.pjf_side_metrics(test, scores, side)['ndcg@5']
  random = ranking.pjf_random_metrics(test, side)['ndcg@5']
  assert got > random + 0.05, (name, got, random)
