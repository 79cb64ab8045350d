r"""The dataset of data_prep.hirenet.build written by an Apache Beam pipeline
(`python -m data_prep.build --runner=beam`), for corpora larger than one machine.

build.build_dataset reads interviews.jsonl, validates its lines, makes the splits and
checks the fingerprint in this process (the driver), as for a local build, then calls
`build` here. The driver looks for missing media files and writes the candidates to a
work list; one pipeline, run through TFDS's Beam support (a HirenetInterviews builder
whose splits are PCollections), does everything that reads media or grows with the text:

  work list -> each candidate's answers: features (openSMILE, OpenFace or tokens),
      judged by build._feature_problem -> usable candidates, problems (Beam counters)
  training candidates -> vocabulary (a combiner of token counts), normalisation
      statistics (a combiner of frame sums), embeddings (word2vec on one worker: its
      training is sequential, so that it is reproducible)
  usable candidates + vocabulary + statistics (side inputs) -> build._example -> shards

The per-record functions are the local build's, so both runners write the same examples,
splits, assets and manifest. Nothing under the dataset or assets folders changes until
the pipeline has finished: it writes into `{data_dir}/.beam-{modality}-*`, renamed into
place at the end (meta.json last), so a killed build leaves only that folder, which no
reader opens, and an older dataset stays readable meanwhile.

Apache Beam is an optional extra (`pip install -e '.[beam]'`); build.py imports this
module only for runner='beam'.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
import shlex
import shutil
import tempfile
from typing import Iterator

from absl import logging
import apache_beam as beam
from apache_beam.options import pipeline_options as beam_pipeline_options
import numpy as np

from data_prep.errors import CorpusError
from data_prep.errors import FeatureError
from data_prep.errors import Problem
from data_prep.errors import write_manifest
from data_prep.hirenet import audio
from data_prep.hirenet import build as build_lib
from data_prep.hirenet import corpus as corpus_lib
from data_prep.hirenet import text as text_lib
from data_prep.hirenet import tfds_builder
from hirenet_jax.core import run_log
from hirenet_jax.hirenet import dataset_spec
from hirenet_jax.hirenet.dataset_spec import assets_dir
from hirenet_jax.hirenet.dataset_spec import dataset_dir
from hirenet_jax.hirenet.dataset_spec import SPLITS

NAMESPACE = 'hirenet_build'  # Of the Beam counters (shown live by Dataflow, Flink, Spark).
COUNTERS = ('candidates', 'candidates_kept', 'candidates_excluded', 'answers_kept',
            'answers_excluded', 'media_files', 'audio_ms')
TMP_PREFIX = '.beam-'
_WORK_LIST = 'candidates.jsonl'
_PROBLEMS = 'problems.json'
_SUMMARIES = 'summaries.json'
_EMBEDDINGS_INFO = 'embeddings_info.json'
# Tags of the first stage's side outputs.
_PROBLEM, _TRAIN_COUNTS, _TRAIN_TEXT, _SUMMARY = 'problem', 'counts', 'text', 'summary'


def _counter(name: str):
  return beam.metrics.Metrics.counter(NAMESPACE, name)


def pipeline_options(options: str | None, workers: int | None = None
                     ) -> beam_pipeline_options.PipelineOptions:
  """Beam options from `--beam_pipeline_options`: TFDS's comma-separated form
  ('runner=DataflowRunner,project=P,region=R,temp_location=gs://B/tmp') or command-line
  flags ('--runner=FlinkRunner --flink_master=host:8081'). Without a runner: the
  DirectRunner on `workers` processes (default every core this process may use).
  """
  text = (options or '').strip()
  if text.startswith('-'):
    argv = shlex.split(text)
  else:
    argv = [f'--{item.strip()}' for item in text.split(',') if item.strip()]
  parsed = beam_pipeline_options.PipelineOptions(argv)
  runner = parsed.view_as(beam_pipeline_options.StandardOptions).runner
  if runner in (None, 'DirectRunner', 'direct'):
    direct = parsed.view_as(beam_pipeline_options.DirectOptions)
    given = ' '.join(argv)
    if '--direct_num_workers' not in given:
      direct.direct_num_workers = workers or audio.available_cores()
    if '--direct_running_mode' not in given:
      direct.direct_running_mode = ('multi_processing' if direct.direct_num_workers > 1
                                    else 'in_memory')
  return parsed


@dataclasses.dataclass(frozen=True)
class _Work:
  """One candidate of the work list: its rank among the sorted candidate ids (the record
  order), its position in interviews.jsonl's order, its split, and the indices of the
  answers whose media are missing."""
  rank: int
  position: int
  split: str
  interview: corpus_lib.Interview
  missing: tuple[int, ...]

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

  @classmethod
  def from_json(cls, line: str) -> _Work:
    d = json.loads(line)
    answers = tuple(corpus_lib.Answer(**a) for a in d['interview'].pop('answers'))
    interview = corpus_lib.Interview(**d['interview'], answers=answers)
    return cls(d['rank'], d['position'], d['split'], interview, tuple(d['missing']))


@dataclasses.dataclass(frozen=True)
class _Usable:
  """A candidate with at least one usable answer, ready for build._example."""
  rank: int
  split: str
  interview: corpus_lib.Interview
  answers: tuple[corpus_lib.Answer, ...]
  features: dict  # {(candidate_id, answer_index): tokens or float32 [T, D]}
  tokens: dict  # {raw string: tokens} of the interview's job title, questions, transcripts


def _strings(interview) -> list[str]:
  """The job title, questions and transcripts, in build._tokenize_all's order."""
  strings = [interview.job_title]
  for answer in interview.answers:
    strings += [answer.question, answer.transcript]
  return [s for s in strings if s is not None]


