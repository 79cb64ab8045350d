"""Tests for data_prep.hirenet.audio: openSMILE LLDs, precomputed inputs and failures."""

import numpy as np
import pandas as pd
import pytest
import soundfile

from data_prep.hirenet import audio
from data_prep.hirenet import synthetic
from data_prep.errors import FeatureError

_SECONDS = 4.0
_EVENTS = [('X', 1.2), ('Y', 2.8)]  # X: pitch rise, Y: loudness burst (0.8 s each).
_F0 = audio.FEATURE_NAMES.index('F0semitoneFrom27.5Hz_sma3nz')
_LOUDNESS = audio.FEATURE_NAMES.index('Loudness_sma3')


@pytest.fixture(scope='module')
def wav_path(tmp_path_factory):
  samples = synthetic.render_audio(np.random.default_rng(0), _SECONDS, _EVENTS)
  path = str(tmp_path_factory.mktemp('audio') / 'answer.wav')
  soundfile.write(path, samples, audio.SAMPLE_RATE, subtype='PCM_16')
  return path


@pytest.fixture(scope='module')
def lld(wav_path):
  return audio.extract_lld(wav_path)


def _in_span(num_frames, center, half=0.3):
  t = np.arange(num_frames) / audio.FRAME_RATE
  return np.abs(t - center) < half


def test_opensmile_gives_100_frames_per_second_of_finite_lld(lld):
  assert lld.dtype == np.float32
  assert lld.shape[1] == len(audio.FEATURE_NAMES) == 25
  assert abs(lld.shape[0] - _SECONDS * audio.FRAME_RATE) <= 6
  assert np.all(np.isfinite(lld))


def test_f0_is_higher_in_the_planted_pitch_rise(lld):
  f0 = lld[:, _F0]
  span = _in_span(len(f0), _EVENTS[0][1])
  voiced = f0 > 0
  assert voiced.mean() > 0.5
  assert f0[span & voiced].mean() > f0[~_in_span(len(f0), _EVENTS[0][1], 0.6) & voiced].mean() + 3


def test_loudness_is_higher_in_the_planted_burst(lld):
  loudness = lld[:, _LOUDNESS]
  span = _in_span(len(loudness), _EVENTS[1][1])
  assert loudness[span].mean() > 1.4 * loudness[~_in_span(len(loudness), _EVENTS[1][1], 0.6)].mean()


def test_stereo_44k_is_resampled_to_the_same_frames(wav_path, lld, tmp_path):
  samples, rate = soundfile.read(wav_path, dtype='float32')
  from scipy import signal  # pylint: disable=g-import-not-at-top
  stereo = np.stack([signal.resample_poly(samples, 441, 160)] * 2, axis=1)
  path = str(tmp_path / 'stereo.flac')
  soundfile.write(path, stereo, 44100)
  other = audio.extract_lld(path)
  assert abs(other.shape[0] - lld.shape[0]) <= 1
  n = min(len(other), len(lld))
  assert np.corrcoef(other[:n, _F0], lld[:n, _F0])[0, 1] > 0.9


