"""Frame-level eGeMAPSv02 audio descriptors (the paper's audio input) with openSMILE.

`extract_lld` turns one answer's audio (or precomputed openSMILE features) into
float32 [T, 25] low-level descriptors at 100 frames/s; `extract_many` does a list of files
on all cores.

Unvoiced frames: openSMILE writes F0 (`F0semitoneFrom27.5Hz_sma3nz`) and the other `*nz`
descriptors (jitter, shimmer, HNR, H1-H2, H1-A3, formants) as 0 where no voicing is found.
The zeros are kept, as in the paper, which used the raw LLDs: pauses are part of the signal.
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
import time
import warnings
from typing import Callable, Sequence

from absl import logging
import numpy as np
import soundfile
import tqdm

from data_prep.errors import FeatureError

FEATURE_NAMES = (
    'Loudness_sma3', 'alphaRatio_sma3', 'hammarbergIndex_sma3', 'slope0-500_sma3',
    'slope500-1500_sma3', 'spectralFlux_sma3', 'mfcc1_sma3', 'mfcc2_sma3', 'mfcc3_sma3',
    'mfcc4_sma3', 'F0semitoneFrom27.5Hz_sma3nz', 'jitterLocal_sma3nz',
    'shimmerLocaldB_sma3nz', 'HNRdBACF_sma3nz', 'logRelF0-H1-H2_sma3nz',
    'logRelF0-H1-A3_sma3nz', 'F1frequency_sma3nz', 'F1bandwidth_sma3nz',
    'F1amplitudeLogRelF0_sma3nz', 'F2frequency_sma3nz', 'F2bandwidth_sma3nz',
    'F2amplitudeLogRelF0_sma3nz', 'F3frequency_sma3nz', 'F3bandwidth_sma3nz',
    'F3amplitudeLogRelF0_sma3nz')
FRAME_RATE = 100.0       # eGeMAPS LLDs: 10 ms hop.
SAMPLE_RATE = 16000      # audio is resampled to 16 kHz mono before openSMILE.
MIN_SECONDS = 0.25       # shorter audio is an extraction failure (too few frames).
# The paper feeds raw 100 frames/s LLDs, and so does `extract_lld` by default. Pooling is
# for CPU budgets: k = 2-4 averages non-overlapping 20-40 ms blocks, still finer than a
# syllable (~200 ms), and divides the GRU's steps (5200 for a 52 s answer) by k.
DEFAULT_FRAME_POOLING = 1

# Read by libsndfile (>= 1.1 reads MP3); other containers go through librosa / audioread.
_SNDFILE_SUFFIXES = ('.wav', '.flac', '.mp3', '.ogg', '.aiff', '.aif', '.au', '.caf', '.w64')


NUM_FUNCTIONALS = 88    # eGeMAPSv02 Functionals: the non-sequential audio baseline.


@functools.lru_cache(maxsize=None)
def _smile(level: str = 'lld'):
  """One openSMILE extractor per process and level (created lazily in each worker)."""
  import opensmile  # pylint: disable=g-import-not-at-top
  feature_level = {'lld': opensmile.FeatureLevel.LowLevelDescriptors,
                   'functionals': opensmile.FeatureLevel.Functionals}[level]
  return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                         feature_level=feature_level)


def pool_frames(frames_TxD: np.ndarray, frame_pooling: int) -> np.ndarray:
  """Averages non-overlapping blocks of `frame_pooling` frames (a shorter last block too)."""
  if frame_pooling < 1:
    raise ValueError(f'frame_pooling must be >= 1, got {frame_pooling}')
  if frame_pooling == 1:
    return frames_TxD
  num_frames = frames_TxD.shape[0]
  starts = np.arange(0, num_frames, frame_pooling)
  sums = np.add.reduceat(frames_TxD.astype(np.float64), starts, axis=0)
  counts = np.diff(np.append(starts, num_frames))[:, None]
  return (sums / counts).astype(np.float32)


def load_audio(path: str) -> np.ndarray:
  """float32 mono samples at SAMPLE_RATE; raises FeatureError if unreadable or empty."""
  try:
    samples, rate = soundfile.read(path, dtype='float32', always_2d=True)
    samples = samples.mean(axis=1)
  except Exception as e:  # pylint: disable=broad-except
    if os.path.splitext(path)[1].lower() in _SNDFILE_SUFFIXES:
      raise FeatureError(path, f'unreadable audio ({type(e).__name__}: {e})') from None
    try:  # containers libsndfile lacks (m4a, aac, opus...): librosa's audioread fallback.
      import librosa  # pylint: disable=g-import-not-at-top
      with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        samples, rate = librosa.load(path, sr=None, mono=True)
    except Exception:  # pylint: disable=broad-except
      raise FeatureError(path, f'unreadable audio ({type(e).__name__}: {e})') from None
  if samples.size == 0:
    raise FeatureError(path, 'empty audio (0 samples)')
  if rate != SAMPLE_RATE:
    from scipy import signal  # pylint: disable=g-import-not-at-top
    g = math.gcd(int(rate), SAMPLE_RATE)
    samples = signal.resample_poly(samples, SAMPLE_RATE // g, int(rate) // g)
  samples = np.asarray(samples, np.float32)
  if not np.all(np.isfinite(samples)):
    raise FeatureError(path, 'audio samples contain NaN or inf')
  seconds = samples.size / SAMPLE_RATE
  if seconds < MIN_SECONDS:
    raise FeatureError(path, f'audio too short ({seconds:.3f} s < {MIN_SECONDS} s)')
  return samples


def _read_lld_csv(path: str) -> np.ndarray:
  """Reads the 25 eGeMAPS columns by name from a SMILExtract or opensmile-python CSV."""
  import pandas as pd  # pylint: disable=g-import-not-at-top
  try:
    with open(path, encoding='utf-8', errors='replace') as f:
      header = f.readline()
    sep = ';' if header.count(';') > header.count(',') else ','
    table = pd.read_csv(path, sep=sep, skipinitialspace=True)
  except Exception as e:  # pylint: disable=broad-except
    raise FeatureError(path, f'unreadable LLD CSV ({type(e).__name__}: {e})') from None
  table.columns = [str(c).strip().strip("'\"") for c in table.columns]
  missing = [n for n in FEATURE_NAMES if n not in table.columns]
  if missing:
    raise FeatureError(path, f'LLD CSV lacks {len(missing)} eGeMAPS columns '
                       f'(e.g. {missing[:3]}); has {len(table.columns)} columns')
  values = table[list(FEATURE_NAMES)].apply(pd.to_numeric, errors='coerce')
  bad = values.isna().to_numpy()
  if bad.any():
    row, col = map(int, np.argwhere(bad)[0])
    raise FeatureError(path, f'unparsable or missing number in row {row + 1}, '
                       f'column {FEATURE_NAMES[col]}')
  return values.to_numpy(np.float32)


def _read_npy(path: str) -> np.ndarray:
  try:
    frames = np.load(path, allow_pickle=False)
  except Exception as e:  # pylint: disable=broad-except
    raise FeatureError(path, f'unreadable .npy ({type(e).__name__}: {e})') from None
  if frames.ndim != 2 or frames.shape[1] != len(FEATURE_NAMES):
    raise FeatureError(path, f'expected [frames, {len(FEATURE_NAMES)}] features, '
                       f'got shape {list(frames.shape)}')
  return frames.astype(np.float32)


def extract_lld(path: str, *, frame_pooling: int = DEFAULT_FRAME_POOLING) -> np.ndarray:
  """eGeMAPSv02 LLDs of one answer: float32 [T, 25] at FRAME_RATE / frame_pooling frames/s.

  Args:
    path: audio (WAV/FLAC/MP3..., any rate and channel count: mixed to mono, resampled to
      16 kHz, then openSMILE eGeMAPSv02 LowLevelDescriptors), or precomputed features: an
      openSMILE LLD `.csv` (SMILExtract's `;` file or opensmile-python's DataFrame CSV,
      columns found by name) or a `.npy` [frames, 25] in FEATURE_NAMES order.
    frame_pooling: k averages non-overlapping blocks of k frames (see
      DEFAULT_FRAME_POOLING for the trade-off).

  Raises:
    FeatureError: unreadable, empty or too short (< MIN_SECONDS) audio, wrong columns or
      shape, NaN / inf features.
  """
  suffix = os.path.splitext(path)[1].lower()
  if suffix == '.npy':
    frames = _read_npy(path)
  elif suffix == '.csv':
    frames = _read_lld_csv(path)
  else:
    samples = load_audio(path)
    try:
      frames = _smile().process_signal(samples, SAMPLE_RATE).to_numpy(np.float32)
    except Exception as e:  # pylint: disable=broad-except
      raise FeatureError(path, f'openSMILE failed ({type(e).__name__}: {e})') from None
  if frames.shape[0] == 0:
    raise FeatureError(path, 'no feature frames')
  if frames.shape[1] != len(FEATURE_NAMES):
    raise FeatureError(path, f'expected {len(FEATURE_NAMES)} features per frame, '
                       f'got {frames.shape[1]}')
  if not np.all(np.isfinite(frames)):
    raise FeatureError(path, 'features contain NaN or inf')
  return pool_frames(frames, frame_pooling)


def extract_functionals(path: str) -> np.ndarray:
  """eGeMAPSv02 Functionals of one answer's audio: float32 [88] (Eyben et al. 2016).

  The paper's non-sequential audio representation. It needs the audio itself:
  precomputed LLD files (.csv / .npy) cannot give the official functionals.

  Raises:
    FeatureError: not an audio file, unreadable / too short audio, NaN / inf output.
  """
  if os.path.splitext(path)[1].lower() in ('.npy', '.csv'):
    raise FeatureError(path, 'eGeMAPS functionals need the audio file, not precomputed LLDs')
  samples = load_audio(path)
  try:
    values = _smile('functionals').process_signal(samples, SAMPLE_RATE).to_numpy(np.float32)
  except Exception as e:  # pylint: disable=broad-except
    raise FeatureError(path, f'openSMILE failed ({type(e).__name__}: {e})') from None
  values = values.reshape(-1)
  if values.shape[0] != NUM_FUNCTIONALS or not np.all(np.isfinite(values)):
    raise FeatureError(path, f'expected {NUM_FUNCTIONALS} finite functionals, '
                       f'got {values.shape[0]}')
  return values


def _extract_job(job: tuple[str, int, str]):
  """Worker entry point: returns (features or (path, reason), seconds of audio)."""
  path, frame_pooling, level = job
  try:
    if level == 'functionals':
      values = extract_functionals(path)
      return values, float(soundfile.info(path).duration) if path.lower().endswith(
          ('.wav', '.flac')) else 0.0
    frames = extract_lld(path, frame_pooling=frame_pooling)
  except FeatureError as e:  # FeatureError does not pickle with its two fields.
    return (e.path, e.reason), 0.0
  except Exception as e:  # pylint: disable=broad-except
    return (path, f'{type(e).__name__}: {e}'), 0.0
  return frames, frames.shape[0] * frame_pooling / FRAME_RATE


def available_cores() -> int:
  """Cores this process may run on (its CPU affinity, which `os.cpu_count()` ignores)."""
  if hasattr(os, 'sched_getaffinity'):
    return len(os.sched_getaffinity(0)) or 1
  return os.cpu_count() or 1


def _mp_context():
  # Never fork: the caller may hold JAX / XLA threads. forkserver and spawn re-import only
  # this module in the workers.
  methods = multiprocessing.get_all_start_methods()
  return multiprocessing.get_context('forkserver' if 'forkserver' in methods else 'spawn')


def extract_many(paths: Sequence[str], *, frame_pooling: int = DEFAULT_FRAME_POOLING,
                 workers: int | None = None,
                 on_progress: Callable[[int, int], None] | None = None,
                 level: str = 'lld') -> list[np.ndarray | FeatureError]:
  """`extract_lld` (or, with level='functionals', `extract_functionals`) over many
  files on `workers` processes (None: every available core).

  Returns one entry per path, in input order: the [T, 25] array, or the FeatureError
  (returned, not raised) for a file that failed. Shows a tqdm bar on stderr, calls
  `on_progress(done, total)` after each file and logs the throughput at the end. Workers
  are forkserver (else spawn) processes, each with its own openSMILE object: safe beside
  JAX threads, but the calling script needs an `if __name__ == '__main__':` guard.
  """
  paths = [os.fspath(p) for p in paths]
  workers = max(1, min(workers or available_cores(), len(paths) or 1))
  if level not in ('lld', 'functionals'):
    raise ValueError(f"level must be 'lld' or 'functionals', got {level!r}")
  jobs = [(p, frame_pooling, level) for p in paths]
  start = time.time()
  results, seconds = [], 0.0
  bar = tqdm.tqdm(total=len(jobs), desc='openSMILE', unit='file', leave=False)
  pool = _mp_context().Pool(workers) if workers > 1 else None
  try:
    outputs = pool.imap(_extract_job, jobs, chunksize=1) if pool else map(_extract_job, jobs)
    for i, (out, sec) in enumerate(outputs):
      results.append(FeatureError(*out) if isinstance(out, tuple) else out)
      seconds += sec
      bar.update(1)
      if on_progress is not None:
        on_progress(i + 1, len(jobs))
  finally:
    bar.close()
    if pool is not None:
      pool.terminate()  # all results are in (or we are unwinding): stop the workers.
      pool.join()
  elapsed = max(time.time() - start, 1e-9)
  logging.info('%d files, %.1f min of audio in %.1f s: %.2f min of audio per second',
               len(paths), seconds / 60, elapsed, seconds / 60 / elapsed)
  return results


def answer_functionals(corpus_dir: str, answers: Sequence[tuple[str, int]], *,
                       workers: int | None = None) -> tuple[np.ndarray, list[FeatureError]]:
  """eGeMAPS functionals of (candidate_id, answer_index) answers of a raw corpus.

  Returns ([len(answers), 88] with NaN rows where extraction failed, the failures).
  """
  from data_prep.hirenet import corpus as corpus_lib  # pylint: disable=g-import-not-at-top
  interviews, _ = corpus_lib.read_corpus(corpus_dir)
  by_id = {i.candidate_id: i for i in interviews}
  paths = []
  for candidate_id, index in answers:
    answer = by_id[candidate_id].answers[index]
    paths.append(os.path.join(corpus_dir, answer.audio) if answer.audio else
                 f'{candidate_id} answer {index + 1}: no audio')
  values = extract_many(paths, workers=workers, level='functionals')
  out = np.full((len(paths), NUM_FUNCTIONALS), np.nan, np.float32)
  failures = []
  for k, value in enumerate(values):
    if isinstance(value, np.ndarray):
      out[k] = value
    else:
      failures.append(value)
  return out, failures
