"""Pretrained word vectors from a file of any common format, kept only for a vocabulary.

Formats, detected from the content (not the file name):
  word2vec_bin   the C tool's binary: a "V D" header line, then per word the word, a
                 space and D little-endian float32 (the tool writes a newline after each
                 vector; accepted with or without it).
  text           a "V D" header line, then "word v1 ... vD" lines: word2vec text and
                 fastText .vec (whose lines end with a space).
  glove          the same lines without a header; D is read from the first line. A line
                 with more fields than D + 1 is a word with spaces in it (GloVe 840B has
                 some): the last D fields are its vector.
  fasttext_bin   fastText's own model file, loaded whole by gensim: its subword n-grams
                 give any word a vector, also one that is not in the file (`subwords`).
Names ending in .gz are read through gzip (not fastText .bin).

Files of several gigabytes are streamed: only the rows of the vocabulary's words are
parsed and kept, so memory follows the vocabulary, not the file. Our tokeniser lowercases
while many vector files keep case ("Paris", not "paris"): a vocabulary word missing from
the file takes the vector of its first differently-cased spelling there (files list
frequent words first), unless the file has the exact spelling later.
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import os
import struct
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

FORMATS = ('word2vec_bin', 'text', 'glove', 'fasttext_bin')
_FASTTEXT_MAGIC = 793712314  # First int32 of a fastText .bin model.
_CHUNK = 1 << 20
_MAX_WORD_BYTES = 4096  # A longer word in a binary file means the file is misread.


class VectorFileError(ValueError):
  """A vector file that cannot be read; says the file, the line (if any) and why."""

  def __init__(self, path: str, line: int | None, reason: str):
    self.path, self.line, self.reason = path, line, reason
    where = f'{path}, line {line}' if line is not None else path
    super().__init__(f'{where}: {reason}')


@dataclasses.dataclass(frozen=True)
class Vectors:
  """Word vectors read from `path`.

  Attributes:
    words: the words that have a vector: the vocabulary's words found in the file (in
      vocabulary order) or, unrestricted, every word of the file (in file order).
    matrix: <float32>[len(words), dim].
    format: one of FORMATS.
    file_words: how many words the file holds.
    lowercased: words whose vector is that of another spelling of them in the file.
    undecodable: words of the file that were not valid UTF-8 (read with U+FFFD).
    subwords: fastText .bin only: the vector of any word, built from its n-grams.
  """
  words: list[str]
  matrix: np.ndarray
  path: str
  format: str
  file_words: int
  lowercased: frozenset[str] = frozenset()
  undecodable: int = 0
  subwords: Callable[[str], np.ndarray] | None = None

  @property
  def dim(self) -> int:
    return int(self.matrix.shape[1])

  def index(self) -> dict[str, int]:
    """Word -> row of `matrix`."""
    return {w: i for i, w in enumerate(self.words)}


@dataclasses.dataclass(frozen=True)
class Coverage:
  """How much of a vocabulary, and of the running text it comes from, has a vector."""
  words: int
  words_found: int  # In the file, exact or another spelling.
  words_lowercased: int  # Of words_found, found under another spelling.
  words_from_subwords: int  # Not in the file, given a vector by fastText's n-grams.
  tokens: int
  tokens_covered: int  # Occurrences of the words found.

  @property
  def word_rate(self) -> float:
    return self.words_found / self.words if self.words else 0.0

  @property
  def token_rate(self) -> float:
    return self.tokens_covered / self.tokens if self.tokens else 0.0

  def summary(self) -> str:
    text = (f'{self.words_found} of {self.words} words ({self.word_rate:.1%}) have a '
            f'vector, covering {self.tokens_covered} of {self.tokens} tokens '
            f'({self.token_rate:.1%}); {self.words_lowercased} found under another case')
    if self.words_from_subwords:
      text += f'; {self.words_from_subwords} more from subwords'
    return text


def coverage(vectors: Vectors, vocabulary: Sequence[str] | Mapping[str, int]) -> Coverage:
  """Coverage of `vocabulary` (words, or word -> count in the corpus) by `vectors`."""
  counts = vocabulary if isinstance(vocabulary, Mapping) else {w: 1 for w in vocabulary}
  found = set(vectors.words)
  hit = [w for w in counts if w in found]
  return Coverage(
      words=len(counts), words_found=len(hit),
      words_lowercased=sum(w in vectors.lowercased for w in hit),
      words_from_subwords=len(counts) - len(hit) if vectors.subwords else 0,
      tokens=int(sum(counts.values())), tokens_covered=int(sum(counts[w] for w in hit)))


def embedding_table(vectors: Vectors, tokens: Sequence[str], *, seed: int = 0,
                    zero_rows: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
  """(<float32>[len(tokens), dim] rows for `tokens`, <bool>[len(tokens)] found in the file).

  A token without a vector takes its fastText subword vector if the file has subwords,
  else a seeded random one of the file's spread; `zero_rows` (padding) are zero.
  """
  index = vectors.index()
  rng = np.random.default_rng([seed, 7])
  scale = float(np.std(vectors.matrix)) if vectors.matrix.size else 0.1
  table = (scale * rng.standard_normal((len(tokens), vectors.dim))).astype(np.float32)
  found = np.zeros(len(tokens), bool)
  for i, token in enumerate(tokens):
    if token in index:
      table[i], found[i] = vectors.matrix[index[token]], True
    elif vectors.subwords is not None:
      table[i] = vectors.subwords(token)
  table[list(zero_rows)] = 0.0
  return table, found


# ------------------------------------------------------------------------ reading


def detect_format(path: str) -> str:
  """Which of FORMATS `path` is, from its first bytes.

  Raises:
    VectorFileError: an empty file, or a first line that fits no format.
  """
  with _open(path) as f:
    first = f.readline(1 << 16)
    if len(first) >= 4 and struct.unpack('<i', first[:4])[0] == _FASTTEXT_MAGIC:
      return 'fasttext_bin'
    if not first.strip():
      raise VectorFileError(path, 1, 'the file is empty' if not first else 'empty first line')
    header = _header(first)
    if header is None:
      return 'glove'
    second = f.readline(_MAX_WORD_BYTES + 64 * header[1])
  # After a header, a text file's next line is the word and D numbers in ASCII.
  try:
    fields = second.decode('ascii').split()
    [float(x) for x in fields[-header[1]:]]
    text = len(fields) >= header[1] + 1
  except (UnicodeDecodeError, ValueError):
    text = False
  return 'text' if text or not second else 'word2vec_bin'


def read_vectors(path: str, vocabulary: Iterable[str] | None = None, *,
                 lowercase_fallback: bool = True, file_format: str | None = None
                 ) -> Vectors:
  """The vectors of `path` (format detected unless given), only `vocabulary`'s if given.

  Raises:
    VectorFileError: a missing or malformed file, naming the line and the reason.
  """
  if not os.path.isfile(path):
    raise VectorFileError(path, None, 'no such file')
  file_format = file_format or detect_format(path)
  if file_format not in FORMATS:
    raise ValueError(f'unknown vector format {file_format!r} (one of {", ".join(FORMATS)})')
  keep = _Keep(None if vocabulary is None else list(vocabulary), lowercase_fallback)
  if file_format == 'fasttext_bin':
    return _read_fasttext_bin(path, keep)
  with _open(path) as f:
    if file_format == 'word2vec_bin':
      count, dim = _read_header(f, path)
      entries = _binary_entries(f, path, count, dim)
    else:
      count, dim = _read_header(f, path) if file_format == 'text' else (None, None)
      entries = _text_entries(f, path, count, dim, 2 if file_format == 'text' else 1)
    file_words = undecodable = 0
    for word, bad, vector in entries:
      file_words += 1
      undecodable += bad
      if keep.wants(word):
        keep.add(word, vector())
      dim = dim or len(vector())
  words, matrix, lowercased = keep.result(dim or 0)
  return Vectors(words=words, matrix=matrix, path=path, format=file_format,
                 file_words=file_words, lowercased=lowercased, undecodable=undecodable)


class _Keep:
  """Which words of the file to keep, and the rows kept (exact spelling wins)."""

  def __init__(self, vocabulary: list[str] | None, lowercase_fallback: bool):
    self.vocabulary = vocabulary
    self.exact: dict[str, np.ndarray] = {}
    self.folded: dict[str, np.ndarray] = {}
    self.by_lower: dict[str, list[str]] = collections.defaultdict(list)
    if vocabulary is not None:
      self.wanted = set(vocabulary)
      if lowercase_fallback:
        for w in self.wanted:
          self.by_lower[w.lower()].append(w)

  def wants(self, word: str) -> bool:
    if self.vocabulary is None:
      return word not in self.exact
    return (word in self.wanted and word not in self.exact) or any(
        v != word and v not in self.folded for v in self.by_lower.get(word.lower(), ()))

  def add(self, word: str, vector: np.ndarray) -> None:
    if self.vocabulary is None or (word in self.wanted and word not in self.exact):
      self.exact[word] = vector
    for v in self.by_lower.get(word.lower(), ()):
      if v != word and v not in self.folded:
        self.folded[v] = vector

  def result(self, dim: int) -> tuple[list[str], np.ndarray, frozenset[str]]:
    if self.vocabulary is None:
      words, lowercased = list(self.exact), frozenset()
      rows = [self.exact[w] for w in words]
    else:
      words = [w for w in dict.fromkeys(self.vocabulary) if w in self.exact or w in self.folded]
      lowercased = frozenset(w for w in words if w not in self.exact)
      rows = [self.exact[w] if w in self.exact else self.folded[w] for w in words]
    matrix = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
    return words, matrix, lowercased


def _open(path: str):
  return gzip.open(path, 'rb') if path.endswith('.gz') else open(path, 'rb')


def _header(line: bytes) -> tuple[int, int] | None:
  fields = line.split()
  if len(fields) == 2 and all(f.isdigit() for f in fields):
    return int(fields[0]), int(fields[1])
  return None


def _read_header(f, path: str) -> tuple[int, int]:
  header = _header(f.readline())
  if header is None or header[1] == 0:
    raise VectorFileError(path, 1, 'expected a header "<number of words> <dimension>"')
  return header


def _decode(word: bytes) -> tuple[str, bool]:
  try:
    return word.decode('utf-8'), False
  except UnicodeDecodeError:
    return word.decode('utf-8', errors='replace'), True


def _binary_entries(f, path: str, count: int, dim: int
                    ) -> Iterator[tuple[str, bool, Callable[[], np.ndarray]]]:
  """(word, undecodable, vector thunk) of each of the `count` entries after the header."""
  size = 4 * dim
  buf, pos = b'', 0
  for i in range(count):
    line = i + 2
    while (space := buf.find(b' ', pos)) < 0:
      if len(buf) - pos > _MAX_WORD_BYTES:
        raise VectorFileError(path, line, f'no space after a word within {_MAX_WORD_BYTES} '
                              'bytes: not a word2vec binary file, or a wrong dimension')
      more = f.read(_CHUNK)
      if not more:
        raise VectorFileError(path, line, f'the file ends after {i} of the {count} words '
                              'announced in the header')
      buf, pos = buf[pos:] + more, 0
    raw = buf[pos:space].lstrip(b'\n')
    word, bad = _decode(raw)
    if not raw or b'\n' in raw:
      raise VectorFileError(path, line, f'bad word {word!r}: the previous vector is not '
                            f'{dim} float32 values, or the word is missing')
    pos = space + 1
    while len(buf) - pos < size:
      more = f.read(max(_CHUNK, size))
      if not more:
        raise VectorFileError(path, line, f'word {word!r}: the file ends after '
                              f'{(len(buf) - pos) // 4} of its {dim} values')
      buf, pos = buf[pos:] + more, 0
    yield word, bad, (lambda data=buf, start=pos, line=line, word=word: _finite(
        np.frombuffer(data, '<f4', dim, start).astype(np.float32), path, line, word))
    pos += size
  rest = buf[pos:] + f.read(_CHUNK)
  if rest.strip():
    raise VectorFileError(path, count + 2, f'more data after the {count} words announced '
                          'in the header')


def _text_entries(f, path: str, count: int | None, dim: int | None, first_line: int
                  ) -> Iterator[tuple[str, bool, Callable[[], np.ndarray]]]:
  """(word, undecodable, vector thunk) of each line; `dim` None: from the first line.

  Without a header (GloVe) a line with extra fields is a word with spaces in it; with
  one (word2vec, fastText: words never hold spaces) it is an error.
  """
  word_spaces = count is None
  seen = 0
  line = first_line - 1
  for line, raw in enumerate(f, start=first_line):
    text = raw.rstrip()
    if not text:
      continue
    if dim is None:
      dim = len(text.split()) - 1
      if dim < 1:
        raise VectorFileError(path, line, 'expected a word and its values')
    if text.count(b' ') == dim:
      raw_word, values = text.split(b' ', 1)
    else:
      fields = text.split()
      if len(fields) == dim + 1:
        raw_word, values = fields[0], b' '.join(fields[1:])
      elif len(fields) > dim + 1 and word_spaces:
        raw_word, values = b' '.join(fields[:-dim]), b' '.join(fields[-dim:])
      else:
        raise VectorFileError(path, line, f'{len(fields) - 1} values after the word, '
                              f'expected {dim}')
    word, bad = _decode(raw_word)
    seen += 1
    if count is not None and seen > count:
      raise VectorFileError(path, line, f'more words than the {count} announced in the header')
    yield word, bad, _text_vector(values, dim, path, line, word)
  if count is not None and seen < count:
    raise VectorFileError(path, line, f'the file ends after {seen} of the {count} words '
                          'announced in the header')


def _text_vector(values: bytes, dim: int, path: str, line: int, word: str
                 ) -> Callable[[], np.ndarray]:
  def parse():
    fields = values.split()
    if len(fields) != dim:
      raise VectorFileError(path, line, f'word {word!r}: {len(fields)} values, expected {dim}')
    out = np.empty(dim, np.float32)
    for j, x in enumerate(fields):
      try:
        out[j] = float(x)
      except ValueError:
        raise VectorFileError(path, line, f'word {word!r}: value {j + 1} '
                              f'{x.decode("utf-8", "replace")!r} is not a number') from None
    return _finite(out, path, line, word)
  return parse


def _finite(vector: np.ndarray, path: str, line: int, word: str) -> np.ndarray:
  if not np.all(np.isfinite(vector)):
    raise VectorFileError(path, line, f'word {word!r}: a value is not finite (nan or inf)')
  return vector


def _read_fasttext_bin(path: str, keep: _Keep) -> Vectors:
  """A fastText model, whole (gensim cannot stream it); rows for the kept words."""
  from gensim.models import fasttext  # pylint: disable=g-import-not-at-top
  try:
    kv = fasttext.load_facebook_vectors(path)
  except Exception as e:  # gensim raises many kinds on a bad file.
    raise VectorFileError(path, None, f'not a fastText model ({type(e).__name__}: {e})'
                          ) from None
  for i, word in enumerate(kv.index_to_key):
    if keep.wants(word):
      keep.add(word, np.asarray(kv.vectors[i], np.float32))
  words, matrix, lowercased = keep.result(kv.vector_size)
  return Vectors(words=words, matrix=matrix, path=path, format='fasttext_bin',
                 file_words=len(kv.index_to_key), lowercased=lowercased,
                 subwords=lambda w: np.asarray(kv.get_vector(w), np.float32))
