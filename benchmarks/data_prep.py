r"""Data-preparation speed behind `python -m experiments.benchmark_data_prep` (no flags
here): openSMILE extraction on all cores and shard building.

Synthetic corpora are shaped like the default corpus (`data_prep.hirenet.synthetic.DEFAULT_CORPUS`:
5 questions, 40 words and 5 s per answer); generating them is not timed.

1. Audio feature extraction (eGeMAPSv02 LLDs, `data_prep.hirenet.audio.extract_many`) of the
   answer WAV files of the largest audio corpus, with 1 worker and with `--workers`
   (default: every core): wall time, minutes of audio per second of wall time, the
   speed-up, and the CPU time of this process and all its descendants (sampled with
   psutil) divided by the wall time, i.e. how many cores were kept busy, next to the
   busy % of each core of the machine and the cores' worth of it that was not ours (on
   a shared machine, other users' work).
2. `data_prep.hirenet.build.build_dataset` on N and 4N candidates per modality (audio uses
   `--audio_candidates` as N): seconds, candidates/s and the 4N / N time ratio (4.0 is
   linear), for the whole build and for each stage it reports (read, features, vocab,
   write), plus the fixed and per-candidate cost of the line through the two points.
   An untimed build of a tiny corpus first pays the one-off import costs.

With runner='beam' (`--runner=beam`) instead: `build_dataset` of each modality on one
corpus (N candidates, or `--corpus_dir`) with the local runner and with the Beam runner
(`data_prep.hirenet.beam_build`: DirectRunner, multi-processing on `--workers`
processes, or `--beam_pipeline_options`) side by side: seconds of each, its stages and
CPU figures, and the Beam / local time ratio. The corpus's media are read once before
timing, so neither build pays a cold disk cache; an untimed build of a tiny corpus by
each runner first pays the imports (Beam's too).

`measure` runs them and `format_table` shows the figures as one table.
"""

from __future__ import annotations

import logging as std_logging
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from typing import Callable, Sequence

import soundfile

from data_prep.hirenet import audio
from data_prep.hirenet import build
from data_prep.hirenet import corpus as corpus_lib
from data_prep.hirenet import synthetic
from data_prep.errors import CorpusError
from hirenet_jax.hirenet import dataset_spec

RUNNERS = ('local', 'beam')
SCALE = 4                 # the large corpus has SCALE times the candidates of the small one.
MIN_CANDIDATES = 8        # fewer can leave the 10% validation or test split empty.
_WARMUP_CANDIDATES = 10


def _say(message: str) -> None:
  """Progress on stderr (stdout keeps the table)."""
  print(f'[benchmark_data_prep] {message}', file=sys.stderr, flush=True)


def machine() -> dict:
  """What the figures were measured on; the load average shows a shared machine."""
  model = platform.processor() or platform.machine()
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      model = next(line.split(':', 1)[1].strip() for line in f
                   if line.startswith('model name'))
  except (OSError, StopIteration):
    pass
  return dict(cpu=model, cores=os.cpu_count(), available_cores=audio.available_cores(),
              python=platform.python_version(),
              platform=platform.platform(),
              load_average_1min=os.getloadavg()[0] if hasattr(os, 'getloadavg') else None)


def make_corpus(out_dir: str, num_candidates: int, modalities: Sequence[str]) -> str:
  """A synthetic corpus of `num_candidates` shaped like the default corpus."""
  params = dict(synthetic.DEFAULT_CORPUS, num_candidates=num_candidates)
  return synthetic.generate_corpus(out_dir, modalities=tuple(modalities), **params)


def audio_files(corpus_dir: str) -> list[str]:
  """Absolute paths of the corpus's answer audio files, in record order."""
  interviews, problems = corpus_lib.read_corpus(corpus_dir)
  if problems:
    raise CorpusError(problems[0])
  return [os.path.join(corpus_dir, a.audio) for i in interviews for a in i.answers
          if a.audio]