def _extract(modality: str, path: str, frame_pooling: int | None):
  """One file's features (float32 [T, D]) or its FeatureError, as the local pool's."""
  _counter('media_files').inc()
  return {'audio': _extract_audio, 'video': _extract_video}[modality](path, frame_pooling)


def _extract_audio(path: str, frame_pooling: int | None):
  out, seconds = audio._extract_job((path, frame_pooling or 1, 'lld'))  # pylint: disable=protected-access
  _counter('audio_ms').inc(int(round(1000 * seconds)))
  return FeatureError(*out) if isinstance(out, tuple) else out


def _extract_video(path: str, frame_pooling: int | None):
  del frame_pooling  # OpenFace windows are not pooled.
  return build_lib._load_video(path)  # pylint: disable=protected-access


def _judge(work: _Work, *, modality: str, corpus_dir: str, frame_pooling: int | None,
           feature_dim: int | None) -> Iterator:
  """Features of one candidate's answers (build._media_features / _text_answers for one
  record), counted in Beam counters. Yields the _Usable candidate and, tagged, its
  problems (keyed in the order the local build meets them) and a training candidate's
  token counts and texts."""
  interview, spec = work.interview, dataset_spec.modality(modality)
  cid = interview.candidate_id
  _counter('candidates').inc()
  tokens = {s: text_lib.tokenize(s) for s in _strings(interview)}
  if work.split == 'train':  # build._vocab_and_embeddings reads every training answer.
    yield beam.pvalue.TaggedOutput(_TRAIN_COUNTS, collections.Counter(
        t for s in _strings(interview) for t in tokens[s]))
    yield beam.pvalue.TaggedOutput(_TRAIN_TEXT, (work.position, interview, tokens))
  features = {}
  for answer in interview.answers:
    source = answer.source(modality)
    if source is None or answer.index in work.missing:
      continue
    if spec.words:
      result, path = tokens[source], None
      reason = None if result else 'transcript has no word'
    else:
      result, path = _extract(modality, source, frame_pooling), source
      reason = build_lib._feature_problem(result, feature_dim)  # pylint: disable=protected-access
      if reason is None:
        result = np.asarray(result, np.float32)
    if reason is None:
      features[(cid, answer.index)] = result
      _counter('answers_kept').inc()
    else:
      _counter('answers_excluded').inc()
      problem = corpus_lib.answer_problem(interview, answer, modality, path, corpus_dir,
                                          reason)
      yield beam.pvalue.TaggedOutput(
          _PROBLEM, ((0, work.position, answer.index), dataclasses.asdict(problem)))
  answers = tuple(a for a in interview.answers if (cid, a.index) in features)
  if not answers:
    _counter('candidates_excluded').inc()
    problem = corpus_lib.no_usable_answer(interview, modality)
    yield beam.pvalue.TaggedOutput(_PROBLEM, ((1, work.rank, -1),
                                              dataclasses.asdict(problem)))
    return
  _counter('candidates_kept').inc()
  yield _Usable(work.rank, work.split, interview, answers, features, tokens)


