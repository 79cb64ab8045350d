"""Tests for benchmarks/data_prep.py: its figures agree with each other."""

import os

import numpy as np
import pytest
import soundfile

from benchmarks import data_prep as bench
from data_prep.hirenet import audio
from data_prep.hirenet import corpus as corpus_lib
from data_prep.hirenet import synthetic

_N = 8  # the smallest corpus whose 80/10/10 split leaves no split empty.


@pytest.fixture(scope='module')
def text_results(tmp_path_factory):
  return bench.run(str(tmp_path_factory.mktemp('bench')), candidates=_N,
                   audio_candidates=_N, modalities=['text'])


def test_build_counts_are_the_corpus_sizes(text_results):
  runs = text_results['builds']['text']['runs']
  assert [r['candidates'] for r in runs] == [_N, bench.SCALE * _N]
  assert [r['candidates_kept'] for r in runs] == [_N, bench.SCALE * _N]
  assert all(r['answers_kept'] >= 4 * r['candidates'] for r in runs)
  assert text_results['extraction'] is None  # text only: no audio to extract.


def test_build_ratio_and_rates_come_from_the_two_times(text_results):
  b = text_results['builds']['text']
  small, large = b['runs']
  assert small['seconds'] > 0 and large['seconds'] > 0
  assert b['scale'] == bench.SCALE
  assert b['ratio'] == pytest.approx(large['seconds'] / small['seconds'])
  assert b['deviation_from_linear'] == pytest.approx(b['ratio'] / bench.SCALE - 1)
  for r in (small, large):
    assert r['candidates_per_s'] == pytest.approx(r['candidates'] / r['seconds'])
    assert r['cpu']['wall_s'] == r['seconds']
    # The fitted line goes through both measurements.
    assert b['fixed_s'] + b['per_candidate_s'] * r['candidates'] == pytest.approx(
        r['seconds'])


def test_stages_cover_the_build_and_are_timed_separately(text_results):
  b = text_results['builds']['text']
  for r in b['runs']:
    stages = r['stage_seconds']
    assert list(stages) == ['read', 'features', 'vocab', 'write']
    assert all(s >= 0 for s in stages.values())
    assert stages['write'] > 0 and stages['vocab'] > 0
    assert sum(stages.values()) <= r['seconds']
    assert sum(stages.values()) > 0.5 * r['seconds']
  small, large = b['runs']
  assert b['stages']['write']['ratio'] == pytest.approx(
      large['stage_seconds']['write'] / small['stage_seconds']['write'])


def test_table_shows_the_figures(text_results):
  table = bench.format_table(text_results)
  b = text_results['builds']['text']
  assert 'Building text shards' in table and 'Audio features' not in table
  assert f'{b["ratio"]:.2f}x the time' in table
  assert f'{b["runs"][1]["seconds"]:>7.2f}' in table


def test_extraction_counts_audio_and_every_worker_process(tmp_path):
  pytest.importorskip('psutil')
  paths = []
  for k in range(4):
    path = str(tmp_path / f'answer_{k}.wav')
    samples = synthetic.render_audio(np.random.default_rng(k), 1.0, [('X', 0.5)])
    soundfile.write(path, samples, audio.SAMPLE_RATE, subtype='PCM_16')
    paths.append(path)
  ex = bench.benchmark_extraction(paths, [1, 2])
  assert ex['files'] == 4
  assert ex['audio_minutes'] == pytest.approx(4.0 / 60, rel=1e-3)
  one, two = ex['runs']
  assert [one['workers'], two['workers']] == [1, 2]
  assert ex['speedup'] == pytest.approx(one['wall_s'] / two['wall_s'])
  for r in (one, two):
    assert r['wall_s'] > 0 and r['cpu_s'] > 0
    assert r['audio_min_per_s'] == pytest.approx(ex['audio_minutes'] / r['wall_s'])
    assert r['cores_busy'] == pytest.approx(r['cpu_s'] / r['wall_s'])
    assert len(r['per_core_busy_percent']) == os.cpu_count()
  # The pool's workers are forkserver children, invisible to getrusage: the monitor
  # must find both of them doing the work.
  assert two['busy_processes'] >= 2


def test_too_small_a_corpus_is_refused(tmp_path):
  with pytest.raises(ValueError, match='at least'):
    bench.run(str(tmp_path), candidates=4, audio_candidates=_N, modalities=['text'])
  with pytest.raises(ValueError, match='text and/or audio'):
    bench.run(str(tmp_path), candidates=_N, audio_candidates=_N, modalities=['video'])


def test_runner_comparison_times_both_builds_of_one_corpus(tmp_path):
  pytest.importorskip('apache_beam')
  results = bench.run(str(tmp_path), candidates=_N, audio_candidates=_N,
                      modalities=['text'], runner='beam',
                      beam_options='direct_num_workers=1')
  c = results['runners']['text']
  assert (c['candidates'], c['answers_kept']) == (_N, _answers_of(tmp_path))
  local, beam = c['runs']['local'], c['runs']['beam']
  assert c['ratio'] == pytest.approx(beam['seconds'] / local['seconds'])
  assert list(local['stage_seconds']) == ['read', 'features', 'vocab', 'write']
  assert list(beam['stage_seconds']) == ['read', 'pipeline', 'write']
  for run_ in (local, beam):
    assert 0 < sum(run_['stage_seconds'].values()) <= run_['seconds']
  assert results['builds'] == {} and results['extraction'] is None
  assert f'Beam / local: {c["ratio"]:.2f}x the time' in bench.format_table(results)


def _answers_of(work_dir):
  """Answers of the generated text corpus (every one has a transcript)."""
  interviews, _ = corpus_lib.read_corpus(str(work_dir / f'corpus_text_{_N}'))
  return sum(len(i.answers) for i in interviews)


def test_corpus_dir_and_beam_options_need_the_beam_runner(tmp_path):
  for kwargs in (dict(corpus_dir=str(tmp_path)), dict(beam_options='runner=x')):
    with pytest.raises(ValueError, match='only with runner=beam'):
      bench.run(str(tmp_path), candidates=_N, audio_candidates=_N, modalities=['text'],
                **kwargs)
