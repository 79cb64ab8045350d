"""OpenFace 2.x CSV -> smoothed per-window visual features (the paper's video input).

The paper keeps head position and rotation, action-unit intensities and presences and gaze
direction, and, because recordings have different frame rates, averages them over 0.5 s
windows overlapping by 0.25 s. Windows sit on a grid of timestamps, not frame numbers:
window k covers [0.25 k, 0.25 k + 0.5) seconds, so a 25 fps and a 30 fps recording of the
same face give the same number of windows and nearly the same values.

Unreliable frames (success == 0 or confidence < CONFIDENCE_THRESHOLD) are left out of the
averages. A window without any reliable frame repeats the previous window's values (the
first reliable window's values before it): the face did not vanish, tracking did, and
carrying the last estimate keeps the sequence free of fake zeros. A file without any
reliable frame is a FeatureError, like a failed extraction.
"""

from __future__ import annotations

import math

import numpy as np

from data_prep.errors import FeatureError

AU_INTENSITY = ('AU01', 'AU02', 'AU04', 'AU05', 'AU06', 'AU07', 'AU09', 'AU10', 'AU12',
                'AU14', 'AU15', 'AU17', 'AU20', 'AU23', 'AU25', 'AU26', 'AU45')
AU_PRESENCE = ('AU01', 'AU02', 'AU04', 'AU05', 'AU06', 'AU07', 'AU09', 'AU10', 'AU12',
               'AU14', 'AU15', 'AU17', 'AU20', 'AU23', 'AU25', 'AU26', 'AU28', 'AU45')
FEATURE_NAMES = (
    tuple(f'pose_{k}' for k in ('Tx', 'Ty', 'Tz', 'Rx', 'Ry', 'Rz'))
    + tuple(f'{au}_r' for au in AU_INTENSITY) + tuple(f'{au}_c' for au in AU_PRESENCE)
    + tuple(f'gaze_{eye}_{axis}' for eye in (0, 1) for axis in 'xyz')
    + ('gaze_angle_x', 'gaze_angle_y'))  # 49 features.
WINDOW_SECONDS = 0.5
HOP_SECONDS = 0.25
FRAME_RATE = 1.0 / HOP_SECONDS  # windows per second.
# OpenFace's landmark confidence. Webcam and smartphone interviews rarely reach the 0.9
# used in lab studies; below 0.75 AU and gaze estimates degrade visibly, so such frames
# are treated like failed ones.
CONFIDENCE_THRESHOLD = 0.75
_REQUIRED = ('timestamp', 'confidence', 'success') + FEATURE_NAMES


def window_grid(timestamps: np.ndarray) -> np.ndarray:
  """Start times [W] of the windows covering a recording with these frame timestamps.

  The recording is taken to last until the last timestamp plus one frame period (the
  median gap), and a window is kept when it starts before that end.
  """
  timestamps = np.asarray(timestamps, np.float64)
  if timestamps.size == 0:
    return np.zeros(0)
  gaps = np.diff(np.sort(timestamps))
  period = float(np.median(gaps)) if gaps.size else 0.0
  end = float(timestamps.max()) + period
  num = max(1, math.ceil(end / HOP_SECONDS - 1e-6))
  return np.arange(num) * HOP_SECONDS


def window_average(timestamps: np.ndarray, values_NxD: np.ndarray,
                   valid_N: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Means of valid frames per window -> (values [W, D], number of valid frames [W])."""
  starts = window_grid(timestamps)
  num_windows = starts.size
  # A frame at time t is in windows floor(t / hop) and the one before (0.5 = 2 hops).
  last = np.floor(np.asarray(timestamps) / HOP_SECONDS + 1e-6).astype(np.int64)
  sums = np.zeros((num_windows, values_NxD.shape[1]))
  counts = np.zeros(num_windows)
  for k in (last, last - 1):
    keep = valid_N & (k >= 0) & (k < num_windows)
    np.add.at(sums, k[keep], values_NxD[keep])
    np.add.at(counts, k[keep], 1)
  return sums / np.maximum(counts, 1)[:, None], counts


def _fill_empty(values_WxD: np.ndarray, counts_W: np.ndarray) -> np.ndarray:
  """Empty windows take the previous non-empty window (leading ones the first)."""
  filled = np.flatnonzero(counts_W > 0)
  source = np.maximum.accumulate(np.where(counts_W > 0, np.arange(counts_W.size), -1))
  source[source < 0] = filled[0]
  return values_WxD[source]


def _read_table(path: str):
  import pandas as pd  # pylint: disable=g-import-not-at-top
  try:
    table = pd.read_csv(path, skipinitialspace=True, low_memory=False)
  except Exception as e:  # pylint: disable=broad-except
    raise FeatureError(path, f'unreadable OpenFace CSV ({type(e).__name__}: {e})') from None
  table.columns = [str(c).strip() for c in table.columns]
  missing = [c for c in _REQUIRED if c not in table.columns]
  if missing:
    raise FeatureError(path, f'OpenFace CSV lacks {len(missing)} required columns '
                       f'(e.g. {missing[:4]})')
  if len(table) == 0:
    raise FeatureError(path, 'OpenFace CSV has no frames')
  columns = list(_REQUIRED) + (['frame'] if 'frame' in table.columns else [])
  numbers = table[columns].apply(pd.to_numeric, errors='coerce')
  bad = numbers[list(_REQUIRED)].isna().to_numpy()
  if bad.any():
    row, col = map(int, np.argwhere(bad)[0])
    raise FeatureError(path, f'unparsable number in row {row + 1}, column {_REQUIRED[col]}: '
                       f'{table[_REQUIRED[col]].iloc[row]!r}')
  if 'frame' in numbers.columns and numbers['frame'].duplicated().any():
    # Several faces tracked (FaceLandmarkVidMulti): keep the most confident per frame.
    numbers = numbers.sort_values(['frame', 'confidence'], ascending=[True, False])
    numbers = numbers.drop_duplicates('frame')
  return numbers.sort_values('timestamp', kind='stable')


def load_openface(path: str) -> np.ndarray:
  """float32 [W, 49] features (FEATURE_NAMES) in 0.5 s windows every 0.25 s.

  Raises:
    FeatureError: unreadable file, missing columns, unparsable numbers, no frames or no
      reliable frame (success == 1 and confidence >= CONFIDENCE_THRESHOLD).
  """
  table = _read_table(path)
  timestamps = table['timestamp'].to_numpy(np.float64)
  values = table[list(FEATURE_NAMES)].to_numpy(np.float64)
  if not np.all(np.isfinite(values)) or not np.all(np.isfinite(timestamps)):
    raise FeatureError(path, 'OpenFace CSV contains NaN or inf')
  valid = ((table['success'].to_numpy() != 0)
           & (table['confidence'].to_numpy() >= CONFIDENCE_THRESHOLD))
  if not valid.any():
    raise FeatureError(path, f'no reliable frame (success == 1 and confidence >= '
                       f'{CONFIDENCE_THRESHOLD}) among {len(valid)} frames')
  windows, counts = window_average(timestamps, values, valid)
  return _fill_empty(windows, counts).astype(np.float32)