class _FrameStats(beam.CombineFn):
  """The training frames' per-feature count and float64 sums of x and x**2, accumulated
  per answer as build._norm_stats does; the output is its (mean, std)."""

  def __init__(self, dim: int):
    super().__init__()
    self._dim = dim

  def create_accumulator(self):
    return 0, np.zeros(self._dim, np.float64), np.zeros(self._dim, np.float64)

  def add_input(self, accumulator, frames_TxD):
    count, total, total_sq = accumulator
    x = frames_TxD.astype(np.float64)
    return count + x.shape[0], total + x.sum(0), total_sq + np.square(x).sum(0)

  def merge_accumulators(self, accumulators):
    count, total, total_sq = self.create_accumulator()
    for c, t, t_sq in accumulators:
      count, total, total_sq = count + c, total + t, total_sq + t_sq
    return count, total, total_sq

  def extract_output(self, accumulator):
    return build_lib._stats_from_sums(*accumulator)  # pylint: disable=protected-access


def _training_frames(usable: _Usable) -> Iterator[np.ndarray]:
  if usable.split == 'train':
    for answer in usable.answers:
      yield usable.features[(usable.interview.candidate_id, answer.index)]


def _example(usable: _Usable, vocab, stats) -> Iterator:
  """build._example of one candidate, keyed by its rank for TFDS, and (tagged) what
  meta.json says of it."""
  interview = usable.interview
  example = build_lib._example(interview, usable.answers, usable.features, usable.tokens,  # pylint: disable=protected-access
                               vocab, stats)
  transcripts = [usable.tokens[a.transcript] for a in usable.answers
                 if a.transcript is not None]
  yield beam.pvalue.TaggedOutput(_SUMMARY, dict(
      split=usable.split, rank=usable.rank, candidate_id=interview.candidate_id,
      position_id=interview.position_id, label=interview.label,
      answer_lengths=example['answer_lengths'].tolist(),
      max_question_length=int(example['question_lengths'].max()),
      job_title_length=len(example['job_title']), attributes=dict(interview.attributes),
      tokens=sum(len(t) for t in transcripts),
      oov=sum(w not in vocab for t in transcripts for w in t)))
  yield usable.split, (usable.rank, example)


def _vocabulary(counts: dict, min_count: int) -> text_lib.Vocabulary:
  return text_lib.Vocabulary.from_counts(counts, min_count)


def _embeddings(train_text: list, vocab, *, embeddings: str | None, min_count: int,
                seed: int, out_dir: str) -> None:
  """build._vocab_and_embeddings on the training texts in file order (word2vec trains
  on one worker: sequential, so reproducible); writes embeddings.npy and its meta.json
  entry. Its vocabulary must be the combiner's."""
  train_text = sorted(train_text, key=lambda x: x[0])
  tokens = {}
  for _, _, t in train_text:
    tokens.update(t)
  again, emb, info = build_lib._vocab_and_embeddings(  # pylint: disable=protected-access
      [interview for _, interview, _ in train_text], tokens, embeddings=embeddings,
      min_count=min_count, seed=seed)
  if again.tokens != vocab.tokens:
    raise RuntimeError('the vocabulary combiner disagrees with build._vocab_and_embeddings')
  np.save(os.path.join(out_dir, 'embeddings.npy'), emb.astype(np.float32))
  _write_json(info, os.path.join(out_dir, _EMBEDDINGS_INFO))


def _write_json(value, path: str) -> None:
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(value, f, ensure_ascii=False)


def _save_vocab(vocab, out_dir: str) -> None:
  vocab.save(os.path.join(out_dir, 'vocab.txt'))


def _save_stats(stats, out_dir: str) -> None:
  np.savez(os.path.join(out_dir, 'feature_stats.npz'), mean=stats[0], std=stats[1])


def _split_index(keyed, num_partitions) -> int:
  del num_partitions
  return SPLITS.index(keyed[0])


class _BeamBuilder(tfds_builder.HirenetInterviews, skip_registration=True):
  """HirenetInterviews whose splits are the PCollections of `make_splits(pipeline)`;
  keeps the pipeline's counters."""

  name = tfds_builder.NAME  # The same dataset: TFDS names its folder after it.

  def __init__(self, *, make_splits, **kwargs):
    self._make_splits = make_splits
    self.counters = {}
    # dataset_info.json names the builder's module: the local build's, the same dataset.
    self.__module__ = tfds_builder.__name__
    super().__init__(**kwargs)

  def _split_generators(self, dl_manager, pipeline):  # pylint: disable=arguments-differ
    del dl_manager
    return self._make_splits(pipeline)

  def _process_pipeline_result(self, pipeline_result):
    query = pipeline_result.metrics().query(
        beam.metrics.MetricsFilter().with_namespace(NAMESPACE))
    counts = collections.Counter()
    for result in query['counters']:
      counts[result.key.metric.name] += result.committed or result.attempted or 0
    self.counters = {name: int(counts[name]) for name in COUNTERS}


