r"""Builds the TFDS dataset of one modality from a raw corpus (build_dataset) and
formats the paper's Table 2 of it; the command is `python -m data_prep.build`.

Writes `{data_dir}/hirenet_interviews/{modality}/1.0.0/` (array_record shards) and
`{data_dir}/assets/{modality}/` (meta.json, vocab.txt, embeddings.npy,
feature_stats.npz) as fixed in docs/contracts.md. With --on_error=skip, bad records are
dropped and listed in `{data_dir}/excluded_manifest.csv`.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
import time
from typing import Sequence

from absl import logging
import numpy as np
import tqdm

from data_prep.hirenet import corpus as corpus_lib
from data_prep.hirenet import llm_states
from data_prep.hirenet import splits as splits_lib
from data_prep.hirenet import text as text_lib
from data_prep.hirenet import tfds_builder
from data_prep.hirenet import vectors as vectors_lib
from data_prep.errors import CorpusError
from data_prep.errors import FeatureError
from data_prep.errors import Problem
from data_prep.errors import ProblemLog
from data_prep.errors import write_manifest
from hirenet_jax.core import run_log
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet.dataset_spec import assets_dir
from hirenet_jax.hirenet.dataset_spec import dataset_dir
from hirenet_jax.hirenet.dataset_spec import SPLITS

FORMAT_VERSION = 1  # Bump when the written format or the preprocessing changes.
MANIFEST = 'excluded_manifest.csv'




def _check_args(modality, split, on_error, num_shards, frame_pooling, embeddings,
                gguf=None, representation=None):
  if modality not in dataset_spec.MODALITIES:
    raise ValueError(f'modality must be one of {dataset_spec.MODALITIES}, got {modality!r}')
  if split not in splits_lib.METHODS:
    raise ValueError(f'split must be one of {splits_lib.METHODS}, got {split!r}')
  if on_error not in ('fail', 'skip'):
    raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
  if num_shards is not None and num_shards < 1:
    raise ValueError(f'num_shards must be >= 1, got {num_shards}')
  if frame_pooling is not None and frame_pooling < 1:
    raise ValueError(f'frame_pooling must be >= 1, got {frame_pooling}')
  if embeddings and not os.path.isfile(embeddings):
    raise ValueError(f'embeddings file not found: {embeddings}')
  if gguf and (representation is None or representation.kind != 'llm'):
    raise ValueError('a GGUF model (--gguf) is read only with --representation=llm[:LAYER]')
  if gguf and not os.path.isfile(gguf):
    raise ValueError(f'GGUF model not found: {gguf}')
  if (representation is not None and representation.kind != 'word2vec'
      and not dataset_spec.modality(modality).words):
    raise ValueError(f'--representation={representation} is for text; {modality} answers '
                     'are feature frames')


RUNNERS = ('local', 'beam')


def _check_runner(runner: str, beam_options: str | None, rep) -> None:
  if runner not in RUNNERS:
    raise ValueError(f'runner must be one of {RUNNERS}, got {runner!r}')
  if beam_options and runner != 'beam':
    raise ValueError('Beam pipeline options are read only with runner=beam (--runner=beam)')
  if runner == 'beam' and rep.kind == 'llm':
    raise ValueError('--representation=llm is built by the local runner only')


def _beam_build():
  """data_prep.hirenet.beam_build, the only module that imports Apache Beam (an extra)."""
  try:
    from data_prep.hirenet import beam_build  # pylint: disable=g-import-not-at-top
  except ModuleNotFoundError as e:
    if (e.name or '').split('.')[0] != 'apache_beam':
      raise
    raise ValueError("runner=beam needs Apache Beam: pip install -e '.[beam]'") from None
  return beam_build


def resolve_representation(representation: str | None,
                           embeddings: str | None) -> dataset_spec.Representation:
  """The representation to build: `representation` ('word2vec', 'vectors:PATH',
  'llm[:LAYER]'; default word2vec), or 'vectors:PATH' for `embeddings=PATH` (the older
  spelling); the layer of a bare 'llm' is llm_states.DEFAULT_LAYER.

  Raises:
    ValueError: an unknown form, 'vectors' without a file, or both arguments given and
      naming different representations.
  """
  rep = dataset_spec.parse_representation(representation or 'word2vec')
  if embeddings:
    if representation and (rep.kind != 'vectors' or (
        rep.path and os.path.abspath(rep.path) != os.path.abspath(embeddings))):
      raise ValueError(f'--embeddings={embeddings} asks for vectors:{embeddings} but '
                       f'--representation is {representation}: give one of them')
    rep = dataset_spec.Representation('vectors', path=embeddings)
  if rep.kind == 'vectors' and not rep.path:
    raise ValueError("the 'vectors' representation needs a file: vectors:PATH "
                     '(or --embeddings=PATH)')
  if rep.kind == 'llm' and rep.layer is None:
    rep = dataset_spec.Representation('llm', layer=llm_states.DEFAULT_LAYER)
  return rep


# 'auto' builds word2vec where the training split's answers can train word vectors: their
# median vocabulary word is seen at least this often (our synthetic corpora: hundreds),
# the line train_embeddings=auto draws too. Real text falls far under it (a median word
# seen once or twice) and gets the language model's states (docs/llm.md).
AUTO_MIN_MEDIAN_COUNT = 20
# Above this mean log-loss per token on the training answers (nats), the language model
# does not know the corpus's language and its states are not chosen (SmolLM2-135M:
# 3.9-4.7 on real English, 4.5 on our French corpus, 6.2 on the suite's pseudo-words).
AUTO_MAX_TOKEN_LOSS = 5.5


def choose_representation(corpus_dir: str, *, split: str = 'auto', seed: int = 0,
                          min_count: int = 1,
                          decisions: corpus_lib.Decisions = corpus_lib.DEFAULT_DECISIONS,
                          allow_external_media: bool = False,
                          token_loss=None) -> tuple[str, str]:
  """The text representation a corpus's training split supports, and why, in words:
  'word2vec' when the median count of its answers' vocabulary words is at least
  AUTO_MIN_MEDIAN_COUNT or when the embedded language model does not know their language
  (`token_loss`, default `llm_states.mean_token_loss`, above AUTO_MAX_TOKEN_LOSS on a
  sample of them), else f'llm:{llm_states.DEFAULT_LAYER}'. Reads the corpus and draws the
  splits as build_dataset does (a corpus it cannot split gets word2vec and
  build_dataset's error)."""
  interviews, _ = corpus_lib.read_corpus(corpus_dir, decisions=decisions,
                                         allow_external_media=allow_external_media)
  try:
    assignment = splits_lib.make_splits(
        [i.candidate_id for i in interviews], [i.label for i in interviews],
        [i.position_id for i in interviews], method=split, seed=seed,
        given=[i.split for i in interviews])
  except ValueError:
    return 'word2vec', 'the corpus cannot be split'
  counts = collections.Counter()
  transcripts = []
  for interview in interviews:
    if assignment[interview.candidate_id] == 'train':
      for answer in interview.answers:
        if answer.transcript:
          counts.update(text_lib.tokenize(answer.transcript))
          transcripts.append(answer.transcript)
  kept = [c for c in counts.values() if c >= min_count]
  median = float(np.median(kept)) if kept else 0.0
  if median >= AUTO_MIN_MEDIAN_COUNT:
    return 'word2vec', (f'median training count of a vocabulary word {median:g} >= '
                        f'{AUTO_MIN_MEDIAN_COUNT}: enough text to train word vectors on')
  few = (f'median training count of a vocabulary word {median:g} < '
         f'{AUTO_MIN_MEDIAN_COUNT}: too little text to train word vectors on')
  loss = (token_loss or llm_states.mean_token_loss)(transcripts)
  if loss > AUTO_MAX_TOKEN_LOSS:
    return 'word2vec', (f'{few}, but the language model does not know this text '
                        f'({loss:.2f} nats per token > {AUTO_MAX_TOKEN_LOSS} on a sample of '
                        'training answers)')
  return f'llm:{llm_states.DEFAULT_LAYER}', (
      f'{few}; the language model was pretrained and knows this text ({loss:.2f} nats per '
      f'token <= {AUTO_MAX_TOKEN_LOSS} on a sample of training answers)')


def empty_split(modality: str, split: str, num_usable: int | None) -> Problem:
  """The problem of a split without a usable candidate (either runner)."""
  usable = '' if num_usable is None else f' ({num_usable} usable candidates)'
  return Problem(corpus_lib.INTERVIEWS_FILE, '-',
                 f'{modality}: the {split} split is empty{usable}; the corpus is too '
                 'small for an 80/10/10 split')


def _file_stamp(path: str | None) -> list:
  if not path:
    return [None]
  try:
    st = os.stat(path)
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]
  except OSError:
    return [os.path.abspath(path), None]