def test_frame_pooling_averages_blocks(lld, wav_path):
  pooled = audio.extract_lld(wav_path, frame_pooling=4)
  assert pooled.shape == (-(-lld.shape[0] // 4), 25)
  np.testing.assert_allclose(pooled[0], lld[:4].mean(0), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(pooled[-1], lld[(len(pooled) - 1) * 4:].mean(0), rtol=1e-5,
                             atol=1e-5)


def test_npy_input_is_read_as_is(lld, tmp_path):
  path = str(tmp_path / 'features.npy')
  np.save(path, lld.astype(np.float64))
  np.testing.assert_array_equal(audio.extract_lld(path), lld)
  np.save(path, lld[:, :24])
  with pytest.raises(FeatureError, match='shape'):
    audio.extract_lld(path)


def test_smilextract_csv_is_read_by_column_name(lld, tmp_path):
  path = str(tmp_path / 'smilextract.csv')
  table = pd.DataFrame(lld, columns=audio.FEATURE_NAMES)
  table.insert(0, 'frameTime', np.arange(len(lld)) / 100)
  table.insert(0, 'name', "'unknown'")
  table.to_csv(path, sep=';', index=False)
  np.testing.assert_allclose(audio.extract_lld(path), lld, rtol=1e-5, atol=1e-4)


def test_opensmile_python_csv_is_read_by_column_name(lld, tmp_path):
  path = str(tmp_path / 'dataframe.csv')
  table = pd.DataFrame(lld[:, ::-1], columns=audio.FEATURE_NAMES[::-1])  # any column order.
  table.insert(0, 'end', np.arange(len(lld)) / 100 + 0.02)
  table.insert(0, 'start', np.arange(len(lld)) / 100)
  table.to_csv(path, index=False)
  np.testing.assert_allclose(audio.extract_lld(path), lld, rtol=1e-5, atol=1e-4)


def test_csv_with_missing_columns_or_nan_raises(lld, tmp_path):
  path = str(tmp_path / 'bad.csv')
  pd.DataFrame(lld[:, :20], columns=audio.FEATURE_NAMES[:20]).to_csv(path, index=False)
  with pytest.raises(FeatureError, match='lacks 5'):
    audio.extract_lld(path)
  values = lld.copy()
  values[3, 2] = np.nan
  pd.DataFrame(values, columns=audio.FEATURE_NAMES).to_csv(path, index=False)
  with pytest.raises(FeatureError, match='row 4'):
    audio.extract_lld(path)


@pytest.mark.parametrize('content, reason', [
    (b'', 'unreadable'),
    (b'RIFF\x24\x00\x00\x00WAVEfmt garbage that is not audio', 'unreadable'),
])
def test_corrupt_wav_raises(tmp_path, content, reason):
  path = str(tmp_path / 'corrupt.wav')
  with open(path, 'wb') as f:
    f.write(content)
  with pytest.raises(FeatureError, match=reason) as info:
    audio.extract_lld(path)
  assert info.value.path == path


def test_empty_and_too_short_wav_raise(tmp_path):
  path = str(tmp_path / 'empty.wav')
  soundfile.write(path, np.zeros(0, np.float32), 16000)
  with pytest.raises(FeatureError, match='empty'):
    audio.extract_lld(path)
  soundfile.write(path, np.zeros(800, np.float32), 16000)
  with pytest.raises(FeatureError, match='too short'):
    audio.extract_lld(path)


def test_extract_many_keeps_order_and_returns_errors(wav_path, lld, tmp_path):
  npy = str(tmp_path / 'features.npy')
  np.save(npy, lld[:50])
  missing = str(tmp_path / 'missing.wav')
  progress = []
  results = audio.extract_many([npy, missing, wav_path], workers=2,
                               on_progress=lambda done, total: progress.append((done, total)))
  assert results[0].shape == (50, 25)
  assert isinstance(results[1], FeatureError) and results[1].path == missing
  np.testing.assert_allclose(results[2], lld)
  assert progress[-1] == (3, 3)


def test_feature_names_are_opensmiles_order():
  assert tuple(audio._smile().feature_names) == audio.FEATURE_NAMES


def test_functionals_are_88_finite_values_and_need_the_audio(wav_path, lld, tmp_path):
  values = audio.extract_functionals(wav_path)
  assert values.shape == (audio.NUM_FUNCTIONALS,) and np.all(np.isfinite(values))
  npy = str(tmp_path / 'lld.npy')
  np.save(npy, lld)
  with pytest.raises(FeatureError, match='need the audio file'):
    audio.extract_functionals(npy)
  results = audio.extract_many([wav_path, npy], workers=1, level='functionals')
  np.testing.assert_allclose(results[0], values)
  assert isinstance(results[1], FeatureError)


@pytest.mark.parametrize('frame_pooling', [1, 10])
def test_planted_events_move_the_frames_at_their_time(lld, frame_pooling):
  """X's pitch rise and Y's loudness burst peak inside their 0.8 s spans, raw or pooled to
  the 0.1 s steps training runs see (data_prep.hirenet.datasets.AUDIO_FRAME_POOLING)."""
  frames = audio.pool_frames(lld, frame_pooling)
  centres = (np.arange(len(frames)) + 0.5) * frame_pooling / audio.FRAME_RATE
  half = synthetic.AUDIO_EVENT_SECONDS / 2
  for (_, centre), column in zip(_EVENTS, (_F0, _LOUDNESS)):
    assert abs(centres[np.argmax(frames[:, column])] - centre) < half
  inside_x = np.abs(centres - _EVENTS[0][1]) < half - 0.15
  outside = np.all([np.abs(centres - c) > half + 0.2 for _, c in _EVENTS], axis=0)
  voiced = frames[:, _F0] > 0
  assert frames[inside_x, _F0].min() > np.median(frames[outside & voiced, _F0]) + 4