class CpuMonitor:
  """CPU seconds of this process and all its descendants over a `with` block.

  Pool workers started by a forkserver are its children, not ours, so
  `getrusage(RUSAGE_CHILDREN)` never sees them; a thread samples the whole process tree
  every `interval` seconds instead (each sample costs a few ms of this process's CPU).
  A worker's CPU after its last sample is missed, so `cpu_s` is a lower bound (by at
  most `interval` per worker). `figures()` gives wall_s, cpu_s, cores_busy (cpu_s /
  wall_s), busy_processes (those that used at least a quarter of the CPU time of the
  busiest one), per_core_busy_percent (the machine's, anyone's work) and
  other_cores_busy (the cores' worth of that busy time not ours). Needs psutil; without
  it all but wall_s are None.
  """

  def __init__(self, interval: float = 0.25):
    self.interval = interval
    self.wall_s = self.cpu_s = self.per_core_percent = None
    self.busy_processes = None

  def figures(self) -> dict:
    """The measurements of the finished block."""
    if self.cpu_s is None:
      return dict(wall_s=self.wall_s, cpu_s=None, cores_busy=None, busy_processes=None,
                  per_core_busy_percent=None, other_cores_busy=None)
    cores_busy = self.cpu_s / self.wall_s
    return dict(wall_s=self.wall_s, cpu_s=self.cpu_s, cores_busy=cores_busy,
                busy_processes=self.busy_processes,
                per_core_busy_percent=self.per_core_percent,
                other_cores_busy=max(0.0, sum(self.per_core_percent) / 100 - cores_busy))

  def _sample(self) -> dict[int, float]:
    cpu = {}
    for p in [self._me] + self._me.children(recursive=True):
      try:
        t = p.cpu_times()
      except self._psutil.Error:  # exited between listing and reading.
        continue
      cpu[p.pid] = t.user + t.system
    return cpu

  def _loop(self):
    while not self._stop.wait(self.interval):
      for pid, seconds in self._sample().items():
        self._last[pid] = seconds

  def __enter__(self) -> CpuMonitor:
    try:
      import psutil  # pylint: disable=g-import-not-at-top
    except ImportError:
      self._psutil = None
    else:
      self._psutil, self._me = psutil, psutil.Process()
      self._first = self._sample()
      self._last = dict(self._first)
      psutil.cpu_percent(percpu=True)  # starts the per-core interval.
      self._stop = threading.Event()
      self._thread = threading.Thread(target=self._loop, daemon=True)
      self._thread.start()
    self._start = time.perf_counter()
    return self

  def __exit__(self, *exc_info):
    self.wall_s = time.perf_counter() - self._start
    if self._psutil is None:
      return
    self._stop.set()
    self._thread.join()
    for pid, seconds in self._sample().items():
      self._last[pid] = seconds
    self.per_core_percent = self._psutil.cpu_percent(percpu=True)
    used = {pid: s - self._first.get(pid, 0.0) for pid, s in self._last.items()}
    self.cpu_s = sum(used.values())
    # The processes doing the work, not the forkserver, the resource tracker or this
    # process while it only waits for the pool.
    busiest = max(used.values(), default=0.0)
    self.busy_processes = sum(s >= 0.25 * busiest for s in used.values())


def benchmark_extraction(paths: Sequence[str], worker_counts: Sequence[int], *,
                         repeats: int = 1,
                         on_progress: Callable[[str], None] = lambda _: None) -> dict:
  """Times `audio.extract_many` over `paths` with each worker count.

  Returns the audio length and, per worker count, wall seconds, minutes of audio per
  second, CPU seconds of the process tree, cores busy (CPU / wall), each core's busy %
  and the cores' worth of that not ours; `speedup` is the first count's wall time over
  the last one's.

  Raises:
    RuntimeError: a file failed to extract (the figures would be of less audio).
  """
  audio_s = sum(soundfile.info(p).duration for p in paths)
  runs = []
  for workers in worker_counts:
    best = None
    for k in range(repeats):
      on_progress(f'extracting {len(paths)} files ({audio_s / 60:.1f} min of audio) '
                  f'with {workers} worker(s), run {k + 1}/{repeats}')
      with CpuMonitor() as monitor:
        results = audio.extract_many(paths, workers=workers)
      failed = [r for r in results if not hasattr(r, 'shape')]
      if failed:
        raise RuntimeError(f'{len(failed)} files failed to extract, e.g. {failed[0]}')
      if best is None or monitor.wall_s < best.wall_s:
        best = monitor
    runs.append(dict(workers=workers, audio_min_per_s=audio_s / 60 / best.wall_s)
                | best.figures())
  return dict(files=len(paths), audio_minutes=audio_s / 60, runs=runs,
              speedup=runs[0]['wall_s'] / runs[-1]['wall_s'])