def _fingerprint(corpus_dir: str, interviews, modality: str, settings: dict) -> str:
  """Hash of interviews.jsonl, the modality's media files (size, mtime) and settings."""
  h = hashlib.sha256()
  with open(os.path.join(corpus_dir, corpus_lib.INTERVIEWS_FILE), 'rb') as f:
    h.update(f.read())
  if dataset_spec.modality(modality).frame_features:
    for interview in interviews:
      for answer in interview.answers:
        h.update(json.dumps(_file_stamp(answer.source(modality))).encode())
  h.update(json.dumps([FORMAT_VERSION, settings], sort_keys=True).encode())
  return h.hexdigest()


def _extract(modality: str, paths: Sequence[str], *, frame_pooling: int | None,
             workers: int | None) -> list:
  """Features per path (float32 [T, D]) or the FeatureError that stopped it."""
  return _EXTRACTORS[modality](list(paths), frame_pooling=frame_pooling, workers=workers)


def _extract_audio(paths: list[str], *, frame_pooling: int | None,
                   workers: int | None) -> list:
  from data_prep.hirenet import audio  # pylint: disable=g-import-not-at-top
  if workers is None and all(p.endswith(('.npy', '.csv')) for p in paths):
    workers = 1  # Precomputed features load faster than a process pool starts.
  return audio.extract_many(paths, frame_pooling=frame_pooling or 1, workers=workers)


def _extract_video(paths: list[str], *, frame_pooling: int | None,
                   workers: int | None) -> list:
  del frame_pooling  # OpenFace windows are not pooled (Modality.pools_frames).
  workers = workers or os.cpu_count() or 1
  bar = tqdm.tqdm(total=len(paths), desc='OpenFace CSVs', unit='file', leave=False)
  try:
    if workers == 1 or len(paths) < 64:
      results = []
      for p in paths:
        results.append(_load_video(p))
        bar.update(1)
      return results
    ctx = multiprocessing.get_context(
        'forkserver' if 'forkserver' in multiprocessing.get_all_start_methods() else 'spawn')
    with ctx.Pool(workers) as pool:
      results = []
      for result in pool.imap(_load_video, paths, chunksize=16):
        results.append(result)
        bar.update(1)
      return results
  finally:
    bar.close()


