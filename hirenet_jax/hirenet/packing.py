"""Packs the answers of a batch of interviews into rows of one width (2-D packing).

A GRU's cost is proportional to the rows it runs times the steps it runs. Padding every
answer of an interview to the interview's longest answer wastes about half of it (answers
of one interview vary in length), and concatenating an interview's answers into one long
row makes the recurrence several times deeper. So answers are packed as in T5 / fairseq
"packed sequences": several answers share a row of `width` steps, each answer stays
contiguous inside one row, and the GRU resets its state where a new answer starts
(`gru.MaskedGRU(segment_ids=...)`). The depth stays about the length of one long answer
and the rows are ~90% full.

Placement is first-fit decreasing per interview (its answers longest first, each into the
first row with room), interviews in plan order, with a small lookahead: when an interview
does not fit, the next few are tried before the group is closed. Everything here is
numpy and deterministic: the plan of an epoch depends on (seed, epoch) only.

Batch layout (docs/contracts.md): `answers` [R, W(, D)] packed rows, `answer_segments`
[R, W] answer slot `b * Q + q` of each step (-1 = padding), `answer_rows` and
`answer_starts` [B, Q] where each answer lies.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

PADDING_SEGMENT = -1
# Packed rows are this many mean answers wide by default (config.row_width_factor).
DEFAULT_WIDTH_FACTOR = 3.0


def row_width(longest: int, mean_length: float, width_factor: float = DEFAULT_WIDTH_FACTOR,
              multiple: int = 8) -> int:
  """Steps per packed row: `width_factor` mean answers, at least the longest answer,
  rounded up to `multiple`."""
  width = int(np.ceil(max(float(longest), width_factor * float(mean_length), 1.0)))
  return -(-width // multiple) * multiple


@dataclasses.dataclass(frozen=True)
class PackedBatch:
  """A planned batch: which records, and where each answer lies.

  Attributes:
    indices: <int64>[B] record index of each interview row; -1 for padding rows.
    width: W, steps per packed row.
    rows: R, packed rows.
    answer_rows: <int32>[B, Q] row of each answer (0 for an empty slot).
    answer_starts: <int32>[B, Q] first step of each answer in its row (0 if empty).
  """
  indices: np.ndarray
  width: int
  rows: int
  answer_rows: np.ndarray
  answer_starts: np.ndarray


class _Group:
  """Fills `rows` rows of `width` steps with up to `capacity` interviews.

  Plain Python lists: a group holds a few dozen rows and an interview a few answers, so
  numpy's per-call cost would dominate.
  """

  def __init__(self, capacity: int, rows: int, width: int, row_offset: int):
    self.capacity, self.width, self.row_offset = capacity, width, row_offset
    self.room = [width] * rows
    self.members: list[tuple[int, list[int], list[int]]] = []

  def full(self) -> bool:
    return len(self.members) >= self.capacity

  def try_add(self, record: int, lengths: Sequence[int]) -> bool:
    """Places all answers of `record` (first fit, longest first) or none of them."""
    lengths = [int(n) for n in lengths]
    room = list(self.room)
    rows, starts = [0] * len(lengths), [0] * len(lengths)
    for q in sorted(range(len(lengths)), key=lambda q: -lengths[q]):  # Stable.
      n = lengths[q]
      if n == 0:
        continue
      for r, free in enumerate(room):
        if free >= n:
          break
      else:
        return False
      rows[q], starts[q] = r + self.row_offset, self.width - room[r]
      room[r] -= n
    self.room = room
    self.members.append((record, rows, starts))
    return True


def pack_records(order: Sequence[int], lengths: Sequence[Sequence[int]], *,
                 batch_size: int, rows: int, width: int, max_questions: int,
                 groups: int = 1, lookahead: int = 16) -> list[PackedBatch]:
  """Cuts `order` (record indices) into packed batches; each record appears once.

  Each batch has `groups` groups of `batch_size // groups` interview rows and
  `rows // groups` packed rows; a group holds only its own interviews' answers (one group
  per host: each process loads only its rows). A group closes when it has
  `batch_size // groups` interviews or when neither the next record nor the `lookahead`
  records after it fit.

  Args:
    order: record indices, in the order to batch them.
    lengths: per record, its answer lengths (slot order; at most `max_questions`).
    batch_size, rows, width: B, R and W of every batch.
    max_questions: Q of the batch arrays.
    groups: packing groups per batch (divides batch_size and rows).
    lookahead: records tried past one that does not fit.

  Raises:
    ValueError: a record cannot fit into an empty group (an answer longer than
      `width`, or more answers than rows per group).
  """
  if batch_size % groups or rows % groups:
    raise ValueError(f'batch_size {batch_size} and rows {rows} must be multiples of the '
                     f'{groups} packing groups')
  capacity, group_rows = batch_size // groups, rows // groups
  queue = list(order)
  batches = []
  while queue:
    group_list = []
    for g in range(groups):
      group = _Group(capacity, group_rows, width, g * group_rows)
      i = 0
      while i < len(queue) and i <= lookahead and not group.full():
        if group.try_add(queue[i], lengths[queue[i]]):
          queue.pop(i)
        else:
          i += 1
      if not group.members and queue:
        record = queue[0]
        raise ValueError(
            f'record {record} (answer lengths {list(lengths[record])}) does not fit into '
            f'{group_rows} rows of {width} steps')
      group_list.append(group)
    indices = np.full(batch_size, -1, np.int64)
    answer_rows = np.zeros((batch_size, max_questions), np.int32)
    answer_starts = np.zeros((batch_size, max_questions), np.int32)
    for g, group in enumerate(group_list):
      for k, (record, r, s) in enumerate(group.members):
        b = g * capacity + k
        indices[b] = record
        answer_rows[b, :len(r)] = r
        answer_starts[b, :len(s)] = s
    batches.append(PackedBatch(indices, width, rows, answer_rows, answer_starts))
  return batches


def tiling(rows: int, width: int, rows_J: np.ndarray, starts_J: np.ndarray,
           lengths_J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """How pieces j at `[rows_J[j], starts_J[j]:starts_J[j] + lengths_J[j]]` tile an
  [rows, width] array: (order, gaps) such that the array read row by row is gaps[0]
  padding places, piece order[0], gaps[1] padding places, ..., piece order[-1], gaps[-1]
  padding places. Refuses pieces outside the rows, spilling out of their row, or
  overlapping.
  """
  rows_J = np.asarray(rows_J, np.int64)
  starts_J = np.asarray(starts_J, np.int64)
  lengths_J = np.asarray(lengths_J, np.int64)
  if len(rows_J):
    if int(rows_J.min()) < 0 or int(rows_J.max()) >= rows:
      raise ValueError(f'a piece in row {int(rows_J.max())} (or {int(rows_J.min())}) lies '
                       f'outside the {rows} rows of the batch: the batch plan is corrupt')
    if int((starts_J + lengths_J).max()) > width or int(starts_J.min()) < 0:
      raise ValueError(f'a piece ending at {int((starts_J + lengths_J).max())} does not fit '
                       f'the {width} places of a batch row: the dataset does not match its '
                       'meta.json (rebuild it)')
  flat = rows_J * width + starts_J
  order = np.argsort(flat, kind='stable')
  begins = flat[order]
  gaps = (np.concatenate([begins, [rows * width]])
          - np.concatenate([[0], begins + lengths_J[order]]))
  if (gaps < 0).any():
    raise ValueError('answers overlap in a packed batch row: the batch plan is corrupt')
  return order, gaps


def _runs(order: np.ndarray, gaps: np.ndarray, lengths_J: np.ndarray) -> np.ndarray:
  """Lengths of the tiling's runs, in place order: gap, piece, gap, ..., piece, gap."""
  runs = np.empty(2 * len(order) + 1, np.int64)
  runs[0::2], runs[1::2] = gaps, np.asarray(lengths_J)[order]
  return runs


