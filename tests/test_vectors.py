"""Pretrained vector files: every format reads back exactly what was written, a bad line
is named with its number and reason, and a vocabulary keeps only its own rows."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from data_prep.hirenet import vectors as vectors_lib

WORDS = ['entreprise', 'été', "l'", 'peut-être', 'Paris', 'client']


@pytest.fixture
def matrix():
  # Values with many significant digits: text must be written and read without rounding.
  return np.random.default_rng(0).standard_normal((len(WORDS), 5)).astype(np.float32) / 3


def write_word2vec_bin(path, words, matrix, newline=True):
  with open(path, 'wb') as f:
    f.write(f'{len(words)} {matrix.shape[1]}\n'.encode())
    for word, row in zip(words, matrix):
      f.write(word.encode('utf-8') + b' ' + row.astype('<f4').tobytes()
              + (b'\n' if newline else b''))


def write_text(path, words, matrix, header=True, trailing_space=False):
  opener = gzip.open if str(path).endswith('.gz') else open
  with opener(path, 'wt', encoding='utf-8') as f:
    if header:
      f.write(f'{len(words)} {matrix.shape[1]}\n')
    for word, row in zip(words, matrix):
      f.write(word + ' ' + ' '.join(repr(float(v)) for v in row)
              + (' ' if trailing_space else '') + '\n')


@pytest.mark.parametrize('name,writer,fmt', [
    ('w2v.bin', write_word2vec_bin, 'word2vec_bin'),
    ('w2v_no_newline.bin', lambda p, w, m: write_word2vec_bin(p, w, m, newline=False),
     'word2vec_bin'),
    ('w2v.txt', write_text, 'text'),
    ('fasttext.vec', lambda p, w, m: write_text(p, w, m, trailing_space=True), 'text'),
    ('glove.txt', lambda p, w, m: write_text(p, w, m, header=False), 'glove'),
    ('w2v.txt.gz', write_text, 'text'),
])
def test_each_format_reads_back_exactly(tmp_path, matrix, name, writer, fmt):
  path = str(tmp_path / name)
  writer(path, WORDS, matrix)
  assert vectors_lib.detect_format(path) == fmt
  vectors = vectors_lib.read_vectors(path)
  assert vectors.format == fmt
  assert vectors.words == WORDS
  assert vectors.matrix.dtype == np.float32
  np.testing.assert_array_equal(vectors.matrix, matrix)
  assert vectors.file_words == len(WORDS) and vectors.undecodable == 0


@pytest.mark.parametrize('binary', [True, False])
def test_files_written_by_gensim_read_back_exactly(tmp_path, matrix, binary):
  from gensim.models import KeyedVectors
  kv = KeyedVectors(matrix.shape[1])
  kv.add_vectors(WORDS, matrix)
  path = str(tmp_path / ('g.bin' if binary else 'g.txt'))
  kv.save_word2vec_format(path, binary=binary)
  vectors = vectors_lib.read_vectors(path)
  assert vectors.format == ('word2vec_bin' if binary else 'text')
  assert vectors.words == WORDS
  np.testing.assert_array_equal(vectors.matrix, matrix)


def test_glove_word_with_spaces_takes_the_last_values(tmp_path, matrix):
  path = str(tmp_path / 'glove.txt')
  write_text(path, ['client', '. . .'], matrix[:2], header=False)
  vectors = vectors_lib.read_vectors(path)
  assert vectors.words == ['client', '. . .']
  np.testing.assert_array_equal(vectors.matrix, matrix[:2])


@pytest.fixture(scope='module')
def fasttext_bin(tmp_path_factory):
  from gensim.models import fasttext
  sentences = [['le', 'client', 'est', 'content'], ['la', 'cliente', 'est', 'contente'],
               ['le', 'commercial', 'vend']] * 20
  model = fasttext.FastText(sentences, vector_size=8, min_count=1, min_n=2, max_n=4,
                            epochs=2, workers=1, seed=0, bucket=1000)
  path = str(tmp_path_factory.mktemp('ft') / 'model.bin')
  fasttext.save_facebook_model(model, path)
  return path, model


def test_fasttext_bin_reads_its_words_and_gives_unseen_words_subword_vectors(fasttext_bin):
  path, model = fasttext_bin
  assert vectors_lib.detect_format(path) == 'fasttext_bin'
  vectors = vectors_lib.read_vectors(path, ['client', 'vend', 'clientes', 'xyz'])
  assert vectors.words == ['client', 'vend']
  np.testing.assert_allclose(vectors.matrix, np.stack([model.wv['client'], model.wv['vend']]),
                             atol=1e-6)
  unseen = vectors.subwords('clientes')  # Shares n-grams with client/cliente.
  np.testing.assert_allclose(unseen, model.wv['clientes'], atol=1e-6)
  assert np.linalg.norm(unseen) > 0
  table, found = vectors_lib.embedding_table(vectors, ['client', 'clientes'])
  assert found.tolist() == [True, False]
  np.testing.assert_allclose(table[1], unseen)
  cov = vectors_lib.coverage(vectors, ['client', 'vend', 'clientes', 'xyz'])
  assert (cov.words_found, cov.words_from_subwords) == (2, 2)


# --------------------------------------------------------------------- bad files


def _error(path, **kwargs) -> vectors_lib.VectorFileError:
  with pytest.raises(vectors_lib.VectorFileError) as e:
    vectors_lib.read_vectors(path, **kwargs)
  return e.value


def test_a_value_that_is_not_a_number_is_named_with_its_line(tmp_path, matrix):
  path = str(tmp_path / 'bad.txt')
  write_text(path, WORDS, matrix)
  lines = open(path, encoding='utf-8').read().splitlines()
  lines[4] = lines[4].rsplit(' ', 1)[0] + ' 0.1x'  # Word 4 (peut-être), on line 5.
  open(path, 'w', encoding='utf-8').write('\n'.join(lines) + '\n')
  e = _error(path)
  assert (e.path, e.line) == (path, 5)
  assert "'peut-être'" in str(e) and "'0.1x' is not a number" in str(e)
  assert str(e).startswith(f'{path}, line 5: ')


def test_a_line_with_a_missing_value_is_named(tmp_path, matrix):
  path = str(tmp_path / 'short.vec')
  write_text(path, WORDS, matrix)
  lines = open(path, encoding='utf-8').read().splitlines()
  lines[3] = lines[3].rsplit(' ', 1)[0]
  open(path, 'w', encoding='utf-8').write('\n'.join(lines) + '\n')
  e = _error(path)
  assert e.line == 4 and '4 values after the word, expected 5' in e.reason


def test_glove_ragged_line_is_named(tmp_path, matrix):
  path = str(tmp_path / 'glove.txt')
  write_text(path, WORDS, matrix, header=False)
  lines = open(path, encoding='utf-8').read().splitlines()
  lines[2] = ' '.join(lines[2].split()[:3])
  open(path, 'w', encoding='utf-8').write('\n'.join(lines) + '\n')
  assert _error(path).line == 3


def test_header_count_must_match_the_lines(tmp_path, matrix):
  path = str(tmp_path / 'count.txt')
  write_text(path, WORDS, matrix)
  text = open(path, encoding='utf-8').read()
  open(path, 'w', encoding='utf-8').write(text.replace(f'{len(WORDS)} 5', f'{len(WORDS) + 1} 5', 1))
  e = _error(path)
  assert 'ends after 6 of the 7 words' in e.reason and e.line == 7


def test_truncated_binary_file_names_the_word_and_its_line(tmp_path, matrix):
  path = str(tmp_path / 'cut.bin')
  write_word2vec_bin(path, WORDS, matrix)
  data = open(path, 'rb').read()
  open(path, 'wb').write(data[:-10])  # The last word keeps 2 of its 5 values (and no newline).
  e = _error(path)
  assert e.line == len(WORDS) + 1
  assert "word 'client': the file ends after 2 of its 5 values" in e.reason


def test_binary_file_with_a_wrong_dimension_is_refused(tmp_path, matrix):
  path = str(tmp_path / 'dim.bin')
  write_word2vec_bin(path, WORDS, matrix)
  data = open(path, 'rb').read()
  open(path, 'wb').write(data.replace(b'6 5\n', b'6 4\n', 1))
  e = _error(path)
  assert e.line is not None and e.line > 2


def test_non_finite_values_are_refused(tmp_path, matrix):
  bad = matrix.copy()
  bad[1, 2] = np.nan
  path = str(tmp_path / 'nan.bin')
  write_word2vec_bin(path, WORDS, bad)
  e = _error(path)
  assert e.line == 3 and 'not finite' in e.reason


def test_missing_and_empty_files(tmp_path):
  assert 'no such file' in str(_error(str(tmp_path / 'nope.vec')))
  (tmp_path / 'empty.vec').write_bytes(b'')
  assert _error(str(tmp_path / 'empty.vec')).line == 1


def test_undecodable_words_are_counted_not_fatal(tmp_path, matrix):
  path = str(tmp_path / 'latin1.bin')
  write_word2vec_bin(path, WORDS, matrix)
  data = open(path, 'rb').read().replace('été'.encode('utf-8'), 'été'.encode('latin-1'), 1)
  open(path, 'wb').write(data)
  vectors = vectors_lib.read_vectors(path)
  assert vectors.undecodable == 1 and vectors.words[1] == '\ufffdt\ufffd'
  np.testing.assert_array_equal(vectors.matrix, matrix)


# ------------------------------------------------------------- vocabulary, coverage


def test_vocabulary_keeps_only_its_words_in_its_order(tmp_path, matrix):
  path = str(tmp_path / 'v.bin')
  write_word2vec_bin(path, WORDS, matrix)
  vectors = vectors_lib.read_vectors(path, ['client', 'absent', 'été'])
  assert vectors.words == ['client', 'été']
  np.testing.assert_array_equal(vectors.matrix, matrix[[5, 1]])
  assert vectors.file_words == len(WORDS)


def test_rows_outside_the_vocabulary_are_not_parsed(tmp_path, matrix):
  """Streaming: a bad value on a line the vocabulary does not need is never read."""
  path = str(tmp_path / 'stream.txt')
  write_text(path, WORDS, matrix)
  lines = open(path, encoding='utf-8').read().splitlines()
  lines[2] = lines[2].rsplit(' ', 1)[0] + ' oops'  # été
  open(path, 'w', encoding='utf-8').write('\n'.join(lines) + '\n')
  vectors = vectors_lib.read_vectors(path, ['client'])
  np.testing.assert_array_equal(vectors.matrix, matrix[[5]])
  assert _error(path).line == 3


def test_lowercase_fallback_and_exact_spelling_wins(tmp_path, matrix):
  path = str(tmp_path / 'case.txt')
  # 'Paris' first, 'paris' later: the exact spelling wins over the earlier one.
  write_text(path, ['Paris', 'Client', 'paris', 'CLIENT'], matrix[:4])
  vectors = vectors_lib.read_vectors(path, ['paris', 'client', 'entreprise'])
  assert vectors.words == ['paris', 'client']
  np.testing.assert_array_equal(vectors.matrix, matrix[[2, 1]])  # Client before CLIENT.
  assert vectors.lowercased == {'client'}
  strict = vectors_lib.read_vectors(path, ['paris', 'client'], lowercase_fallback=False)
  assert strict.words == ['paris']


def test_coverage_counts_words_and_tokens(tmp_path, matrix):
  path = str(tmp_path / 'cov.vec')
  write_text(path, WORDS, matrix)
  counts = {'client': 10, 'paris': 3, 'absent': 7, 'été': 1}
  vectors = vectors_lib.read_vectors(path, counts)
  cov = vectors_lib.coverage(vectors, counts)
  assert (cov.words, cov.words_found, cov.words_lowercased) == (4, 3, 1)
  assert (cov.tokens, cov.tokens_covered) == (21, 14)
  assert cov.token_rate == pytest.approx(14 / 21)
  assert '3 of 4 words' in cov.summary()


def test_embedding_table_fills_missing_rows_reproducibly(tmp_path, matrix):
  path = str(tmp_path / 't.bin')
  write_word2vec_bin(path, WORDS, matrix)
  tokens = ['<pad>', '<unk>', 'client', 'absent']
  vectors = vectors_lib.read_vectors(path, tokens)
  table, found = vectors_lib.embedding_table(vectors, tokens, seed=3, zero_rows=[0])
  again, _ = vectors_lib.embedding_table(vectors, tokens, seed=3, zero_rows=[0])
  assert found.tolist() == [False, False, True, False]
  np.testing.assert_array_equal(table[0], 0)
  np.testing.assert_array_equal(table[2], matrix[5])
  np.testing.assert_array_equal(table, again)
  assert np.all(table[[1, 3]] != 0)


def test_magic_number_is_fasttext(tmp_path):
  path = tmp_path / 'x.bin'
  path.write_bytes(struct.pack('<i', 793712314) + b'\0' * 16)
  assert vectors_lib.detect_format(str(path)) == 'fasttext_bin'
  assert 'not a fastText model' in _error(str(path)).reason