def _load_video(path: str):
  """OpenFace features of one file, or the FeatureError (picklable for a pool)."""
  from data_prep.hirenet import video  # pylint: disable=g-import-not-at-top
  try:
    return video.load_openface(path)
  except FeatureError as e:
    return e
  except Exception as e:  # pylint: disable=broad-except
    # A reader bug on odd data must still name the file, not crash the build.
    logging.exception('Unexpected error reading %s', path)
    return FeatureError(path, f'{type(e).__name__}: {e}')


# The feature reader of each frame modality (dataset_spec.FRAME_MODALITIES).
_EXTRACTORS = {'audio': _extract_audio, 'video': _extract_video}


def _feature_info(modality: str, frame_pooling: int | None):
  """(feature names, frames per second after pooling) of a frame modality's build."""
  from data_prep.hirenet import audio  # pylint: disable=g-import-not-at-top
  from data_prep.hirenet import video  # pylint: disable=g-import-not-at-top
  features = {'audio': audio, 'video': video}[modality]  # Both say FEATURE_NAMES, FRAME_RATE.
  return list(features.FEATURE_NAMES), features.FRAME_RATE / (frame_pooling or 1)


def _media_features(modality, interviews, corpus_dir, log: ProblemLog, *,
                    frame_pooling, workers):
  """{(candidate_id, answer_index): float32 [T, D]} for every usable answer."""
  jobs = []
  missing = set()
  for p in corpus_lib.missing_files(interviews, corpus_dir, [modality]):
    log.add(p)
    missing.add((p.candidate_id, p.answer_index))
  for interview in interviews:
    for answer in interview.answers:
      key = (interview.candidate_id, answer.index)
      if answer.source(modality) is not None and key not in missing:
        jobs.append((interview, answer))
  logging.info('Extracting %s features from %d files.', modality, len(jobs))
  results = _extract(modality, [a.source(modality) for _, a in jobs],
                     frame_pooling=frame_pooling, workers=workers)
  dims = collections.Counter(
      r.shape[1] for r in results if isinstance(r, np.ndarray) and r.ndim == 2)
  feature_dim = dims.most_common(1)[0][0] if dims else None
  features = {}
  for (interview, answer), result in zip(jobs, results):
    reason = _feature_problem(result, feature_dim)
    if reason is None:
      features[(interview.candidate_id, answer.index)] = np.asarray(result, np.float32)
      continue
    log.add(corpus_lib.answer_problem(interview, answer, modality, answer.source(modality),
                                      corpus_dir, reason))
  return features, feature_dim


def _feature_problem(result, feature_dim: int | None) -> str | None:
  """Why one extraction `result` (float32 [T, D] or a FeatureError) is unusable, or None.
  Both runners judge each answer with it (data_prep.hirenet.beam_build)."""
  if isinstance(result, FeatureError):
    return result.reason
  if not isinstance(result, np.ndarray) or result.ndim != 2:
    return f'expected a [frames, features] array, got {type(result).__name__}'
  if result.shape[0] == 0:
    return 'no frame (empty features)'
  if result.shape[1] != feature_dim:
    return f'{result.shape[1]} features per frame, the corpus has {feature_dim}'
  if not np.all(np.isfinite(result)):
    return 'NaN or infinite feature values'
  return None


def _text_answers(interviews, tokens, log: ProblemLog, corpus_dir):
  """{(candidate_id, answer_index): tokens} for every non-empty transcript."""
  features = {}
  for interview in interviews:
    for answer in interview.answers:
      if answer.transcript is None:
        continue
      toks = tokens[answer.transcript]
      if not toks:
        log.add(corpus_lib.answer_problem(interview, answer, 'text', None, corpus_dir,
                                          'transcript has no word'))
        continue
      features[(interview.candidate_id, answer.index)] = toks
  return features


def _tokenize_all(interviews) -> dict[str, list[str]]:
  """Tokens of every job title, question and transcript, keyed by the raw string."""
  tokens = {}
  for interview in interviews:
    strings = [interview.job_title]
    for answer in interview.answers:
      strings += [answer.question, answer.transcript]
    for x in strings:
      if x is not None and x not in tokens:
        tokens[x] = text_lib.tokenize(x)
  return tokens


def _vocab_and_embeddings(train_interviews, tokens, *, embeddings, min_count, seed,
                          word2vec=True):
  """Vocabulary of all training-split text, its [V, E] embedding table and the
  representation meta.json records: source 'word2vec' (trained on the split) or
  'vectors:PATH' with the file's format, dimension and coverage of the vocabulary.
  Without `embeddings` or `word2vec` (an llm dataset): the vocabulary, None, None."""
  texts = []
  for interview in train_interviews:
    texts.append(tokens[interview.job_title])
    for answer in interview.answers:
      texts.append(tokens[answer.question])
      if answer.transcript is not None:
        texts.append(tokens[answer.transcript])
  vocab = text_lib.Vocabulary.build(texts, min_count=min_count)
  if embeddings:
    path = os.path.abspath(embeddings)
    words = vocab.tokens[2:]  # Not <pad>, <unk>.
    vectors = vectors_lib.read_vectors(path, words)
    counts = collections.Counter(t for text in texts for t in text if t in vocab)
    cov = vectors_lib.coverage(vectors, {w: counts[w] for w in words})
    emb, _ = vectors_lib.embedding_table(vectors, vocab.tokens, seed=seed,
                                         zero_rows=[text_lib.PAD_ID])
    logging.info('%s: %s.', path, cov.summary())
    return vocab, emb, dict(
        source=f'vectors:{path}', format=vectors.format, dim=vectors.dim,
        coverage=dataclasses.asdict(cov),
        missing_words=cov.words - cov.words_found - cov.words_from_subwords)
  if not word2vec:
    return vocab, None, None
  emb = text_lib.train_word2vec(texts, vocab, seed=seed)
  return vocab, emb, dict(source='word2vec', dim=int(emb.shape[1]), missing_words=0)


