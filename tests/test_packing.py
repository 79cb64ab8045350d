"""Tests for hirenet_jax.hirenet.packing: placements are valid, complete and deterministic."""

import numpy as np
import pytest

from hirenet_jax.hirenet import packing


def _random_lengths(n, q, high, seed=0):
  rng = np.random.default_rng(seed)
  return [list(rng.integers(0, high, rng.integers(1, q + 1))) for _ in range(n)]


@pytest.mark.parametrize('groups', [1, 2])
def test_every_record_once_and_answers_never_overlap(groups):
  lengths = _random_lengths(60, 5, 30)
  plan = packing.pack_records(range(60), lengths, batch_size=8, rows=12, width=40,
                              max_questions=5, groups=groups)
  seen = []
  for batch in plan:
    occupied = np.zeros((batch.rows, batch.width), int)
    for b, i in enumerate(batch.indices):
      if i < 0:
        continue
      seen.append(i)
      group = b // (8 // groups)
      for k, n in enumerate(lengths[i]):
        if n:
          r, s = batch.answer_rows[b, k], batch.answer_starts[b, k]
          assert s + n <= batch.width
          assert r // (12 // groups) == group  # Rows of its own packing group.
          occupied[r, s:s + n] += 1
    assert occupied.max() <= 1
  assert sorted(seen) == list(range(60))


def test_groups_close_when_full_and_are_well_filled():
  lengths = [[10, 10]] * 10  # 4 answers of 10 fill a row of 40.
  plan = packing.pack_records(range(10), lengths, batch_size=4, rows=2, width=40,
                              max_questions=2)
  assert [list(b.indices) for b in plan] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, -1, -1]]
  assert packing.padding_efficiency(plan, lengths) == pytest.approx(200 / 240)


def test_lookahead_fills_a_row_with_a_later_record():
  lengths = [[30], [30], [10]]  # Record 1 does not fit beside record 0; record 2 does.
  plan = packing.pack_records([0, 1, 2], lengths, batch_size=4, rows=1, width=40,
                              max_questions=1)
  assert [list(b.indices) for b in plan] == [[0, 2, -1, -1], [1, -1, -1, -1]]


def test_too_long_record_is_a_clear_error():
  with pytest.raises(ValueError, match=r'record 1 .* does not fit into 2 rows of 8'):
    packing.pack_records([0, 1], [[3], [9]], batch_size=2, rows=2, width=8,
                         max_questions=1)


def test_pack_padded_then_unpack_is_the_identity():
  rng = np.random.default_rng(1)
  lengths = np.array([[5, 0, 2], [1, 6, 6]], np.int32)
  answers = rng.integers(1, 9, (2, 3, 6)).astype(np.int32)
  answers *= np.arange(6) < lengths[..., None]
  packed = packing.pack_padded({'answers': answers, 'answer_lengths': lengths},
                               width=8, row_multiple=1)
  assert packed['answers'].shape == (3, 8)  # 20 steps in 3 rows of 8.
  back = packing.unpack(packed['answers'], lengths, packed['answer_rows'],
                        packed['answer_starts'])
  np.testing.assert_array_equal(back, answers)
  seg = packed['answer_segments']
  assert sorted(np.unique(seg[seg >= 0])) == [0, 2, 3, 4, 5]


def test_segments_mark_each_answers_places_with_its_slot():
  lengths = _random_lengths(12, 4, 15, seed=3)
  plan = packing.pack_records(range(12), lengths, batch_size=6, rows=8, width=24,
                              max_questions=4, groups=2)
  for batch in plan:
    lengths_BxQ = np.zeros((6, 4), np.int32)
    for b, i in enumerate(batch.indices):
      if i >= 0:
        lengths_BxQ[b, :len(lengths[i])] = lengths[i]
    # The second host's half: its rows are 4..7 globally, its slots 12..23.
    half = slice(3, 6)
    got = packing.segments(lengths_BxQ[half], batch.answer_rows[half],
                           batch.answer_starts[half], 4, 24, slot_offset=12, row_offset=4)
    want = np.full((4, 24), packing.PADDING_SEGMENT)
    for b, k in zip(*np.nonzero(lengths_BxQ[half])):
      r, s = batch.answer_rows[half][b, k] - 4, batch.answer_starts[half][b, k]
      want[r, s:s + lengths_BxQ[half][b, k]] = 12 + b * 4 + k
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int32


def test_tiling_lays_pieces_in_row_order_with_padding_and_refuses_bad_placements():
  # Pieces given out of order: row 2 from 1, row 0 from 0, row 2 from 0.
  rows, starts, lengths = [2, 0, 2], [1, 0, 0], [3, 1, 1]
  order, gaps = packing.tiling(3, 4, rows, starts, lengths)
  np.testing.assert_array_equal(order, [1, 2, 0])
  np.testing.assert_array_equal(gaps, [0, 7, 0, 0])
  # The pieces back to back in a source (at 0, 3 and 4), its padding value at 5.
  source = np.array([7, 8, 9, 5, 6, 0])
  positions = packing.tiled_sources(order, gaps, [0, 3, 4], lengths, padding=5)
  np.testing.assert_array_equal(source[positions].reshape(3, 4),
                                [[5, 0, 0, 0], [0, 0, 0, 0], [6, 7, 8, 9]])
  np.testing.assert_array_equal(
      packing.tiled_ids(order, gaps, [10, 11, 12], lengths).reshape(3, 4),
      [[11, -1, -1, -1], [-1, -1, -1, -1], [12, 10, 10, 10]])
  empty = packing.tiling(2, 3, [], [], [])
  np.testing.assert_array_equal(packing.tiled_sources(*empty, [], [], padding=9), [9] * 6)
  with pytest.raises(ValueError, match='does not fit'):  # Would run into row 1.
    packing.tiling(3, 4, [0], [2], [3])
  with pytest.raises(ValueError, match='overlap'):
    packing.tiling(3, 4, [0, 0], [0, 1], [2, 2])
  with pytest.raises(ValueError, match='outside the 3 rows'):
    packing.tiling(3, 4, [3], [0], [1])
