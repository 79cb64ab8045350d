"""Tests for data_prep.hirenet.video: OpenFace parsing, masking and the timestamp window grid."""

import numpy as np
import pytest

from data_prep.hirenet import synthetic
from data_prep.hirenet import video
from data_prep.errors import FeatureError

_AU12 = video.FEATURE_NAMES.index('AU12_r')


def _write_csv(path, rows, columns=synthetic.OPENFACE_COLUMNS):
  with open(path, 'w') as f:
    f.write(', '.join(columns) + '\n')  # OpenFace's ", " separators.
    for row in rows:
      f.write(', '.join(str(v) for v in row) + '\n')
  return str(path)


def _constant_rows(num, fps, value=1.0, success=1, confidence=0.95):
  rows = []
  for i in range(num):
    row = [i + 1, 0, round(i / fps, 3), confidence, success]
    rows.append(row + [value] * (len(synthetic.OPENFACE_COLUMNS) - 5))
  return rows


def _same_signal_at(fps, tmp_path, seconds=8.0):
  signal_fn = synthetic.video_signal(np.random.default_rng(0), seconds, [('X', 2.0), ('Y', 5.0)])
  text = synthetic.render_openface(np.random.default_rng(1), seconds, [], fps,
                                   signal_fn=signal_fn, noise=0.0, failures=False)
  path = tmp_path / f'answer_{fps}fps.csv'
  path.write_text(text)
  return video.load_openface(str(path))


def test_25_and_30_fps_give_the_same_window_grid(tmp_path):
  at25, at30 = _same_signal_at(25, tmp_path), _same_signal_at(30, tmp_path)
  assert at25.shape == at30.shape == (32, len(video.FEATURE_NAMES))
  assert at25.dtype == np.float32
  np.testing.assert_allclose(at25, at30, atol=0.2)
  # The smile planted at 2 s (1.2 s long) is in windows 6-7, not at the start.
  assert at25[6:8, _AU12].mean() > at25[:3, _AU12].mean() + 1.5


@pytest.mark.parametrize('fps', [24.0, 25.0, 29.97, 30.0, 60.0])
def test_window_grid_depends_on_duration_not_frame_rate(fps):
  timestamps = np.arange(int(10.0 * fps)) / fps  # 10 s or just under.
  starts = video.window_grid(timestamps)
  assert len(starts) == 40
  np.testing.assert_allclose(starts[:3], [0.0, 0.25, 0.5])
  assert video.FRAME_RATE == 4.0


def test_failed_and_low_confidence_frames_are_excluded(tmp_path):
  rows = _constant_rows(100, 25.0)
  for i in range(10, 20):
    rows[i][4] = 0                   # success == 0
    rows[i][5:] = [0.0] * len(rows[i][5:])
  for i in range(40, 45):
    rows[i][3] = video.CONFIDENCE_THRESHOLD - 0.05
    rows[i][5:] = [100.0] * len(rows[i][5:])
  features = video.load_openface(_write_csv(tmp_path / 'a.csv', rows))
  assert features.shape == (16, len(video.FEATURE_NAMES))
  np.testing.assert_allclose(features, 1.0)


def test_window_without_valid_frame_repeats_the_previous_one(tmp_path):
  rows = _constant_rows(100, 25.0)
  for i, row in enumerate(rows):
    row[5:] = [float(i // 25)] * len(row[5:])  # value = whole seconds elapsed.
    if 25 <= i < 75:
      row[4] = 0                               # tracking lost in [1 s, 3 s).
  features = video.load_openface(_write_csv(tmp_path / 'a.csv', rows))
  # Windows 3..10 start at 0.75..2.5 s; 3 still sees frames before 1 s, 4..10 see none.
  assert features[3, 0] == 0.0
  np.testing.assert_allclose(features[4:11, 0], features[3, 0])
  assert features[11, 0] == 3.0


def test_multiple_faces_keep_the_most_confident(tmp_path):
  rows = _constant_rows(50, 25.0)
  other = _constant_rows(50, 25.0, value=9.0, confidence=0.8)
  for row in other:
    row[1] = 1
  features = video.load_openface(_write_csv(tmp_path / 'a.csv', rows + other))
  np.testing.assert_allclose(features, 1.0)


def test_no_valid_frame_raises(tmp_path):
  path = _write_csv(tmp_path / 'a.csv', _constant_rows(30, 25.0, success=0))
  with pytest.raises(FeatureError, match='no reliable frame'):
    video.load_openface(path)


def test_missing_columns_raise(tmp_path):
  columns = [c for c in synthetic.OPENFACE_COLUMNS if c != 'AU12_r']
  rows = [row[:-1] for row in _constant_rows(30, 25.0)]
  with pytest.raises(FeatureError, match='AU12_r'):
    video.load_openface(_write_csv(tmp_path / 'a.csv', rows, columns))


def test_unparsable_number_raises(tmp_path):
  rows = _constant_rows(30, 25.0)
  rows[7][20] = 'abc'
  with pytest.raises(FeatureError, match='row 8'):
    video.load_openface(_write_csv(tmp_path / 'a.csv', rows))


def test_garbage_file_raises(tmp_path):
  path = tmp_path / 'a.csv'
  path.write_bytes(b'\x00\x01not,a\ncsv')
  with pytest.raises(FeatureError):
    video.load_openface(str(path))
  path.write_text('')
  with pytest.raises(FeatureError, match='unreadable'):
    video.load_openface(str(path))


def test_generated_corpus_csv_parses_with_failures(tmp_path):
  text = synthetic.render_openface(np.random.default_rng(3), 6.0, [('X', 3.0)], 30.0)
  lines = text.splitlines()
  assert lines[0].startswith('frame, face_id, timestamp, confidence, success, gaze_0_x')
  assert len(lines) == 1 + 180
  path = tmp_path / 'a.csv'
  path.write_text(text)
  features = video.load_openface(str(path))
  assert features.shape == (24, 49) and np.all(np.isfinite(features))