def _texts_of(usable) -> list[str]:
  """Every job title, question and transcript the examples of `usable` candidates hold."""
  strings = []
  for interview, answers in usable:
    strings.append(interview.job_title)
    for answer in answers:
      strings += [answer.question, answer.transcript]
  return strings


def _llm_states(by_split, tokens, vocab, *, layer, gguf, data_dir, expect_encoder=None):
  """Word states of every text of the examples ({text: float16 [W, D]}), meta.json's
  `embeddings` entry, and from the training split (None without one): the word table of
  its mean states and the per-dimension (mean, std) of its answers' states.
  `expect_encoder`: the name the states must have been made by (a corpus featurised like
  a trained dataset)."""
  encoder = llm_states.make_encoder(gguf)
  if expect_encoder is not None and encoder.name != expect_encoder:
    raise ValueError(f'the trained dataset\'s states come from {expect_encoder}, this '
                     f'encoder is {encoder.name}')
  try:
    layer = encoder.layer_index(layer)
  except ValueError as e:
    raise ValueError(f'representation llm:{layer}: {e}') from None
  strings = _texts_of(u for s in by_split for u in by_split[s])
  states, info = llm_states.encode_words(
      strings, encoder, layer=layer,
      cache_root=os.path.join(data_dir, llm_states.CACHE_DIR))
  table = stats = None
  if 'train' in by_split:
    train = list(dict.fromkeys(_texts_of(by_split['train'])))
    table = llm_states.word_table(vocab, [tokens[t] for t in train],
                                  [states[t] for t in train])
    answers = [states[a.transcript] for _, answers in by_split['train'] for a in answers]
    stats = _norm_stats(answers, encoder.dim)
  entry = dict(source=f'llm:{layer}', encoder=encoder.name,
               gguf=os.path.abspath(gguf) if gguf else None, dim=encoder.dim,
               layer=layer, num_layers=encoder.num_layers, pooling=llm_states.POOLING,
               **info, missing_words=0)
  return states, entry, table, stats


def _example(interview, answers, features, tokens, vocab, stats, states=None) -> dict:
  """One TFDS example (docs/contracts.md); `stats` (mean, std) for audio/video; `states`
  {text: float16 [W, D]} the word states of an llm text dataset."""
  parts = [features[(interview.candidate_id, a.index)] for a in answers]
  if stats is None:
    parts = [vocab.encode(p) for p in parts]
    answers_arr = np.concatenate(parts).astype(np.int32)
  else:
    answers_arr = ((np.concatenate(parts) - stats[0]) / stats[1]).astype(np.float32)
  questions = [vocab.encode(tokens[a.question]) for a in answers]
  example = {
      'candidate_id': interview.candidate_id,
      'position_id': interview.position_id,
      'label': interview.label,
      'answers': answers_arr,
      'answer_lengths': np.asarray([len(p) for p in parts], np.int32),
      'answer_index': np.asarray([a.index for a in answers], np.int32),
      'questions': np.concatenate(questions).astype(np.int32),
      'question_lengths': np.asarray([len(q) for q in questions], np.int32),
      'job_title': vocab.encode(tokens[interview.job_title]),
  }
  if states is not None:  # One state per word id, in the same order.
    example['answer_states'] = np.concatenate([states[a.transcript] for a in answers])
    example['question_states'] = np.concatenate([states[a.question] for a in answers])
    example['job_title_states'] = states[interview.job_title]
  return example


def _table2(modality, examples, lengths, frame_rate) -> dict:
  """The paper's Table 2 figures for one modality (lengths in words or seconds)."""
  all_lengths = [t for s in lengths for rec in lengths[s] for t in rec]
  total = float(sum(all_lengths))
  if frame_rate:
    total /= frame_rate
  counts = {s: len(examples[s]) for s in examples}
  num = sum(counts.values())
  return dict(
      modality=modality,
      unit=dataset_spec.modality(modality).length_unit,
      candidates=counts | {'total': num},
      questions_per_interview=len(all_lengths) / num,
      total_length=total,
      length_per_question=total / len(all_lengths),
      hirable_proportion=sum(e['label'] for s in examples for e in examples[s]) / num,
  )


def _norm_stats(arrays: Sequence[np.ndarray], dim: int):
  """Per-feature mean and std (float32 [D]); a constant feature gets std 1."""
  count = 0
  total = np.zeros(dim, np.float64)
  total_sq = np.zeros(dim, np.float64)
  for x in arrays:
    x = x.astype(np.float64)
    count += x.shape[0]
    total += x.sum(0)
    total_sq += np.square(x).sum(0)
  return _stats_from_sums(count, total, total_sq)


def _stats_from_sums(count: int, total: np.ndarray, total_sq: np.ndarray):
  """_norm_stats's (mean, std) from the frame count and float64 [D] sums of x and x**2."""
  mean = total / max(count, 1)
  var = np.maximum(total_sq / max(count, 1) - np.square(mean), 0.0)
  std = np.sqrt(var)
  std[std < 1e-6] = 1.0
  return mean.astype(np.float32), std.astype(np.float32)