def tiled_ids(order: np.ndarray, gaps: np.ndarray, ids_J: np.ndarray,
              lengths_J: np.ndarray) -> np.ndarray:
  """<int32>[sum(gaps) + sum(lengths_J)]: `ids_J[j]` on the places of piece j, -1
  (`PADDING_SEGMENT`) in the gaps, laid out by `tiling`'s (order, gaps)."""
  ids = np.full(2 * len(order) + 1, PADDING_SEGMENT, np.int32)
  ids[1::2] = np.asarray(ids_J)[order]
  return np.repeat(ids, _runs(order, gaps, lengths_J))


def tiled_sources(order: np.ndarray, gaps: np.ndarray, starts_J: np.ndarray,
                  lengths_J: np.ndarray, padding: int) -> np.ndarray:
  """<int64>[sum(gaps) + sum(lengths_J)]: for each place of the tiling, the position its
  value comes from: `starts_J[j] + i` at the i-th place of piece j, `padding` in the
  gaps. Pieces are contiguous in their source, so a batch is one gather from it."""
  n = len(order)
  runs = _runs(order, gaps, lengths_J)
  first = np.full(2 * n + 1, padding, np.int64)
  first[1::2] = np.asarray(starts_J)[order]
  step = np.zeros(2 * n + 1, np.int64)
  step[1::2] = 1
  run_begins = np.cumsum(runs) - runs
  within = np.arange(int(runs.sum())) - np.repeat(run_begins, runs)
  return np.repeat(first, runs) + within * np.repeat(step, runs)


