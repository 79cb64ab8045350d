"""Tests for data_prep.hirenet.text: tokenisation, vocabulary, word2vec."""

import os
import subprocess
import sys

import numpy as np
import pytest

from data_prep.hirenet import text


@pytest.mark.parametrize('raw, tokens', [
    ("Bonjour, je m'appelle Léa !", ['bonjour', 'je', "m'", 'appelle', 'léa']),
    ('L’entreprise où j’ai travaillé', ["l'", 'entreprise', 'où', "j'", 'ai', 'travaillé']),
    ("Aujourd'hui, peut-être qu'il viendra", ["aujourd'hui", 'peut-être', "qu'", 'il',
                                               'viendra']),
    ("I don't know, it's 5 o'clock.", ['i', "don't", 'know', "it's", '5', "o'clock"]),
    ('ÉCOLE Ecole', ['école', 'ecole']),
    ('...  ?!', []),
])
def test_tokenize_lowercases_splits_elisions_and_drops_punctuation(raw, tokens):
  assert text.tokenize(raw) == tokens


def test_tokenize_is_nfc_normalised():
  decomposed = 'e\u0301te\u0301'  # "été" with combining accents.
  assert text.tokenize(decomposed) == ['été']


def test_vocabulary_reserves_pad_and_unk_and_orders_by_count():
  vocab = text.Vocabulary.build([['b', 'a', 'b'], ['c', 'b', 'a']], min_count=2)
  assert vocab.tokens == ['<pad>', '<unk>', 'b', 'a']
  np.testing.assert_array_equal(vocab.encode(['a', 'zzz', 'b']), [3, 1, 2])
  assert vocab.encode([]).dtype == np.int32


def test_vocabulary_save_load_round_trip(tmp_path):
  vocab = text.Vocabulary.build([['x', 'y', 'é']])
  vocab.save(str(tmp_path / 'vocab.txt'))
  assert text.Vocabulary.load(str(tmp_path / 'vocab.txt')).tokens == vocab.tokens


def test_oov_rate_counts_unknown_tokens():
  vocab = text.Vocabulary.build([['a', 'b']])
  assert text.oov_rate([['a', 'c'], ['d', 'b']], vocab) == 0.5
  assert text.oov_rate([], vocab) == 0.0


_SENTENCES = [['je', 'vends', 'des', 'voitures'], ['je', 'aime', 'les', 'clients'],
              ['les', 'clients', 'aiment', 'les', 'voitures']] * 5


def test_word2vec_is_200d_deterministic_with_zero_padding():
  vocab = text.Vocabulary.build(_SENTENCES)
  a = text.train_word2vec(_SENTENCES, vocab, seed=1, epochs=2)
  b = text.train_word2vec(_SENTENCES, vocab, seed=1, epochs=2)
  assert a.shape == (len(vocab), 200) and a.dtype == np.float32
  np.testing.assert_array_equal(a, b)
  assert not a[0].any() and a[1].any()


def test_word2vec_does_not_depend_on_python_hash_seed():
  code = ('import numpy as np; from data_prep.hirenet import text; '
          f's = {_SENTENCES!r}; v = text.Vocabulary.build(s); '
          'print(float(np.abs(text.train_word2vec(s, v, seed=0, epochs=1)).sum()))')
  outs = set()
  for hash_seed in ('1', '2'):
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    outs.add(subprocess.run([sys.executable, '-c', code], env=env, check=True,
                            capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
                            ).stdout)
  assert len(outs) == 1


def test_token_offsets_point_at_the_tokens():
  from data_prep.hirenet import text as text_lib
  sentence = "Bonjour, j'aime l’entreprise Équipe-Vente !"
  tokens = text_lib.tokenize_with_offsets(sentence)
  assert [t for t, _, _ in tokens] == text_lib.tokenize(sentence)
  assert [t for t, _, _ in tokens] == ['bonjour', "j'", 'aime', "l'", 'entreprise',
                                        'équipe-vente']
  for token, start, end in tokens:
    assert sentence[start:end].lower().replace('’', "'") == token
