"""PyTorch reference implementations for side-by-side speed comparisons.

Not part of the library: imported only by `benchmarks.compare_torch` (the benchmark's
`--compare_torch` mode), so torch is needed only then (`pip install torch==2.13.0`). The
models mirror hirenet_jax.hirenet.models.HireNet (variant `hirenet`) with the same sizes, and
encode variable-length sequences the correct masked way in PyTorch:
`pack_padded_sequence`. They read the same batches as ours, with the packed answer rows
turned back into padded [B, Q, T] answers (`padded_batch`).

Weight layouts: `load_masked_gru` copies ours into torch through
`torch_weights.masked_gru_state` (the mapping, in numpy, tested without torch).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch import nn
from torch.nn.utils import rnn as rnn_utils

from benchmarks import torch_weights


def _packed_gru(gru: nn.GRU, x_NxTxD: torch.Tensor, lengths_N: torch.Tensor,
                total_length: int) -> tuple[torch.Tensor, torch.Tensor]:
  """Runs `gru` on the sequences with length > 0; zero outputs/states for the others."""
  n = x_NxTxD.shape[0]
  hidden = gru.hidden_size * (2 if gru.bidirectional else 1)
  out = x_NxTxD.new_zeros((n, total_length, hidden))
  final = x_NxTxD.new_zeros((n, hidden))
  keep = torch.nonzero(lengths_N > 0).squeeze(-1)
  if keep.numel() == 0:
    return out, final
  packed = rnn_utils.pack_padded_sequence(x_NxTxD[keep], lengths_N[keep].cpu(),
                                          batch_first=True, enforce_sorted=False)
  ys, h_n = gru(packed)
  ys, _ = rnn_utils.pad_packed_sequence(ys, batch_first=True, total_length=total_length)
  out = out.index_copy(0, keep, ys)
  final = final.index_copy(0, keep, torch.cat(list(h_n), dim=-1))
  return out, final


class AdditiveAttention(nn.Module):
  """u = tanh(W h + W_c c + b); alpha = masked softmax(u_p . u); sum alpha h."""

  def __init__(self, input_size: int, context_size: int | None, attention_size: int):
    super().__init__()
    self.w_h = nn.Linear(input_size, attention_size)
    self.w_c = nn.Linear(context_size, attention_size, bias=False) if context_size else None
    self.u = nn.Linear(attention_size, 1, bias=False)

  def forward(self, h_NxTxH, mask_NxT, context_NxC=None):
    proj = self.w_h(h_NxTxH)
    if self.w_c is not None:
      proj = proj + self.w_c(context_NxC)[:, None]
    logits = self.u(torch.tanh(proj))[..., 0].masked_fill(~mask_NxT, -1e9)
    weights = torch.softmax(logits, -1) * mask_NxT
    return torch.einsum('nt,nth->nh', weights, h_NxTxH), weights


class TorchHireNet(nn.Module):
  """HireNet (full variant) in PyTorch with packed sequences at every level."""

  def __init__(self, vocab_size: int, *, embedding_dim=200, hidden_size=50, context_size=50,
               attention_size=100, dropout_rate=0.0, feature_dim: int | None = None):
    super().__init__()
    self.dropout = nn.Dropout(dropout_rate)  # On a_i and v, as in the JAX model.
    self.embed = nn.Embedding(vocab_size, embedding_dim)
    self.embed.weight.requires_grad_(False)  # Frozen, as in the JAX default.
    input_size = feature_dim or embedding_dim
    self.features_input = feature_dim is not None
    self.answer_gru = nn.GRU(input_size, hidden_size, batch_first=True, bidirectional=True)
    self.question_gru = nn.GRU(embedding_dim, context_size, batch_first=True)
    self.job_gru = nn.GRU(embedding_dim, context_size, batch_first=True)
    self.low_attention = AdditiveAttention(2 * hidden_size, context_size, attention_size)
    self.interview_gru = nn.GRU(context_size + 2 * hidden_size, hidden_size,
                                batch_first=True, bidirectional=True)
    self.high_attention = AdditiveAttention(2 * hidden_size, context_size, attention_size)
    self.classifier = nn.Linear(2 * hidden_size, 1)

  def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    answers = batch['answers']
    b, q, t = answers.shape[:3]
    x = answers.float() if self.features_input else self.embed(answers)
    lengths = batch['answer_lengths'].reshape(-1)
    h, _ = _packed_gru(self.answer_gru, x.reshape(b * q, t, -1), lengths, t)
    questions = self.embed(batch['questions'].reshape(b * q, -1))
    _, h_q = _packed_gru(self.question_gru, questions, batch['question_lengths'].reshape(-1),
                         questions.shape[1])
    mask = torch.arange(t)[None] < lengths[:, None]
    a, _ = self.low_attention(h, mask, h_q)
    a = self.dropout(a)
    pairs = torch.cat([h_q, a], -1).reshape(b, q, -1)
    # Valid answers are contiguous in the benchmark batches, so lengths describe them.
    num_answers = (batch['answer_lengths'] > 0).sum(-1)
    h_i, _ = _packed_gru(self.interview_gru, pairs, num_answers, q)
    _, h_j = _packed_gru(self.job_gru, self.embed(batch['job_title']),
                         batch['job_title_length'], batch['job_title'].shape[1])
    v, _ = self.high_attention(h_i, torch.arange(q)[None] < num_answers[:, None], h_j)
    return self.classifier(self.dropout(v))[..., 0]


def to_torch(batch: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
  """numpy arrays -> tensors (integers as int64, what embedding and packing expect)."""
  out = {}
  for key, value in batch.items():
    value = np.asarray(value)
    out[key] = torch.from_numpy(value.astype(np.int64) if value.dtype.kind in 'iu' else value)
  return out


def padded_batch(batch: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
  """A packed batch (docs/contracts.md) as the padded tensors TorchHireNet reads.

  The packed answer rows become `answers` [B, Q, T] (T = the batch's longest answer);
  the packing keys are dropped.

  Raises:
    ValueError: the valid answers of an interview are not its first slots (the
      interview-level packing assumes they are).
  """
  from hirenet_jax.hirenet import packing
  valid_BxQ = np.asarray(batch['answer_lengths']) > 0
  if (valid_BxQ[:, 1:] & ~valid_BxQ[:, :-1]).any():
    raise ValueError('an empty answer slot precedes a valid one')
  padded = {k: v for k, v in batch.items()
            if k not in ('answers', 'answer_segments', 'answer_rows', 'answer_starts')}
  padded['answers'] = packing.unpack(batch['answers'], batch['answer_lengths'],
                                     batch['answer_rows'], batch['answer_starts'])
  return to_torch(padded)


def make_train_step(model: TorchHireNet, *, learning_rate: float = 1e-3,
                    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                    clip: float = 1.0):
  """Adam + global-norm gradient clipping + weighted BCE from logits, as in train_lib.

  Returns `step(batch) -> loss` (a float: the step has finished when it returns).
  """
  params = [p for p in model.parameters() if p.requires_grad]
  opt = torch.optim.Adam(params, lr=learning_rate, betas=(b1, b2), eps=eps)
  loss_fn = nn.BCEWithLogitsLoss(reduction='none')

  def step(batch: dict[str, torch.Tensor]) -> float:
    opt.zero_grad(set_to_none=True)
    logits = model(batch)
    weight = batch['weight'].float()
    loss = (loss_fn(logits, batch['label'].float()) * weight).sum() / weight.sum().clamp(min=1)
    loss.backward()
    if clip > 0:
      nn.utils.clip_grad_norm_(params, clip)
    opt.step()
    return loss.item()

  return step


# ----------------------------------------------------------------------- encoder


def load_masked_gru(gru: nn.GRU, params: Mapping[str, np.ndarray]) -> None:
  """Copies the parameters of one `gru.MaskedGRU` (w_i, w_h, b_i, b_h) into `gru`."""
  directions = 2 if gru.bidirectional else 1
  if np.shape(params['w_i'])[0] != directions:
    raise ValueError(f'{np.shape(params["w_i"])[0]} directions in params, {directions} in gru')
  with torch.no_grad():
    for name, value in torch_weights.masked_gru_state(params).items():
      getattr(gru, name).copy_(torch.from_numpy(value))


def encoder_outputs(gru: nn.GRU, x_NxTxD: torch.Tensor, lengths_N: torch.Tensor,
                    packed: bool) -> torch.Tensor:
  """The GRU's outputs [N, T, dirs * H]; with `packed`, zero past each length."""
  if not packed:
    return gru(x_NxTxD)[0]
  return _packed_gru(gru, x_NxTxD, lengths_N, x_NxTxD.shape[1])[0]


def encoder_step(gru: nn.GRU, x_NxTxD: torch.Tensor, lengths_N: torch.Tensor,
                 packed: bool) -> float:
  """Forward and backward pass of the encoder benchmark: loss = sum of the outputs.

  Gradients go to the parameters and to `x_NxTxD` (if it requires them). `packed` runs
  `pack_padded_sequence(enforce_sorted=False)` and sums the packed outputs directly (no
  `pad_packed_sequence`: the least work torch needs for the masked computation).
  """
  gru.zero_grad(set_to_none=True)
  x_NxTxD.grad = None
  if packed:
    sequences = rnn_utils.pack_padded_sequence(x_NxTxD, lengths_N, batch_first=True,
                                               enforce_sorted=False)
    loss = gru(sequences)[0].data.sum()
  else:
    loss = gru(x_NxTxD)[0].sum()
  loss.backward()
  return loss.item()