def _cached(data_dir: str, modality: str, fingerprint: str) -> dict | None:
  meta_path = os.path.join(assets_dir(data_dir, modality), 'meta.json')
  info_path = os.path.join(dataset_dir(data_dir, modality), 'dataset_info.json')
  if not (os.path.exists(meta_path) and os.path.exists(info_path)):
    return None
  with open(meta_path, encoding='utf-8') as f:
    meta = json.load(f)
  return meta if meta.get('fingerprint') == fingerprint else None


class _Stopwatch:
  """Wall seconds of the consecutive named stages of a build."""

  def __init__(self):
    self.seconds = {}
    self._last = time.perf_counter()

  def lap(self, stage: str) -> None:
    """Ends `stage`: it lasted from the previous lap (or the start) until now."""
    now = time.perf_counter()
    self.seconds[stage] = now - self._last
    self._last = now


def _summary(meta: dict, *, cached: bool) -> dict:
  keys = ('modality', 'table2', 'counts', 'oov_rate', 'embeddings', 'split',
          'seed', 'dataset_dir', 'assets_dir', 'manifest', 'fingerprint')
  out = {k: meta.get(k) for k in keys}
  out['cached'] = cached
  return out


def build_dataset(corpus_dir: str, modality: str, data_dir: str, *,
                  split: str = 'auto', seed: int = 0, on_error: str = 'fail',
                  embeddings: str | None = None, num_shards: int | None = None,
                  frame_pooling: int | None = None, workers: int | None = None,
                  overwrite: bool = False, min_count: int = 1,
                  decisions: corpus_lib.Decisions = corpus_lib.DEFAULT_DECISIONS,
                  allow_external_media: bool = False, representation: str | None = None,
                  gguf: str | None = None, runner: str = 'local',
                  beam_options: str | None = None) -> dict:
  """Validates the corpus, extracts features and writes the TFDS dataset + assets.

  `decisions` and `allow_external_media` are corpus.read_corpus's. `representation`
  ('word2vec' by default, 'vectors:PATH' as `embeddings=PATH`, 'llm[:LAYER]': the states
  of `gguf`, default the embedded SmolLM2, llm_states.py) is how text is represented.
  `runner` 'beam' extracts, counts and writes in an Apache Beam pipeline instead of this
  process's pool (the same dataset; `beam_options` as beam_build.pipeline_options reads
  them; docs/corpus_format.md).

  Returns the Table 2 figures, counts and paths (see `_summary`); a build that ran
  adds `stage_seconds`, the wall time of its stages: 'read' (corpus, splits, tokens),
  'features' (audio/video extraction; text: transcripts), 'vocab' (vocabulary,
  word2vec, normalisation statistics), 'encode' (llm: the language model's states) and
  'write' (examples, shards, assets). Nothing is redone when a dataset with the same
  corpus fingerprint and settings exists, unless `overwrite`.

  Raises:
    CorpusError: a bad record with on_error='fail' (names file, line/candidate,
      reason), or a corpus too small for the splits.
    FileExistsError: a dataset built from another corpus/settings is in the way.
    ValueError: a bad argument or embeddings file.
  """
  rep = resolve_representation(representation, embeddings)
  embeddings = rep.path if rep.kind == 'vectors' else None
  _check_args(modality, split, on_error, num_shards, frame_pooling, embeddings, gguf, rep)
  _check_runner(runner, beam_options, rep)
  watch = _Stopwatch()
  if not dataset_spec.modality(modality).pools_frames:
    frame_pooling = None
  corpus_dir = os.path.abspath(corpus_dir)
  data_dir = os.path.abspath(data_dir)
  log = ProblemLog(on_error)
  interviews, problems = corpus_lib.read_corpus(
      corpus_dir, decisions=decisions, allow_external_media=allow_external_media)
  num_read = len(interviews) + sum(p.record != '-' for p in problems)
  split = splits_lib.resolve_method(split, [i.split for i in interviews])
  settings = dict(modality=modality, split=split, seed=seed, on_error=on_error,
                  embeddings=_file_stamp(embeddings), num_shards=num_shards,
                  frame_pooling=frame_pooling, min_count=min_count)
  # Only non-default reading options enter the fingerprint: existing datasets stay valid.
  if decisions != corpus_lib.DEFAULT_DECISIONS:
    settings['decisions'] = [sorted(decisions.hirable), sorted(decisions.not_hirable)]
  if allow_external_media:
    settings['allow_external_media'] = True
  if rep.kind == 'llm':  # Never the dataset of another representation, layer or model.
    settings['representation'] = [str(rep), _file_stamp(gguf), llm_states.POOLING]
  fingerprint = _fingerprint(corpus_dir, interviews, modality, settings)
  if not overwrite:
    meta = _cached(data_dir, modality, fingerprint)
    if meta is not None:
      logging.info('Dataset %s is up to date; nothing to do.', meta['dataset_dir'])
      return _summary(meta, cached=True)
  logging.info('Preparing the %s dataset of %s in %s.', modality, corpus_dir, data_dir)
  out_dir = dataset_dir(data_dir, modality)
  if os.path.exists(out_dir) and not overwrite:
    raise FileExistsError(
        f'{out_dir} exists and was built from another corpus or with other settings; '
        'pass overwrite=True (--overwrite) to replace it')
  log.extend(problems)

  # Splits come from every structurally valid candidate, before modality-specific
  # exclusions, so one candidate falls in the same split for every modality.
  try:
    assignment = splits_lib.make_splits(
        [i.candidate_id for i in interviews], [i.label for i in interviews],
        [i.position_id for i in interviews], method=split, seed=seed,
        given=[i.split for i in interviews])
  except ValueError as e:
    raise CorpusError(f'{os.path.join(corpus_dir, corpus_lib.INTERVIEWS_FILE)}: {e}') from e
  if runner == 'beam':  # Everything that reads media or scales with the text, on Beam.
    return _beam_build().build(
        interviews, assignment, log, corpus_dir=corpus_dir, data_dir=data_dir,
        modality=modality, split=split, seed=seed, on_error=on_error, min_count=min_count,
        embeddings=embeddings, num_shards=num_shards, frame_pooling=frame_pooling,
        overwrite=overwrite, num_read=num_read, fingerprint=fingerprint, workers=workers,
        beam_options=beam_options, watch=watch)
  tokens = _tokenize_all(interviews)
  watch.lap('read')
  features, feature_dim = _answer_features(
      modality, interviews, tokens, corpus_dir, log, frame_pooling=frame_pooling,
      workers=workers)
  usable, num_without = _usable_candidates(interviews, features, modality, log)
  watch.lap('features')
  by_split = {s: [c for c in usable if assignment[c[0].candidate_id] == s]
              for s in SPLITS}
  for s in SPLITS:
    if not by_split[s]:
      raise CorpusError(empty_split(modality, s, len(usable)))

  train_ids = {c for c, s in assignment.items() if s == 'train'}
  vocab, emb, emb_info = _vocab_and_embeddings(
      [i for i in interviews if i.candidate_id in train_ids], tokens,
      embeddings=embeddings, min_count=min_count, seed=seed, word2vec=rep.kind != 'llm')
  stats = None
  if dataset_spec.modality(modality).frame_features:
    stats = _norm_stats([features[(i.candidate_id, a.index)]
                         for i, answers in by_split['train'] for a in answers],
                        feature_dim)
  watch.lap('vocab')
  states = None
  if rep.kind == 'llm':
    states, emb_info, emb, state_stats = _llm_states(
        by_split, tokens, vocab, layer=rep.layer, gguf=gguf, data_dir=data_dir)
    states = (states, state_stats)
    watch.lap('encode')
  meta = _write_all(
      by_split, features, tokens, vocab, emb, stats, log,
      modality=modality, data_dir=data_dir, num_shards=num_shards,
      overwrite=overwrite, on_error=on_error, frame_pooling=frame_pooling,
      num_read=num_read, num_without=num_without, states=states,
      extra=dict(corpus_dir=corpus_dir, split=split, seed=seed, min_count=min_count,
                 embeddings=emb_info, fingerprint=fingerprint))
  watch.lap('write')
  logging.info('Built %s in %.1f s (%s).', modality, sum(watch.seconds.values()),
               ', '.join(f'{k} {v:.1f} s' for k, v in watch.seconds.items()))
  return _summary(meta, cached=False) | {'stage_seconds': watch.seconds}