def _pipeline(pipeline, *, work_list: str, out_assets: str, modality: str,
              corpus_dir: str, frame_pooling, feature_dim, embeddings, min_count: int,
              seed: int, work_dir: str) -> dict:
  """Adds the build to `pipeline`; returns {split: PCollection of (rank, example)}."""
  candidates = (
      pipeline
      | 'ReadWorkList' >> beam.io.ReadFromText(work_list)
      | 'ParseWork' >> beam.Map(_Work.from_json)
      | 'Spread' >> beam.Reshuffle())  # One small file is one bundle: spread the records.
  judged = candidates | 'Features' >> beam.FlatMap(
      _judge, modality=modality, corpus_dir=corpus_dir, frame_pooling=frame_pooling,
      feature_dim=feature_dim).with_outputs(_PROBLEM, _TRAIN_COUNTS, _TRAIN_TEXT,
                                            main='usable')
  usable = judged.usable
  vocab = (
      judged[_TRAIN_COUNTS]
      | 'CountTokens' >> beam.FlatMap(lambda counts: counts.items())
      | 'SumCounts' >> beam.CombinePerKey(sum)
      | 'CountsToDict' >> beam.combiners.ToDict()
      | 'Vocabulary' >> beam.Map(_vocabulary, min_count))
  _ = vocab | 'SaveVocabulary' >> beam.Map(_save_vocab, out_assets)
  _ = (judged[_TRAIN_TEXT]
       | 'TrainingTexts' >> beam.combiners.ToList()
       | 'Embeddings' >> beam.Map(_embeddings, beam.pvalue.AsSingleton(vocab),
                                  embeddings=embeddings, min_count=min_count, seed=seed,
                                  out_dir=out_assets))
  stats = None
  if feature_dim:
    stats_pc = (usable
                | 'TrainingFrames' >> beam.FlatMap(_training_frames)
                | 'NormStats' >> beam.CombineGlobally(_FrameStats(feature_dim)))
    _ = stats_pc | 'SaveStats' >> beam.Map(_save_stats, out_assets)
    stats = beam.pvalue.AsSingleton(stats_pc)
  examples = usable | 'Examples' >> beam.FlatMap(
      _example, beam.pvalue.AsSingleton(vocab), stats).with_outputs(_SUMMARY, main='examples')
  _ = (judged[_PROBLEM]
       | 'Problems' >> beam.combiners.ToList()
       | 'SaveProblems' >> beam.Map(_write_json, os.path.join(work_dir, _PROBLEMS)))
  _ = (examples[_SUMMARY]
       | 'Summaries' >> beam.combiners.ToList()
       | 'SaveSummaries' >> beam.Map(_write_json, os.path.join(work_dir, _SUMMARIES)))
  by_split = examples.examples | 'BySplit' >> beam.Partition(_split_index, len(SPLITS))
  return {s: by_split[k] | f'Keyed_{s}' >> beam.Values() for k, s in enumerate(SPLITS)}


def _prepare(builder: _BeamBuilder, options, num_shards: int | None) -> None:
  """Runs the pipeline through TFDS (tfds_builder.prepare_quietly); a split left empty
  is the local build's CorpusError."""
  try:
    tfds_builder.prepare_quietly(builder, num_shards=num_shards, beam_options=options)
  except Exception as e:  # pylint: disable=broad-except
    empty = re.search(r'generated examples is 0 for split (\w+)', str(e))
    if empty is None:
      raise
    raise CorpusError(build_lib.empty_split(builder.builder_config.modality,
                                            empty.group(1), None)) from None


