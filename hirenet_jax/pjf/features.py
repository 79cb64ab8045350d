"""Text features of the person-job-fit baselines: a vocabulary of the training split and
word ids padded to fixed shapes with explicit lengths.

Each document (a resume; a job's title and description) is featurised twice: as one
word sequence (PJFNN, BPJFNN) and as sentences of words (APJFNN, IPJF: the job's
requirements and the resume's experiences are its sentences). Id 0 is padding, id 1 an
unknown word. Tokens are lower-cased runs of word characters (`\\w+`); text already
segmented by spaces (Chinese through jieba) is therefore used as it is.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from typing import Sequence

import numpy as np

from hirenet_jax.pjf.corpus import Corpus

PAD, UNK = 0, 1
_TOKEN = re.compile(r'\w+', re.UNICODE)
_SENTENCE_END = re.compile(r'[.!?;\n\u3002\uff01\uff1f\uff1b]+')


def tokenize(text: str) -> list[str]:
  return _TOKEN.findall(text.lower())


def sentences(text: str) -> list[list[str]]:
  """The non-empty sentences of `text` as token lists."""
  return [t for t in (tokenize(s) for s in _SENTENCE_END.split(text)) if t]


def job_text(job) -> str:
  return f'{job.title}.\n{job.description}'


@dataclasses.dataclass(frozen=True)
class Vocabulary:
  """Word -> id; ids 0 and 1 are padding and unknown words."""
  words: tuple[str, ...]

  def __post_init__(self):
    object.__setattr__(self, '_index', {w: i + 2 for i, w in enumerate(self.words)})

  @property
  def size(self) -> int:
    return len(self.words) + 2

  def ids(self, tokens: Sequence[str]) -> list[int]:
    return [self._index.get(t, UNK) for t in tokens]


def build_vocabulary(corpus: Corpus, min_count: int = 2, max_size: int = 20000
                     ) -> Vocabulary:
  """Words of the documents that appear in training pairs (min_count, most frequent
  first, ties alphabetical): validation and test documents leave no trace in it."""
  train = corpus.split('train')
  docs = [corpus.resumes[c].text for c in sorted({p.candidate_id for p in train})]
  docs += [job_text(corpus.jobs[j]) for j in sorted({p.job_id for p in train})]
  counts = collections.Counter(t for d in docs for t in tokenize(d))
  kept = sorted((w for w, n in counts.items() if n >= min_count),
                key=lambda w: (-counts[w], w))[:max_size]
  return Vocabulary(tuple(kept))


@dataclasses.dataclass(frozen=True)
class DocumentArrays:
  """A table of documents, row i the i-th id of `ids`.

  words_NxT / lengths_N: the document as one sequence (truncated to T words);
  sentences_NxSxW / sentence_lengths_NxS: its first S sentences, each truncated to W.
  """
  ids: tuple[str, ...]
  words_NxT: np.ndarray
  lengths_N: np.ndarray
  sentences_NxSxW: np.ndarray
  sentence_lengths_NxS: np.ndarray


def encode_documents(ids: Sequence[str], texts: Sequence[str], vocab: Vocabulary,
                     max_words: int, max_sentences: int, max_sentence_words: int
                     ) -> DocumentArrays:
  n = len(texts)
  words = np.zeros((n, max_words), np.int32)
  lengths = np.zeros((n,), np.int32)
  sents = np.zeros((n, max_sentences, max_sentence_words), np.int32)
  sent_lengths = np.zeros((n, max_sentences), np.int32)
  for i, text in enumerate(texts):
    w = vocab.ids(tokenize(text))[:max_words]
    words[i, :len(w)] = w
    lengths[i] = len(w)
    for s, tokens in enumerate(sentences(text)[:max_sentences]):
      w = vocab.ids(tokens)[:max_sentence_words]
      sents[i, s, :len(w)] = w
      sent_lengths[i, s] = len(w)
  return DocumentArrays(tuple(ids), words, lengths, sents, sent_lengths)


@dataclasses.dataclass(frozen=True)
class Features:
  """Everything the models read: both document tables and the id vocabularies."""
  vocab: Vocabulary
  resumes: DocumentArrays
  jobs: DocumentArrays
  candidate_index: dict[str, int]
  job_index: dict[str, int]


def featurize(corpus: Corpus, *, min_count: int = 2, max_vocab: int = 20000,
              max_words: int = 256, max_sentences: int = 16, max_sentence_words: int = 24
              ) -> Features:
  """Vocabulary of the training split; every resume and job encoded (sorted ids)."""
  vocab = build_vocabulary(corpus, min_count, max_vocab)
  cand_ids = sorted(corpus.resumes)
  job_ids = sorted(corpus.jobs)
  resumes = encode_documents(cand_ids, [corpus.resumes[c].text for c in cand_ids], vocab,
                             max_words, max_sentences, max_sentence_words)
  jobs = encode_documents(job_ids, [job_text(corpus.jobs[j]) for j in job_ids], vocab,
                          max_words, max_sentences, max_sentence_words)
  return Features(vocab, resumes, jobs, {c: i for i, c in enumerate(cand_ids)},
                  {j: i for i, j in enumerate(job_ids)})


def pair_batch(features: Features, pairs: Sequence, rows: int) -> dict[str, np.ndarray]:
  """The arrays of `pairs` padded to `rows` rows (padding rows have weight 0).

  Keys: candidate / job (id indices), resume_* and job_* document arrays, the two
  labels, match, weight.
  """
  n = len(pairs)
  if n > rows:
    raise ValueError(f'{n} pairs do not fit in a batch of {rows}')
  ci = np.zeros((rows,), np.int32)
  ji = np.zeros((rows,), np.int32)
  ci[:n] = [features.candidate_index[p.candidate_id] for p in pairs]
  ji[:n] = [features.job_index[p.job_id] for p in pairs]
  labels = np.zeros((rows, 2), np.float32)
  labels[:n, 0] = [p.job_accepts for p in pairs]
  labels[:n, 1] = [p.candidate_accepts for p in pairs]
  weight = np.zeros((rows,), np.float32)
  weight[:n] = 1.0
  r, j = features.resumes, features.jobs
  return {
      'candidate': ci, 'job': ji,
      'resume_words': r.words_NxT[ci], 'resume_lengths': r.lengths_N[ci],
      'resume_sentences': r.sentences_NxSxW[ci],
      'resume_sentence_lengths': r.sentence_lengths_NxS[ci],
      'job_words': j.words_NxT[ji], 'job_lengths': j.lengths_N[ji],
      'job_sentences': j.sentences_NxSxW[ji],
      'job_sentence_lengths': j.sentence_lengths_NxS[ji],
      'job_accepts': labels[:, 0], 'candidate_accepts': labels[:, 1],
      'match': labels[:, 0] * labels[:, 1], 'weight': weight,
  }