def featurize_corpus(corpus_dir: str, modality: str, trained_data_dir: str,
                     out_dir: str, *, on_error: str = 'skip',
                     num_shards: int | None = None, workers: int | None = None,
                     decisions: corpus_lib.Decisions = corpus_lib.DEFAULT_DECISIONS,
                     allow_external_media: bool = False) -> dict:
  """Prepares a new corpus (e.g. for prediction) like an existing dataset.

  Every usable candidate goes to one split, 'test', encoded with the vocabulary and
  normalised with the feature statistics of `trained_data_dir` (and its frame pooling),
  so a model trained on that dataset can score it. `out_dir` is replaced.

  Returns the summary of `build_dataset` plus `splits` (('test',)).
  """
  _check_args(modality, 'by_candidate', on_error, num_shards, None, None)
  trained_assets = assets_dir(trained_data_dir, modality)
  with open(os.path.join(trained_assets, 'meta.json'), encoding='utf-8') as f:
    trained = json.load(f)
  corpus_dir, out_dir = os.path.abspath(corpus_dir), os.path.abspath(out_dir)
  log = ProblemLog(on_error)
  interviews, problems = corpus_lib.read_corpus(
      corpus_dir, decisions=decisions, allow_external_media=allow_external_media)
  log.extend(problems)
  tokens = _tokenize_all(interviews)
  frame_pooling = trained.get('frame_pooling')
  features, feature_dim = _answer_features(
      modality, interviews, tokens, corpus_dir, log, frame_pooling=frame_pooling,
      workers=workers)
  if (dataset_spec.modality(modality).frame_features
      and feature_dim not in (None, trained['feature_dim'])):
    raise CorpusError(Problem(corpus_lib.INTERVIEWS_FILE, '-',
                              f'{modality}: {feature_dim} features per frame, the '
                              f'trained dataset has {trained["feature_dim"]}'))
  usable, num_without = _usable_candidates(interviews, features, modality, log)
  if not usable:
    raise CorpusError(Problem(corpus_lib.INTERVIEWS_FILE, '-',
                              f'{modality}: no usable candidate'))
  vocab = text_lib.Vocabulary.load(os.path.join(trained_assets, 'vocab.txt'))
  emb = np.load(os.path.join(trained_assets, 'embeddings.npy'))
  states, trained_entry = None, trained.get('embeddings') or {}
  if trained.get('state_dim'):  # Encoded by the trained dataset's model and layer.
    states, entry, _, _ = _llm_states(
        {'test': usable}, tokens, vocab, layer=trained_entry['layer'],
        gguf=trained_entry['gguf'], data_dir=out_dir, expect_encoder=trained_entry['encoder'])
    with np.load(os.path.join(trained_assets, dataset_spec.STATE_STATS_FILE)) as z:
      states = (states, (z['mean'], z['std']))
    trained_entry = dict(trained_entry, **{k: entry[k] for k in (
        'texts', 'words', 'tokens', 'texts_from_cache', 'texts_truncated', 'seconds',
        'tokens_per_second', 'words_per_second')})
  stats = None
  if dataset_spec.modality(modality).frame_features:
    with np.load(os.path.join(trained_assets, 'feature_stats.npz')) as z:
      stats = (z['mean'], z['std'])
  meta = _write_all(
      {'test': usable}, features, tokens, vocab, emb, stats, log, modality=modality,
      data_dir=out_dir, num_shards=num_shards, overwrite=True, on_error=on_error,
      states=states,
      frame_pooling=frame_pooling, num_read=len(interviews) + sum(
          p.record != '-' for p in problems), num_without=num_without,
      extra=dict(corpus_dir=corpus_dir, split='all_test', seed=trained.get('seed'),
                 min_count=trained.get('min_count'), embeddings=trained_entry or None,
                 trained_data_dir=os.path.abspath(trained_data_dir), fingerprint=None))
  return _summary(meta, cached=False) | {'splits': ('test',)}