def _linear_fit(small: dict, large: dict, key: Callable[[dict], float]) -> dict:
  """Ratio of the two timings and the line t = fixed + per_candidate * n through them."""
  n1, n2 = small['candidates'], large['candidates']
  t1, t2 = key(small), key(large)
  per_candidate = (t2 - t1) / (n2 - n1)
  return dict(ratio=t2 / t1 if t1 > 0 else None,
              fixed_s=t1 - per_candidate * n1, per_candidate_s=per_candidate)


def benchmark_build(corpora: dict[int, str], modality: str, work_dir: str, *,
                    workers: int | None = None, repeats: int = 1,
                    on_progress: Callable[[str], None] = lambda _: None) -> dict:
  """Times `build.build_dataset` of `modality` on each corpus ({candidates: dir}).

  Returns per corpus size the total and per-stage wall seconds (fastest of `repeats`
  fresh builds), candidates/s, the kept counts and the `CpuMonitor` figures (where
  other users' load shows), and between the smallest and the largest corpus the time
  ratio (linear: the size ratio), its deviation from linear and the fixed /
  per-candidate costs, for the total and for each stage.
  """
  runs = []
  for candidates, corpus_dir in sorted(corpora.items()):
    best = None
    for k in range(repeats):
      on_progress(f'building {modality} shards of {candidates} candidates, '
                  f'run {k + 1}/{repeats}')
      data_dir = tempfile.mkdtemp(prefix=f'{modality}_{candidates}_', dir=work_dir)
      with CpuMonitor() as monitor:
        summary = build.build_dataset(corpus_dir, modality, data_dir, workers=workers,
                                      overwrite=True)
      shutil.rmtree(data_dir)
      if best is None or monitor.wall_s < best[0].wall_s:
        best = (monitor, summary)
    monitor, summary = best
    runs.append(dict(
        candidates=candidates, candidates_kept=summary['counts']['candidates_kept'],
        answers_kept=summary['counts']['answers_kept'], seconds=monitor.wall_s,
        candidates_per_s=candidates / monitor.wall_s,
        stage_seconds=summary['stage_seconds'], cpu=monitor.figures()))
  small, large = runs[0], runs[-1]
  scale = large['candidates'] / small['candidates']
  total = _linear_fit(small, large, lambda r: r['seconds'])
  return dict(
      modality=modality, runs=runs, scale=scale, ratio=total['ratio'],
      deviation_from_linear=total['ratio'] / scale - 1,
      fixed_s=total['fixed_s'], per_candidate_s=total['per_candidate_s'],
      stages={stage: _linear_fit(small, large, lambda r, s=stage: r['stage_seconds'][s])
              for stage in small['stage_seconds']})


def media_files(corpus_dir: str, modality: str) -> list[str]:
  """Absolute paths of the corpus's answer files of a frame modality (none for text)."""
  interviews, _ = corpus_lib.read_corpus(corpus_dir)
  if not dataset_spec.modality(modality).frame_features:
    return []
  return [a.source(modality) for i in interviews for a in i.answers
          if a.source(modality) and os.path.isfile(a.source(modality))]


def warm_page_cache(paths: Sequence[str]) -> int:
  """Reads every file once, so the first timed build does not pay a cold disk cache;
  returns the bytes read."""
  size = 0
  for path in paths:
    with open(path, 'rb') as f:
      while chunk := f.read(1 << 20):
        size += len(chunk)
  return size


