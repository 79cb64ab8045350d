"""Relative attention arithmetic, peaks and hit rates on hand-made cases."""

import numpy as np
import pytest

from hirenet_jax.hirenet.analysis import stats as aa


def test_relative_attention_and_word_importance_by_hand():
  # Two answers; the interview spends 75% of its attention on the first.
  beta = [0.75, 0.25]
  p_q = aa.relative_attention(beta)
  np.testing.assert_allclose(p_q, [1.5, 0.5])
  alpha = [0.5, 0.25, 0.25, 0.0]  # 4 words: relative 2, 1, 1, 0.
  p_w = aa.relative_attention(alpha)
  np.testing.assert_allclose(p_w, [2.0, 1.0, 1.0, 0.0])
  np.testing.assert_allclose(aa.word_importance(p_q[0], p_w),
                             [np.sqrt(3.0), np.sqrt(1.5), np.sqrt(1.5), 0.0])


def test_top_words_ranks_by_mean_importance():
  interviews = [
      ([0.5, 0.5], [[0.7, 0.1, 0.2], [0.5, 0.5]], [['bonjour', 'client', 'vente'],
                                                   ['client', 'merci']]),
      ([1.0, 0.0], [[0.9, 0.1], []], [['client', 'merci'], []]),
  ]
  top = aa.top_words(interviews, k=2, min_count=2)
  # p_q = [1, 1] then [2, 0]. client: sqrt(1 * 0.1*3), sqrt(1 * 0.5*2), sqrt(2 * 0.9*2);
  # merci: sqrt(1 * 0.5*2), sqrt(2 * 0.1*2).
  client = np.mean([np.sqrt(0.3), np.sqrt(1.0), np.sqrt(2 * 1.8)])
  merci = np.mean([np.sqrt(1.0), np.sqrt(2 * 0.2)])
  assert [w.word for w in top] == ['client', 'merci']
  np.testing.assert_allclose([w.importance for w in top], [client, merci])
  assert [w.count for w in top] == [3, 2]
  with pytest.raises(ValueError, match='answer 0'):
    aa.top_words([([1.0], [[0.5, 0.5]], [['one']])])


def test_attention_peaks_finds_the_highest_maxima_in_seconds():
  curve = np.zeros(100)
  curve[20] = 0.3
  curve[19] = curve[21] = 0.15
  curve[70] = 0.5
  curve[99] = 0.05  # An edge peak.
  peaks = aa.attention_peaks(curve, frame_rate=10.0, num_peaks=3, min_distance_s=0.5)
  assert [p.frame for p in peaks] == [70, 20, 99]
  assert peaks[0].time_s == pytest.approx(7.0)
  assert peaks[1].start_s <= 2.0 < peaks[1].end_s
  assert aa.attention_peaks([], 10.0) == []


def test_span_hit_rate_on_a_constructed_case():
  curves = [
      [0.1, 0.7, 0.2, 0.0],  # Peak at step 1, inside [1, 3): hit.
      [0.6, 0.1, 0.1, 0.2],  # Peak at step 0, outside [2, 4): miss.
      [0.0, 0.0, 0.1, 0.9],  # Peak at step 3 inside [3, 4): hit.
  ]
  spans = [[(1, 3)], [(2, 4)], [(3, 4)]]
  hr = aa.span_hit_rate(curves, spans)
  assert (hr.hits, hr.total) == (2, 3)
  assert hr.rate == pytest.approx(2 / 3)
  assert hr.chance == pytest.approx(np.mean([2 / 4, 2 / 4, 1 / 4]))
  # Spans in seconds with 2 frames per second: [0.5 s, 1.0 s) covers frames 1.
  secs = aa.span_hit_rate([[0.1, 0.8, 0.1, 0.0]], [[(0.5, 1.0)]], frame_rate=2.0)
  assert secs.hits == 1 and secs.chance == pytest.approx(0.25)


def test_question_hit_rate_and_chance():
  hr = aa.question_hit_rate([[0.1, 0.8, 0.1], [0.5, 0.2, 0.2, 0.1], [1.0]],
                            [[1], [2, 3], []])
  assert (hr.hits, hr.total) == (1, 2)  # The third interview has no key answer.
  assert hr.chance == pytest.approx(np.mean([1 / 3, 2 / 4]))


def test_mean_question_attention_per_position():
  out = aa.mean_question_attention([
      ('p1', ['Q a', 'Q b'], [0.2, 0.8]),
      ('p1', ['Q a', 'Q b'], [0.4, 0.6]),
      ('p2', ['Q c'], [1.0]),
  ])
  assert out == {'p1': {'Q a': pytest.approx(0.3), 'Q b': pytest.approx(0.7)},
                 'p2': {'Q c': 1.0}}


def test_flat_attention_scores_its_chance_level_not_its_first_element():
  # Uniform weights (HN AVG) must not be credited with a peak at position 0.
  hr = aa.span_hit_rate([[0.25] * 4], [[(0, 1)]])
  assert hr.hits == pytest.approx(0.25) and hr.rate == pytest.approx(hr.chance)
  q = aa.question_hit_rate([[0.2] * 5], [[1, 3]])
  assert q.rate == pytest.approx(0.4) == pytest.approx(q.chance)