def _answer_features(modality, interviews, tokens, corpus_dir, log, *, frame_pooling,
                     workers):
  """({(candidate_id, answer_index): tokens or float32 [T, D]}, D or None)."""
  if dataset_spec.modality(modality).words:
    return _text_answers(interviews, tokens, log, corpus_dir), None
  return _media_features(modality, interviews, corpus_dir, log,
                         frame_pooling=frame_pooling, workers=workers)


def _usable_candidates(interviews, features, modality, log):
  """[(interview, usable answers)] by candidate id, and the answers lacking the modality."""
  usable, num_without = [], 0
  for interview in sorted(interviews, key=lambda i: i.candidate_id):
    answers = [a for a in interview.answers
               if (interview.candidate_id, a.index) in features]
    num_without += sum(a.source(modality) is None for a in interview.answers)
    if answers:
      usable.append((interview, answers))
    else:
      log.add(corpus_lib.no_usable_answer(interview, modality))
  return usable, num_without


def _write_all(by_split, features, tokens, vocab, emb, stats, log, *, modality,
               data_dir, num_shards, overwrite, on_error, frame_pooling, num_read,
               num_without, extra, states=None) -> dict:
  """Writes shards, assets, the manifest and meta.json (last: it marks completion).
  `states`: an llm dataset's ({text: float16 [W, D]}, training (mean, std))."""
  splits = tuple(by_split)
  states, state_stats = states if states is not None else (None, None)
  examples = {s: [_example(interview, answers, features, tokens, vocab, stats, states)
                  for interview, answers in by_split[s]] for s in splits}
  state_dim = int(emb.shape[1]) if states is not None else 0
  feature_dim = int(stats[0].shape[0]) if stats is not None else None
  if dataset_spec.modality(modality).words:
    feature_names, frame_rate = [], None
  else:
    feature_names, frame_rate = _feature_info(modality, frame_pooling)
    if feature_dim != len(feature_names):
      feature_names = [f'feature_{k}' for k in range(feature_dim)]
  out_dir, out_assets = dataset_dir(data_dir, modality), assets_dir(data_dir, modality)
  if overwrite:
    for d in (out_dir, out_assets):
      if os.path.exists(d):
        shutil.rmtree(d)
  os.makedirs(out_assets, exist_ok=True)
  logging.info('Writing %s shards to %s.', modality, out_dir)
  tfds_builder.write(examples, modality=modality, data_dir=data_dir,
                     feature_dim=feature_dim, num_shards=num_shards, state_dim=state_dim)
  vocab.save(os.path.join(out_assets, 'vocab.txt'))
  np.save(os.path.join(out_assets, 'embeddings.npy'), emb.astype(np.float32))
  if stats is not None:
    np.savez(os.path.join(out_assets, 'feature_stats.npz'), mean=stats[0], std=stats[1])
  if state_stats is not None:
    np.savez(os.path.join(out_assets, dataset_spec.STATE_STATS_FILE),
             mean=state_stats[0], std=state_stats[1])
  manifest = None
  if on_error == 'skip':
    manifest = os.path.join(data_dir, MANIFEST)
    relevant = [p for p in log.problems if p.modality in (None, modality)]
    write_manifest(manifest, relevant, replace_modalities=(modality, 'all'))
    write_manifest(os.path.join(out_assets, MANIFEST), relevant)

  lengths = {s: [e['answer_lengths'].tolist() for e in examples[s]] for s in splits}
  num_kept = sum(len(examples[s]) for s in splits)
  counts = dict(
      candidates_read=num_read,
      candidates_kept=num_kept,
      candidates_excluded=num_read - num_kept,
      answers_kept=sum(len(r) for s in splits for r in lengths[s]),
      answers_excluded=sum(p.modality == modality and p.answer_index is not None
                           for p in log.problems),
      answers_without_modality=num_without,
  )
  oov = {s: text_lib.oov_rate([tokens[a.transcript] for _, answers in by_split[s]
                               for a in answers if a.transcript is not None], vocab)
         for s in splits if s != 'train'}
  all_examples = [e for s in splits for e in examples[s]]
  meta = dict(
      modality=modality,
      feature_dim=feature_dim or 0,
      feature_names=feature_names,
      frame_rate=frame_rate,
      vocab_size=len(vocab),
      embedding_dim=int(emb.shape[1]),
      pad_id=text_lib.PAD_ID,
      unk_id=text_lib.UNK_ID,
      max_questions=max(len(e['answer_lengths']) for e in all_examples),
      max_question_length=max(int(e['question_lengths'].max()) for e in all_examples),
      max_job_title_length=max(len(e['job_title']) for e in all_examples),
      frame_pooling=frame_pooling,
      oov_rate=oov,
      table2=_table2(modality, examples, lengths, frame_rate),
      counts=counts,
      lengths=lengths,
      candidate_ids={s: [e['candidate_id'] for e in examples[s]] for s in splits},
      position_ids={s: [e['position_id'] for e in examples[s]] for s in splits},
      labels={s: [e['label'] for e in examples[s]] for s in splits},
      num_shards=num_shards,
      dataset_dir=out_dir,
      assets_dir=out_assets,
      manifest=manifest,
      format_version=FORMAT_VERSION,
  ) | ({'state_dim': state_dim} if state_dim else {}) | extra
  attributes = {s: [dict(interview.attributes) for interview, _ in by_split[s]]
                for s in splits}
  if any(a for s in splits for a in attributes[s]):  # Beside the records, never in them.
    meta['attributes'] = attributes
  # The format meta.json has always had: a rebuilt dataset is byte-identical.
  run_log.write_json(os.path.join(out_assets, 'meta.json'), meta, indent=1, sort_keys=False,
                     ensure_ascii=False)
  return meta