def benchmark_runners(corpus_dir: str, modality: str, work_dir: str, *,
                      workers: int | None = None, repeats: int = 1,
                      beam_options: str | None = None,
                      on_progress: Callable[[str], None] = lambda _: None) -> dict:
  """Times `build.build_dataset` of `modality` on `corpus_dir` with each runner, local
  then beam in each of `repeats` rounds (the fastest of each kept).

  Returns the corpus's candidates, answers kept (and minutes of audio), per runner the
  total and per-stage wall seconds and the `CpuMonitor` figures, and `ratio`, the Beam
  build's time over the local one's.

  Raises:
    RuntimeError: the runners kept different candidates or answers.
  """
  best = {}
  for k in range(repeats):
    for runner in RUNNERS:
      on_progress(f'building {modality} shards of {corpus_dir} with the {runner} runner, '
                  f'run {k + 1}/{repeats}')
      data_dir = tempfile.mkdtemp(prefix=f'{modality}_{runner}_', dir=work_dir)
      with CpuMonitor() as monitor:
        summary = build.build_dataset(
            corpus_dir, modality, data_dir, workers=workers, overwrite=True, runner=runner,
            beam_options=beam_options if runner == 'beam' else None)
      shutil.rmtree(data_dir)
      if runner not in best or monitor.wall_s < best[runner][0].wall_s:
        best[runner] = (monitor, summary)
  counts = {runner: summary['counts'] for runner, (_, summary) in best.items()}
  if counts['local'] != counts['beam']:
    raise RuntimeError(f'the runners kept different records: {counts}')
  table2 = best['local'][1]['table2']
  runs = {runner: dict(seconds=monitor.wall_s, stage_seconds=summary['stage_seconds'],
                       cpu=monitor.figures())
          for runner, (monitor, summary) in best.items()}
  return dict(
      modality=modality, corpus_dir=corpus_dir,
      candidates=counts['local']['candidates_read'],
      answers_kept=counts['local']['answers_kept'],
      audio_minutes=(table2['total_length'] / 60
                     if dataset_spec.modality(modality).pools_frames else None),
      beam_options=beam_options, runs=runs,
      ratio=runs['beam']['seconds'] / runs['local']['seconds'])


def _run_runners(work_dir: str, results: dict, *, corpus_dir: str | None,
                 sizes: dict[str, int], modalities: Sequence[str], workers: int,
                 repeats: int, beam_options: str | None,
                 on_progress: Callable[[str], None]) -> dict:
  """`run`'s runner comparison: fills results['runners'] per modality."""
  results['runners'] = {}
  for modality in modalities:
    warmup = make_corpus(os.path.join(work_dir, f'corpus_{modality}_warmup'),
                         _WARMUP_CANDIDATES, [modality])
    corpus = corpus_dir
    if corpus is None:
      on_progress(f'generating the {modality} corpus of {sizes[modality]} candidates '
                  '(not timed)')
      start = time.perf_counter()
      corpus = make_corpus(os.path.join(work_dir, f'corpus_{modality}_{sizes[modality]}'),
                           sizes[modality], [modality])
      results['generation_s'][f'{modality}_{sizes[modality]}'] = time.perf_counter() - start
    for runner in RUNNERS:
      on_progress(f'warm-up build ({modality}, {runner} runner, {_WARMUP_CANDIDATES} '
                  'candidates, not timed)')
      warmup_dir = tempfile.mkdtemp(prefix='warmup_', dir=work_dir)
      build.build_dataset(warmup, modality, warmup_dir, workers=workers, runner=runner,
                          beam_options=beam_options if runner == 'beam' else None)
      shutil.rmtree(warmup_dir)
    on_progress(f'reading the {modality} files once (not timed)')
    warm_page_cache(media_files(corpus, modality))
    results['runners'][modality] = benchmark_runners(
        corpus, modality, work_dir, workers=workers, repeats=repeats,
        beam_options=beam_options, on_progress=on_progress)
  return results