def _meta(by_split: dict, log, *, modality: str, vocab_size: int, embedding_dim: int,
          feature_dim: int | None, frame_pooling, num_read: int, num_without: int,
          num_shards, data_dir: str, manifest: str | None, extra: dict) -> dict:
  """build._write_all's meta.json from the pipeline's per-candidate summaries."""
  splits = tuple(by_split)
  if dataset_spec.modality(modality).words:
    feature_names, frame_rate = [], None
  else:
    feature_names, frame_rate = build_lib._feature_info(modality, frame_pooling)  # pylint: disable=protected-access
    if feature_dim != len(feature_names):
      feature_names = [f'feature_{k}' for k in range(feature_dim)]
  lengths = {s: [r['answer_lengths'] for r in by_split[s]] for s in splits}
  records = [r for s in splits for r in by_split[s]]
  counts = dict(
      candidates_read=num_read,
      candidates_kept=len(records),
      candidates_excluded=num_read - len(records),
      answers_kept=sum(len(r) for s in splits for r in lengths[s]),
      answers_excluded=sum(p.modality == modality and p.answer_index is not None
                           for p in log.problems),
      answers_without_modality=num_without,
  )
  oov = {}
  for s in splits:
    if s != 'train':
      total = sum(r['tokens'] for r in by_split[s])
      oov[s] = sum(r['oov'] for r in by_split[s]) / total if total else 0.0
  meta = dict(
      modality=modality,
      feature_dim=feature_dim or 0,
      feature_names=feature_names,
      frame_rate=frame_rate,
      vocab_size=vocab_size,
      embedding_dim=embedding_dim,
      pad_id=text_lib.PAD_ID,
      unk_id=text_lib.UNK_ID,
      max_questions=max(len(r['answer_lengths']) for r in records),
      max_question_length=max(r['max_question_length'] for r in records),
      max_job_title_length=max(r['job_title_length'] for r in records),
      frame_pooling=frame_pooling,
      oov_rate=oov,
      table2=build_lib._table2(modality, by_split, lengths, frame_rate),  # pylint: disable=protected-access
      counts=counts,
      lengths=lengths,
      candidate_ids={s: [r['candidate_id'] for r in by_split[s]] for s in splits},
      position_ids={s: [r['position_id'] for r in by_split[s]] for s in splits},
      labels={s: [r['label'] for r in by_split[s]] for s in splits},
      num_shards=num_shards,
      dataset_dir=dataset_dir(data_dir, modality),
      assets_dir=assets_dir(data_dir, modality),
      manifest=manifest,
      format_version=build_lib.FORMAT_VERSION,
  ) | extra
  attributes = {s: [r['attributes'] for r in by_split[s]] for s in splits}
  if any(a for s in splits for a in attributes[s]):  # Beside the records, never in them.
    meta['attributes'] = attributes
  return meta