def format_table2(summary: dict) -> str:
  """The paper's Table 2 (one modality column) plus exclusion counts, as text."""
  t = summary['table2']
  if t['unit'] == 'words':
    total = f'{t["total_length"] / 1e6:.3f} M words'
    per_q = f'{t["length_per_question"]:.1f} words'
  else:
    total = f'{t["total_length"] / 3600:.2f} h'
    per_q = f'{t["length_per_question"]:.2f} s'
  rows = [
      ('Modality', t['modality']),
      ('Train set', t['candidates'].get('train', 0)),
      ('Validation set', t['candidates'].get('validation', 0)),
      ('Test set', t['candidates'].get('test', 0)),
      ('Total candidates', t['candidates']['total']),
      ('Questions per interview (mean)', f'{t["questions_per_interview"]:.2f}'),
      ('Total length', total),
      ('Length per question (mean)', per_q),
      ('Hirable label proportion', f'{100 * t["hirable_proportion"]:.1f} %'),
  ]
  if dataset_spec.modality(summary['modality']).words or summary.get('oov_rate'):
    oov = summary.get('oov_rate') or {}
    rows.append(('OOV rate (validation / test)',
                 f'{100 * oov.get("validation", 0):.2f} % / '
                 f'{100 * oov.get("test", 0):.2f} %'))
  emb = summary.get('embeddings') or {}
  if emb.get('source'):
    rows.append(('Word vectors', _representation_text(emb)))
  if emb.get('missing_words'):
    rows.append(('Words missing from embeddings', emb['missing_words']))
  if emb.get('source', '').startswith('llm:') and emb.get('texts'):
    rows.append(('Texts encoded', f'{emb["texts"]} ({emb["tokens"]} tokens, '
                 f'{emb["words"]} words; {emb["texts_from_cache"]} from the cache)'))
    if emb.get('tokens_per_second'):
      rows.append(('Encoding', f'{emb["seconds"]:.1f} s, {emb["tokens_per_second"]:.0f} '
                   f'tokens/s, {emb["words_per_second"]:.0f} words/s'))
  width = max(len(r[0]) for r in rows)
  lines = [f'{name:<{width}}  {value}' for name, value in rows]
  lines.append('')
  lines.append(format_counts(summary))
  if emb.get('coverage'):
    lines.append(f'Vector coverage: {vectors_lib.Coverage(**emb["coverage"]).summary()}.')
  if summary.get('manifest'):
    lines.append(f'Exclusions listed in {summary["manifest"]}')
  if summary.get('cached'):
    lines.append('(already built with the same corpus and settings; nothing redone)')
  return '\n'.join(lines)


def format_counts(summary: dict) -> str:
  """The candidates and answers kept and excluded (a summary or a meta.json), one line."""
  c = summary['counts']
  return (f'Candidates: {c["candidates_read"]} read, {c["candidates_kept"]} kept, '
          f'{c["candidates_excluded"]} excluded. Answers ({summary["modality"]}): '
          f'{c["answers_kept"]} kept, {c["answers_excluded"]} excluded, '
          f'{c["answers_without_modality"]} without this modality.')


def _representation_text(emb: dict) -> str:
  """meta.json's `embeddings` entry in words (older datasets wrote the source in words)."""
  source = emb['source']
  if source == 'word2vec':
    return f'word2vec trained on the training split ({emb.get("dim", "?")}-d)'
  if source.startswith('vectors:'):
    return f'{source} ({emb.get("format")}, {emb.get("dim")}-d)'
  if source.startswith('llm:'):
    return (f'{source}: layer {emb.get("layer")} of {emb.get("num_layers")} of '
            f'{emb.get("encoder")}, {emb.get("dim")}-d word states')
  return source