def run(work_dir: str, *, candidates: int, audio_candidates: int,
        modalities: Sequence[str], workers: int | None = None, repeats: int = 1,
        runner: str = 'local', beam_options: str | None = None,
        corpus_dir: str | None = None,
        on_progress: Callable[[str], None] = lambda _: None) -> dict:
  """Generates the corpora in `work_dir` and runs both benchmarks (runner='local'), or
  the local and the Beam build side by side (runner='beam', on `corpus_dir` if given);
  returns the figures."""
  unknown = set(modalities) - {'text', 'audio'}
  if unknown:
    raise ValueError(f'modalities must be text and/or audio, got {sorted(unknown)}')
  if min(candidates, audio_candidates) < MIN_CANDIDATES:
    raise ValueError(f'need at least {MIN_CANDIDATES} candidates (else a split is empty)')
  if repeats < 1:
    raise ValueError(f'repeats must be >= 1, got {repeats}')
  if runner not in RUNNERS:
    raise ValueError(f'runner must be one of {RUNNERS}, got {runner!r}')
  if runner == 'local' and (corpus_dir or beam_options):
    raise ValueError('a corpus directory and Beam options are read only with runner=beam')
  workers = workers or audio.available_cores()
  results = dict(machine=machine(), workers=workers, repeats=repeats, runner=runner,
                 corpus_shape={k: v for k, v in synthetic.DEFAULT_CORPUS.items()
                               if k != 'num_candidates'},
                 generation_s={}, extraction=None, builds={})
  if runner == 'beam':
    return _run_runners(work_dir, results, corpus_dir=corpus_dir,
                        sizes=dict(text=candidates, audio=audio_candidates),
                        modalities=modalities, workers=workers, repeats=repeats,
                        beam_options=beam_options, on_progress=on_progress)
  # (modality, candidates, whether its feature extraction is timed on its own).
  for modality, n, extraction in (('text', candidates, False),
                                  ('audio', audio_candidates, True)):
    if modality not in modalities:
      continue
    corpora = {}
    for size in (_WARMUP_CANDIDATES, n, SCALE * n):
      on_progress(f'generating the {modality} corpus of {size} candidates (not timed)')
      start = time.perf_counter()
      corpora[size] = make_corpus(os.path.join(work_dir, f'corpus_{modality}_{size}'),
                                  size, [modality])
      results['generation_s'][f'{modality}_{size}'] = time.perf_counter() - start
    on_progress(f'warm-up build ({modality}, {_WARMUP_CANDIDATES} candidates, not timed)')
    warmup_dir = tempfile.mkdtemp(prefix='warmup_', dir=work_dir)
    build.build_dataset(corpora.pop(_WARMUP_CANDIDATES), modality, warmup_dir,
                        workers=workers)
    shutil.rmtree(warmup_dir)
    if extraction:
      results['extraction'] = benchmark_extraction(
          audio_files(corpora[SCALE * n]), sorted({1, workers}), repeats=repeats,
          on_progress=on_progress)
    results['builds'][modality] = benchmark_build(
        corpora, modality, work_dir, workers=workers, repeats=repeats,
        on_progress=on_progress)
  return results


def _percent(x: float) -> str:
  return f'{100 * x:+.0f}%'


