"""Our GRU parameters in PyTorch's layout, as numpy arrays.

No torch here, so the mapping is built and tested where torch is absent;
benchmarks/torch_hirenet.py copies the arrays into an `nn.GRU`.

torch's `nn.GRU` stacks the gates (r, z, n) along rows, `weight_ih_l0` [3H, D]; ours
(`gru.MaskedGRU`) along columns, `w_i` [S, D, 3H] with S the direction, in the same gate
order and with the same reset-gate placement (r multiplies `W_hn h + b_hn`), so the
mapping is one transpose per direction.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

# (ours, torch's name, transposed), and torch's suffix of each direction.
_PARAMS = (('w_i', 'weight_ih', True), ('w_h', 'weight_hh', True),
           ('b_i', 'bias_ih', False), ('b_h', 'bias_hh', False))
_DIRECTION_SUFFIXES = ('_l0', '_l0_reverse')


def masked_gru_state(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
  """The `nn.GRU` state-dict entries (float32, writable) holding one `gru.MaskedGRU`'s
  parameters (w_i, w_h, b_i, b_h), e.g. {'weight_ih_l0': [3H, D], ...}."""
  directions = np.shape(params['w_i'])[0]
  if directions not in (1, 2):
    raise ValueError(f'{directions} directions in params; a GRU has 1 or 2')
  state = {}
  for s, suffix in enumerate(_DIRECTION_SUFFIXES[:directions]):
    for ours, theirs, transpose in _PARAMS:
      value = np.asarray(params[ours][s], np.float32)
      state[theirs + suffix] = np.array(value.T if transpose else value, order='C')
  return state
