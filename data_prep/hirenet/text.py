"""Text pipeline for transcripts, questions and job titles: tokens, vocabulary, word2vec.

Tokenisation (French and English, Unicode-aware), kept deliberately simple:
  1. NFC-normalise, lowercase, map the typographic apostrophe ’ to '.
  2. Words are runs of letters/digits, joined by inner hyphens or apostrophes
     ("peut-être", "aujourd'hui", "don't" stay one token).
  3. French elisions are split off: "l'entreprise" -> "l'", "entreprise"
     (c' d' j' l' m' n' s' t' qu' jusqu' lorsqu' puisqu').
  4. Punctuation is dropped: ASR transcripts have little of it, so keeping it in the
     questions only would make questions and answers look different for no gain.
"""

from __future__ import annotations

import collections
import re
import unicodedata
import zlib
from typing import Iterable, Mapping, Sequence

from absl import logging
import numpy as np
import tqdm

PAD, UNK = '<pad>', '<unk>'
PAD_ID, UNK_ID = 0, 1
EMBEDDING_DIM = 200

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")
_ELISION = re.compile(r"^(c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu)'(?=[^\W_])")


def tokenize_with_offsets(text: str) -> list[tuple[str, int, int]]:
  """(token, start, end) of each token; offsets index the NFC-normalised text."""
  text = unicodedata.normalize('NFC', text)
  lowered = text.lower().replace('’', "'")
  if len(lowered) != len(text):  # A rare case change that alters lengths: no offsets.
    lowered = ''.join(c.lower() if len(c.lower()) == 1 else c for c in text)
    lowered = lowered.replace('’', "'")
  tokens = []
  for match in _WORD.finditer(lowered):
    word, start = match.group(), match.start()
    m = _ELISION.match(word)
    if m:
      tokens.append((word[:m.end()], start, start + m.end()))
      word, start = word[m.end():], start + m.end()
    tokens.append((word, start, start + len(word)))
  return tokens


def tokenize(text: str) -> list[str]:
  """Lowercased word tokens of `text`, French elisions split, punctuation dropped."""
  return [token for token, _, _ in tokenize_with_offsets(text)]


class Vocabulary:
  """Token <-> id; id 0 is padding, 1 the unknown word."""

  def __init__(self, tokens: Sequence[str]):
    self.tokens = [PAD, UNK] + [t for t in tokens if t not in (PAD, UNK)]
    self._ids = {t: i for i, t in enumerate(self.tokens)}

  @classmethod
  def build(cls, texts: Iterable[Sequence[str]], min_count: int = 1) -> 'Vocabulary':
    """Tokens seen at least `min_count` times, most frequent first (ties by token)."""
    counts = collections.Counter()
    for tokens in texts:
      counts.update(tokens)
    return cls.from_counts(counts, min_count)

  @classmethod
  def from_counts(cls, counts: Mapping[str, int], min_count: int = 1) -> 'Vocabulary':
    """`build` from token counts already summed (e.g. by a Beam combiner)."""
    kept = sorted((t for t, c in counts.items() if c >= min_count),
                  key=lambda t: (-counts[t], t))
    return cls(kept)

  @classmethod
  def load(cls, path: str) -> 'Vocabulary':
    with open(path, encoding='utf-8') as f:
      tokens = [line.rstrip('\n') for line in f]
    if tokens[:2] != [PAD, UNK]:
      raise ValueError(f'{path}: first two lines must be {PAD} and {UNK}')
    return cls(tokens[2:])

  def save(self, path: str) -> None:
    with open(path, 'w', encoding='utf-8') as f:
      f.writelines(t + '\n' for t in self.tokens)

  def __len__(self) -> int:
    return len(self.tokens)

  def __contains__(self, token: str) -> bool:
    return token in self._ids

  def encode(self, tokens: Sequence[str]) -> np.ndarray:
    """<int32>[len(tokens)] ids, unknown words -> UNK_ID."""
    return np.asarray([self._ids.get(t, UNK_ID) for t in tokens], np.int32)


def oov_rate(texts: Iterable[Sequence[str]], vocab: Vocabulary) -> float:
  """Fraction of tokens outside the vocabulary (0 when there is no token)."""
  total = oov = 0
  for tokens in texts:
    total += len(tokens)
    oov += sum(t not in vocab for t in tokens)
  return oov / total if total else 0.0


def _stable_hash(text: str) -> int:
  # gensim's default `hash` is salted per process (PYTHONHASHSEED).
  return zlib.crc32(text.encode('utf-8'))


def train_word2vec(sentences: Sequence[Sequence[str]], vocab: Vocabulary, *,
                   dim: int = EMBEDDING_DIM, seed: int = 0,
                   epochs: int = 10) -> np.ndarray:
  """<float32>[V, dim] skip-gram word2vec trained on `sentences` (deterministic).

  Skip-gram rather than CBOW: it represents rare words better, and a training split
  of a few thousand interviews has many of them. One worker thread and a fixed seed
  make the vectors reproducible. Rows follow `vocab`; padding is zero.
  """
  from gensim.models import Word2Vec  # pylint: disable=g-import-not-at-top
  sentences = [list(s) for s in sentences if s]
  matrix = _random_rows(len(vocab), dim, seed)
  if not sentences:
    logging.warning('No training text: word2vec embeddings are random.')
    return matrix
  from gensim.models.callbacks import CallbackAny2Vec  # pylint: disable=g-import-not-at-top

  class _EpochBar(CallbackAny2Vec):
    """Advances a progress bar per word2vec epoch (gensim's own are INFO log lines)."""

    def __init__(self, bar):
      self.bar = bar

    def on_epoch_end(self, model):
      del model
      self.bar.update(1)

  with tqdm.tqdm(total=epochs, desc='word2vec', unit='epoch', leave=False) as bar:
    model = Word2Vec(
        sentences=sentences, vector_size=dim, window=5, min_count=1, sg=1,
        negative=5, workers=1, seed=seed, epochs=epochs, hashfxn=_stable_hash,
        callbacks=[_EpochBar(bar)])
  for i, token in enumerate(vocab.tokens):
    if i >= 2 and token in model.wv.key_to_index:
      matrix[i] = model.wv[token]
  return matrix


def _random_rows(n: int, dim: int, seed: int, scale: float = 0.1) -> np.ndarray:
  rng = np.random.default_rng([seed, 7])
  matrix = (scale * rng.standard_normal((n, dim))).astype(np.float32)
  matrix[PAD_ID] = 0.0
  return matrix