def build(interviews, assignment: dict, log, *, corpus_dir: str, data_dir: str,
          modality: str, split: str, seed: int, on_error: str, min_count: int,
          embeddings: str | None, num_shards: int | None, frame_pooling: int | None,
          overwrite: bool, num_read: int, fingerprint: str, workers: int | None,
          beam_options: str | None, watch) -> dict:
  """build.build_dataset's work after the splits, on Beam (see the module docstring).

  Arguments are build_dataset's; `interviews` and `assignment` ({candidate_id: split})
  are what it read and drew, `log` (a ProblemLog) holds interviews.jsonl's problems,
  `watch` its stopwatch. Returns build_dataset's summary, with stage_seconds 'read'
  (and the work list), 'pipeline' (features, vocabulary, statistics, embeddings,
  shards) and 'write' (meta.json, manifest, renames), and `beam_counters`.

  Raises:
    CorpusError, FileExistsError, ValueError: as build_dataset.
  """
  spec = dataset_spec.modality(modality)
  options = pipeline_options(beam_options, workers)
  missing = collections.defaultdict(set)
  if spec.frame_features:
    for p in corpus_lib.missing_files(interviews, corpus_dir, [modality]):
      log.add(p)
      missing[p.candidate_id].add(p.answer_index)
  # A split whose candidates have nothing to extract fails before the pipeline runs.
  possible = collections.Counter(
      assignment[i.candidate_id] for i in interviews
      if any(a.source(modality) is not None and a.index not in missing[i.candidate_id]
             for a in i.answers))
  for s in SPLITS:
    if not possible[s]:
      raise CorpusError(build_lib.empty_split(modality, s, sum(possible.values())))
  num_without = sum(a.source(modality) is None for i in interviews for a in i.answers)
  feature_dim = None
  if spec.frame_features:
    feature_dim = len(build_lib._feature_info(modality, frame_pooling)[0])  # pylint: disable=protected-access

  os.makedirs(data_dir, exist_ok=True)
  work_dir = tempfile.mkdtemp(prefix=f'{TMP_PREFIX}{modality}-', dir=data_dir)
  try:
    work_list = os.path.join(work_dir, _WORK_LIST)
    order = sorted(range(len(interviews)), key=lambda k: interviews[k].candidate_id)
    with open(work_list, 'w', encoding='utf-8') as f:
      for rank, k in enumerate(order):
        interview = interviews[k]
        work = _Work(rank, k, assignment[interview.candidate_id], interview,
                     tuple(sorted(missing[interview.candidate_id])))
        f.write(work.to_json() + '\n')
    work_assets = assets_dir(work_dir, modality)
    os.makedirs(work_assets)
    watch.lap('read')
    logging.info('Preparing the %s dataset of %s on Beam (%s).', modality, corpus_dir,
                 options.view_as(beam_pipeline_options.StandardOptions).runner
                 or 'DirectRunner')
    builder = _BeamBuilder(
        make_splits=lambda pipeline: _pipeline(
            pipeline, work_list=work_list, out_assets=work_assets, modality=modality,
            corpus_dir=corpus_dir, frame_pooling=frame_pooling, feature_dim=feature_dim,
            embeddings=embeddings, min_count=min_count, seed=seed, work_dir=work_dir),
        config=modality, data_dir=work_dir, file_format='array_record',
        feature_dim=feature_dim)
    _prepare(builder, options, num_shards)
    watch.lap('pipeline')
    logging.info('Beam counters: %s', builder.counters)

    with open(os.path.join(work_dir, _PROBLEMS), encoding='utf-8') as f:
      found = sorted(json.load(f), key=lambda keyed: keyed[0])
    log.extend(Problem(**problem) for _, problem in found)  # fail: raises the first.
    with open(os.path.join(work_dir, _SUMMARIES), encoding='utf-8') as f:
      summaries = json.load(f)
    by_split = {s: sorted((r for r in summaries if r['split'] == s),
                          key=lambda r: r['rank']) for s in SPLITS}
    with open(os.path.join(work_assets, _EMBEDDINGS_INFO), encoding='utf-8') as f:
      emb_info = json.load(f)
    os.remove(os.path.join(work_assets, _EMBEDDINGS_INFO))
    vocab = text_lib.Vocabulary.load(os.path.join(work_assets, 'vocab.txt'))
    emb = np.load(os.path.join(work_assets, 'embeddings.npy'), mmap_mode='r')
    manifest = os.path.join(data_dir, build_lib.MANIFEST) if on_error == 'skip' else None
    relevant = [p for p in log.problems if p.modality in (None, modality)]
    meta = _meta(by_split, log, modality=modality, vocab_size=len(vocab),
                 embedding_dim=int(emb.shape[1]), feature_dim=feature_dim,
                 frame_pooling=frame_pooling, num_read=num_read, num_without=num_without,
                 num_shards=num_shards, data_dir=data_dir, manifest=manifest,
                 extra=dict(corpus_dir=corpus_dir, split=split, seed=seed,
                            min_count=min_count, embeddings=emb_info,
                            fingerprint=fingerprint))
    del emb
    if manifest:
      write_manifest(os.path.join(work_assets, build_lib.MANIFEST), relevant)
    run_log.write_json(os.path.join(work_assets, 'meta.json'), meta, indent=1,
                       sort_keys=False, ensure_ascii=False)
    _move_into_place(work_dir, data_dir, modality, overwrite=overwrite,
                     before_assets=lambda: manifest and write_manifest(
                         manifest, relevant, replace_modalities=(modality, 'all')))
  finally:
    shutil.rmtree(work_dir, ignore_errors=True)
  watch.lap('write')
  return build_lib._summary(meta, cached=False) | {  # pylint: disable=protected-access
      'stage_seconds': watch.seconds, 'beam_counters': builder.counters}


def _move_into_place(work_dir: str, data_dir: str, modality: str, *, overwrite: bool,
                     before_assets) -> None:
  """Renames the finished shards, then the assets (meta.json, which marks a complete
  dataset, among them) from `work_dir` into `data_dir`, replacing an older build."""
  out_dir, out_assets = dataset_dir(data_dir, modality), assets_dir(data_dir, modality)
  if os.path.exists(out_dir):
    if not overwrite:
      raise FileExistsError(f'{out_dir} appeared during the build; pass overwrite=True '
                            '(--overwrite) to replace it')
    shutil.rmtree(out_dir)
  if os.path.exists(out_assets):
    shutil.rmtree(out_assets)
  os.makedirs(os.path.dirname(out_dir), exist_ok=True)
  os.makedirs(os.path.dirname(out_assets), exist_ok=True)
  os.rename(dataset_dir(work_dir, modality), out_dir)
  before_assets()
  os.rename(assets_dir(work_dir, modality), out_assets)
