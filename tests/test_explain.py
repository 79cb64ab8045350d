"""Hit rates of attention against planted cue spans, on hand-built candidates whose rates
are known exactly (hirenet_jax/hirenet/analysis/explain.py)."""

from __future__ import annotations

import pytest

from hirenet_jax.hirenet.analysis import explain

# Words of every text answer below: 'w0 w1 w2 w3', characters [0,2) [3,5) [6,8) [9,11).
OFFSETS = [[0, 2], [3, 5], [6, 8], [9, 11]]


def _text_answer(slot, attention, beta):
  return {'answer_index': slot, 'question_attention': beta, 'attention': attention,
          'word_offsets': OFFSETS}


def _truth(key_answers, events_by_slot, modality='text'):
  answers = [{modality: events_by_slot.get(slot, [])} for slot in range(3)]
  return {'key_answers': key_answers, 'answers': answers}


TEXT_CANDIDATES = [
    # Peak on w2, inside the X span (w2): a hit. Slot 1 is missing: the key answer, slot 2,
    # is the candidate's second answer, which also gets the most question attention.
    {'candidate_id': 'hit', 'answers': [
        _text_answer(0, [0.1, 0.6, 0.2, 0.1], 0.3),
        _text_answer(2, [0.1, 0.1, 0.7, 0.1], 0.7)]},
    # Peak on w0, the Y span is w3 only: a miss; the question peak is on the other answer.
    {'candidate_id': 'miss', 'answers': [
        _text_answer(0, [0.7, 0.1, 0.1, 0.1], 0.2),
        _text_answer(1, [0.1, 0.1, 0.1, 0.7], 0.8)]},
    # A tie between w1 (inside the X span) and w3 (outside): half a hit; tied questions too.
    {'candidate_id': 'tie', 'answers': [
        _text_answer(0, [0.1, 0.4, 0.1, 0.4], 0.5),
        _text_answer(1, [0.25, 0.25, 0.25, 0.25], 0.5)]},
    {'candidate_id': 'not_in_the_truth', 'answers': [
        _text_answer(0, [1.0, 0.0, 0.0, 0.0], 1.0)]},
]
TEXT_TRUTH = {
    'hit': _truth([2], {2: [{'event': 'X', 'chars': [6, 8]}],
                        0: [{'event': 'X', 'chars': [3, 5]}]}),  # Not a key answer.
    'miss': _truth([0], {0: [{'event': 'Y', 'chars': [8, 11]},  # From the space after w2.
                             {'event': 'Z', 'chars': [0, 2]}]}),  # Z is not a cue.
    'tie': _truth([0], {0: [{'event': 'X', 'chars': [4, 5]}]}),  # Inside w1.
}


def test_text_hit_rates_are_exact_on_a_hand_built_case():
  scores = explain.ground_truth_scores('text', None, TEXT_CANDIDATES, TEXT_TRUTH)
  answers = scores['answer_peak_in_cue_span']
  assert answers['total'] == 3
  assert answers['hits'] == pytest.approx(1.5)
  assert answers['rate'] == pytest.approx(0.5)
  assert answers['chance'] == pytest.approx(0.25)  # One word of four in every span.
  questions = scores['question_peak_on_key_answer']
  assert questions['total'] == 3
  assert questions['hits'] == pytest.approx(1.5)  # hit, miss, half.
  assert questions['chance'] == pytest.approx(0.5)


def test_frame_hit_rates_read_the_spans_in_seconds():
  # 2 frames per second: the span [1.0, 1.5) s covers frame 2 of 4.
  candidates = [
      {'candidate_id': 'a', 'answers': [{'answer_index': 0, 'question_attention': 1.0,
                                         'attention': [0.1, 0.1, 0.7, 0.1]}]},
      {'candidate_id': 'b', 'answers': [{'answer_index': 0, 'question_attention': 1.0,
                                         'attention': [0.1, 0.1, 0.1, 0.7]}]},
  ]
  truth = {c: _truth([0], {0: [{'event': 'X', 'seconds': [1.0, 1.5]}]}, 'audio')
           for c in ('a', 'b')}
  answers = explain.ground_truth_scores('audio', 2.0, candidates, truth)[
      'answer_peak_in_cue_span']
  assert (answers['hits'], answers['total']) == (1.0, 2)
  assert answers['chance'] == pytest.approx(0.25)