def segments(answer_lengths_BxQ: np.ndarray, answer_rows_BxQ: np.ndarray,
             answer_starts_BxQ: np.ndarray, rows: int, width: int,
             slot_offset: int = 0, row_offset: int = 0) -> np.ndarray:
  """<int32>[rows, width] slot id `b * Q + q + slot_offset` of each step, -1 elsewhere.

  `row_offset` is subtracted from `answer_rows` (a host's first global row).
  """
  answer_lengths_BxQ = np.asarray(answer_lengths_BxQ)
  b, k = np.nonzero(answer_lengths_BxQ)
  lengths = answer_lengths_BxQ[b, k]
  order, gaps = tiling(rows, width, np.asarray(answer_rows_BxQ)[b, k] - row_offset,
                       np.asarray(answer_starts_BxQ)[b, k], lengths)
  slots = b * answer_lengths_BxQ.shape[1] + k + slot_offset
  return tiled_ids(order, gaps, slots, lengths).reshape(rows, width)


def pack_padded(batch: dict[str, np.ndarray], *, width: int | None = None,
                rows: int | None = None, row_multiple: int = 8) -> dict[str, np.ndarray]:
  """Packs a padded batch (`answers` [B, Q, T(, D)]) into the packed layout.

  For synthetic batches (benchmarks, tests). `width` defaults to T; `rows` to what
  first-fit needs, rounded up to `row_multiple`.
  """
  answers = np.asarray(batch['answers'])
  lengths = np.asarray(batch['answer_lengths'])
  b, q, t = answers.shape[:3]
  width = width or t
  # First fit only fills the lowest rows it needs, so packing into b * q rows and
  # keeping the used ones places every answer as packing into exactly those rows would.
  capacity = rows or b * q
  planned = pack_records(range(b), lengths, batch_size=b, rows=capacity, width=width,
                         max_questions=q, lookahead=b)
  if len(planned) != 1 or not np.array_equal(planned[0].indices, np.arange(b)):
    raise ValueError(f'the {b} interviews do not fit into {capacity} rows of {width} steps')
  plan = planned[0]
  if rows is None:
    rows = -(-(int(plan.answer_rows.max()) + 1) // row_multiple) * row_multiple
  packed = np.zeros((rows, width) + answers.shape[3:], answers.dtype)
  for bi, k in zip(*np.nonzero(lengths)):
    n = lengths[bi, k]
    packed[plan.answer_rows[bi, k], plan.answer_starts[bi, k]:][:n] = answers[bi, k, :n]
  out = dict(batch)
  out.update(answers=packed, answer_rows=plan.answer_rows, answer_starts=plan.answer_starts,
             answer_segments=segments(lengths, plan.answer_rows, plan.answer_starts,
                                      rows, width))
  return out


def unpack(values_RxW: np.ndarray, answer_lengths_BxQ: np.ndarray,
           answer_rows_BxQ: np.ndarray, answer_starts_BxQ: np.ndarray) -> np.ndarray:
  """Packed per-step values [R, W(, ...)] -> padded [B, Q, T_max(, ...)] (zeros elsewhere)."""
  values_RxW = np.asarray(values_RxW)
  lengths = np.asarray(answer_lengths_BxQ)
  t = max(int(lengths.max(initial=0)), 1)
  out = np.zeros(lengths.shape + (t,) + values_RxW.shape[2:], values_RxW.dtype)
  for b, k in zip(*np.nonzero(lengths)):
    r, s, n = answer_rows_BxQ[b, k], answer_starts_BxQ[b, k], lengths[b, k]
    out[b, k, :n] = values_RxW[r, s:s + n]
  return out


def padding_efficiency(plan: Sequence[PackedBatch], lengths: Sequence[Sequence[int]]) -> float:
  """Valid steps / packed steps (R * W summed over the plan)."""
  valid = sum(sum(lengths[i]) for batch in plan for i in batch.indices if i >= 0)
  padded = sum(batch.rows * batch.width for batch in plan)
  return valid / padded if padded else 0.0