def format_table(r: dict) -> str:
  """The figures as one readable text table."""
  m = r['machine']
  load = m['load_average_1min']
  lines = [f'Data preparation benchmark: {m["cpu"]}, {m["cores"]} cores (1-min load '
           f'average {"n/a" if load is None else f"{load:.2f}"} at start), '
           f'Python {m["python"]}, best of {r["repeats"]} run(s)']
  ex = r.get('extraction')
  if ex:
    lines += ['', f'Audio features (openSMILE eGeMAPSv02 LLDs, data_prep.hirenet.audio.'
              f'extract_many): {ex["files"]} files, {ex["audio_minutes"]:.1f} min of audio',
              f'{"workers":>7}  {"wall s":>7}  {"audio min/s":>11}  {"speed-up":>8}  '
              f'{"CPU s":>6}  {"cores busy":>10}  {"busy procs":>10}  '
              "others' cores  per-core busy %"]
    base = ex['runs'][0]['wall_s']
    for run_ in ex['runs']:
      if run_['cpu_s'] is None:
        cpu = cores = procs = others = 'n/a'
        per_core = 'n/a (no psutil)'
      else:
        cpu, cores = f'{run_["cpu_s"]:.1f}', f'{run_["cores_busy"]:.2f}'
        procs, others = str(run_['busy_processes']), f'{run_["other_cores_busy"]:.2f}'
        per_core = ' / '.join(f'{p:.0f}' for p in run_['per_core_busy_percent'])
      lines.append(
          f'{run_["workers"]:>7}  {run_["wall_s"]:>7.1f}  {run_["audio_min_per_s"]:>11.2f}  '
          f'{base / run_["wall_s"]:>7.2f}x  {cpu:>6}  {cores:>10}  {procs:>10}  '
          f'{others:>13}  {per_core}')
    last = ex['runs'][-1]
    note = ''
    if last['other_cores_busy'] is not None:
      note = (f' (other processes kept {last["other_cores_busy"]:.2f} of the '
              f'{len(last["per_core_busy_percent"])} cores busy meanwhile)')
    lines.append(f'speed-up {ex["runs"][0]["workers"]} -> {last["workers"]} '
                 f'workers: {ex["speedup"]:.2f}x{note}')
  for modality, b in r['builds'].items():
    stages = list(b['stages'])
    lines += ['', f'Building {modality} shards (data_prep.hirenet.build.build_dataset), '
              f'{b["scale"]:.0f}x candidates',
              f'{"candidates":>10}  {"answers":>7}  {"total s":>7}  {"cand/s":>7}  '
              + '  '.join(f'{s + " s":>10}' for s in stages)
              + f'  {"cores busy":>10}  others\' cores']
    for run_ in b['runs']:
      cpu = run_['cpu']
      cores, others = (('n/a', 'n/a') if cpu['cpu_s'] is None else
                       (f'{cpu["cores_busy"]:.2f}', f'{cpu["other_cores_busy"]:.2f}'))
      lines.append(
          f'{run_["candidates"]:>10}  {run_["answers_kept"]:>7}  {run_["seconds"]:>7.2f}  '
          f'{run_["candidates_per_s"]:>7.1f}  '
          + '  '.join(f'{run_["stage_seconds"][s]:>10.2f}' for s in stages)
          + f'  {cores:>10}  {others:>13}')
    ratios = [b['stages'][s]['ratio'] for s in stages]
    lines.append(f'{"time ratio":>10}  {"":>7}  {b["ratio"]:>7.2f}  {"":>7}  ' + '  '.join(
        f'{"n/a":>10}' if x is None else f'{x:>10.2f}' for x in ratios))
    lines.append(
        f'{b["scale"]:.0f}x candidates took {b["ratio"]:.2f}x the time (linear: '
        f'{b["scale"]:.2f}x; {_percent(b["deviation_from_linear"])} from linear); '
        f'line through the two points: {b["fixed_s"]:.2f} s fixed + '
        f'{1000 * b["per_candidate_s"]:.2f} ms per candidate')
  for modality, c in (r.get('runners') or {}).items():
    audio_min = '' if c['audio_minutes'] is None else f', {c["audio_minutes"]:.1f} min of audio'
    how = c['beam_options'] or (f'DirectRunner, {r["workers"]} processes'
                                if r['workers'] > 1 else 'DirectRunner, in process')
    lines += ['', f'Local vs Beam build of {modality} ({c["corpus_dir"]}): '
              f'{c["candidates"]} candidates, {c["answers_kept"]} answers{audio_min}; '
              f'local: {r["workers"]} extraction processes; beam: {how}',
              f'{"runner":>6}  {"total s":>7}  {"cores busy":>10}  others\' cores  stages (s)']
    for name, run_ in c['runs'].items():
      cpu = run_['cpu']
      cores, others = (('n/a', 'n/a') if cpu['cpu_s'] is None else
                       (f'{cpu["cores_busy"]:.2f}', f'{cpu["other_cores_busy"]:.2f}'))
      stages = ', '.join(f'{k} {v:.1f}' for k, v in run_['stage_seconds'].items())
      lines.append(f'{name:>6}  {run_["seconds"]:>7.1f}  {cores:>10}  {others:>13}  {stages}')
    lines.append(f'Beam / local: {c["ratio"]:.2f}x the time')
  return '\n'.join(lines)


def measure(work_dir: str | None = None, **kwargs) -> dict:
  """`run` (keyword arguments as there) in `work_dir`, by default a temporary folder
  deleted at the end, with its progress on stderr; adds the total wall time."""
  std_logging.getLogger('gensim').setLevel(std_logging.WARNING)  # Per-epoch chatter.
  work = work_dir or tempfile.mkdtemp(prefix='hirenet_data_prep_bench_')
  os.makedirs(work, exist_ok=True)
  start = time.perf_counter()

  def progress(message: str) -> None:
    _say(f'{time.perf_counter() - start:6.1f} s  {message}')

  try:
    results = run(work, on_progress=progress, **kwargs)
  finally:
    if not work_dir:
      shutil.rmtree(work, ignore_errors=True)
  results['total_wall_s'] = time.perf_counter() - start
  return results
