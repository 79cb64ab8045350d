"""The person-job-fit baselines of the MockLLM paper's Table 2, in Flax.

Architectures after RecBole-PJF's implementations of the cited papers (sizes are ours):

  NCF     (He et al. 2017) ids only: GMF (p_c * q_j) and an MLP on [p_c; q_j], fused.
  PJFNN   (Zhu et al. 2018) a CNN per document (two masked convolutions with a max-pool
          between; max-pooled resume, mean-pooled job), an MLP on their product.
  BPJFNN  (Qian et al. 2018's basic model) a BiGRU per document, masked mean, an MLP on
          [job; resume; job - resume].
  APJFNN  (Qin et al. 2018) hierarchical: word-level BiGRU + additive attention over
          each job requirement (sentence), a sentence-level BiGRU + attention over them;
          each resume experience (sentence) attends over its words once per requirement
          (cross attention), averaged over requirements, then its own sentence-level
          BiGRU + attention; an MLP on [job; resume; job - resume].
  IPJF    (Le et al. 2019) both sides' intentions: one shared CNN sentence encoder,
          bilinear co-attention between resume and job sentences, gated fusion layers
          for each side and three heads: the job's intention (does the recruiter accept),
          the candidate's (does the candidate accept) and their match.

Every model maps a batch (hirenet_jax.pjf.features.pair_batch) to a dict of logits [B]:
one-sided models to {'score'}, IPJF to {'job', 'candidate', 'match'}. Lengths travel with
the ids; padded words and sentences never change an output (tests/test_pjf_models.py).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from hirenet_jax.core import attention
from hirenet_jax.core import gru

MODELS = ('ncf', 'pjfnn', 'bpjfnn', 'apjfnn', 'ipjf')
TWO_SIDED = ('ipjf',)  # Trained once on both sides' labels; the others once per side.


def _mask(lengths_N: jax.Array, max_length: int) -> jax.Array:
  return gru.lengths_to_mask(lengths_N, max_length)


class MaskedCNN(nn.Module):
  """1-D convolutions over valid words, pooled over them: [N, T] ids -> [N, F].

  Padded positions are zeroed after every layer, so they look exactly like the zero
  padding of a 'SAME' convolution at the end of the sequence; between layers a stride-2
  max-pool halves the length (outputs are >= 0 after ReLU, so a zero never wins).
  """
  features: int
  kernel_sizes: tuple[int, ...] = (5, 3)
  pool: str = 'max'  # max | mean over the valid positions of the last layer.

  @nn.compact
  def __call__(self, x_NxTxD: jax.Array, lengths_N: jax.Array) -> jax.Array:
    lengths = lengths_N
    x = x_NxTxD * _mask(lengths, x_NxTxD.shape[1])[..., None]
    for i, k in enumerate(self.kernel_sizes):
      if i:
        x = nn.max_pool(x, (2,), strides=(2,), padding='SAME')
        lengths = (lengths + 1) // 2
      x = nn.relu(nn.Conv(self.features, (k,), padding='SAME', name=f'conv{i}')(x))
      x = x * _mask(lengths, x.shape[1])[..., None]
    mask = _mask(lengths, x.shape[1])
    if self.pool == 'max':
      return jnp.max(jnp.where(mask[..., None], x, 0.0), axis=1)
    return attention.masked_mean(x, mask)[0]


class BiGRUEncoder(nn.Module):
  """BiGRU over valid words, masked mean: [N, T, D] -> [N, 2H]."""
  hidden_size: int

  @nn.compact
  def __call__(self, x_NxTxD: jax.Array, lengths_N: jax.Array) -> jax.Array:
    mask = _mask(lengths_N, x_NxTxD.shape[1])
    h_NxTx2H, _ = gru.MaskedGRU(self.hidden_size, bidirectional=True)(x_NxTxD, mask)
    return attention.masked_mean(h_NxTx2H, mask)[0]


class SelfAttentionPool(nn.Module):
  """Additive self-attention over valid steps: [N, T, H] -> [N, H]."""
  attention_size: int

  @nn.compact
  def __call__(self, h_NxTxH: jax.Array, mask_NxT: jax.Array) -> jax.Array:
    logits = attention.AdditiveAttention(self.attention_size)(h_NxTxH)
    return attention.attend(attention.masked_softmax(logits, mask_NxT), h_NxTxH)


class JobRequirementsEncoder(nn.Module):
  """APJFNN's job side: per-requirement vectors [B, S, 2H] and the job vector [B, 2H]."""
  hidden_size: int
  attention_size: int

  @nn.compact
  def __call__(self, x_BxSxWxD: jax.Array, lengths_BxS: jax.Array):
    b, s, w, d = x_BxSxWxD.shape
    word_mask = _mask(lengths_BxS.reshape(-1), w)
    h, _ = gru.MaskedGRU(self.hidden_size, name='word_gru')(
        x_BxSxWxD.reshape(b * s, w, d), word_mask)
    sents_BxSx2H = SelfAttentionPool(self.attention_size, name='word_attention')(
        h, word_mask).reshape(b, s, -1)
    sent_mask = lengths_BxS > 0
    c, _ = gru.MaskedGRU(self.hidden_size, name='sentence_gru')(sents_BxSx2H, sent_mask)
    job_Bx2H = SelfAttentionPool(self.attention_size, name='sentence_attention')(
        c, sent_mask)
    return sents_BxSx2H, job_Bx2H


class ResumeExperiencesEncoder(nn.Module):
  """APJFNN's resume side: each experience's words attended with each job requirement
  as context (AdditiveAttention's W_c c term), averaged over the valid requirements,
  then a sentence-level BiGRU + attention: [B, 2H]."""
  hidden_size: int
  attention_size: int

  @nn.compact
  def __call__(self, x_BxSxWxD: jax.Array, lengths_BxS: jax.Array,
               requirements_BxRx2H: jax.Array, requirement_mask_BxR: jax.Array):
    b, s, w, d = x_BxSxWxD.shape
    r = requirements_BxRx2H.shape[1]
    word_mask_BxSxW = _mask(lengths_BxS, w)
    h, _ = gru.MaskedGRU(self.hidden_size, name='word_gru')(
        x_BxSxWxD.reshape(b * s, w, d), word_mask_BxSxW.reshape(b * s, w))
    h_BxSxWx2H = h.reshape(b, s, w, -1)
    # Logits of every (requirement, experience, word): context row b * R + r.
    h_BxRxSxWx2H = jnp.broadcast_to(h_BxSxWx2H[:, None], (b, r, s, w, h.shape[-1]))
    index = (jnp.arange(b)[:, None] * r + jnp.arange(r)[None])[:, :, None, None]
    index_BxRxSxW = jnp.broadcast_to(index, (b, r, s, w))
    logits = attention.AdditiveAttention(self.attention_size, name='cross_attention')(
        h_BxRxSxWx2H, requirements_BxRx2H.reshape(b * r, -1), index_BxRxSxW)
    weights = attention.masked_softmax(logits, word_mask_BxSxW[:, None])
    per_req_BxRxSx2H = jnp.einsum('brsw,bswh->brsh', weights, h_BxSxWx2H)
    req_weight_BxR = requirement_mask_BxR.astype(jnp.float32)
    req_weight_BxR = req_weight_BxR / jnp.maximum(req_weight_BxR.sum(-1, keepdims=True), 1)
    exp_BxSx2H = jnp.einsum('br,brsh->bsh', req_weight_BxR, per_req_BxRxSx2H)
    sent_mask = lengths_BxS > 0
    c, _ = gru.MaskedGRU(self.hidden_size, name='sentence_gru')(exp_BxSx2H, sent_mask)
    return SelfAttentionPool(self.attention_size, name='sentence_attention')(c, sent_mask)


class MatchMLP(nn.Module):
  """Dense(hidden) -> tanh -> dropout -> Dense(1): one logit per row."""
  hidden_size: int
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x_BxF: jax.Array, train: bool) -> jax.Array:
    x = jnp.tanh(nn.Dense(self.hidden_size)(x_BxF))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return nn.Dense(1)(x)[:, 0]


class NCF(nn.Module):
  """Neural collaborative filtering (NeuMF) on candidate and job ids."""
  num_candidates: int
  num_jobs: int
  embedding_dim: int = 32
  hidden_size: int = 64
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, batch: dict[str, jax.Array], train: bool = False):
    c, j = batch['candidate'], batch['job']
    p_gmf = nn.Embed(self.num_candidates, self.embedding_dim, name='cand_gmf')(c)
    q_gmf = nn.Embed(self.num_jobs, self.embedding_dim, name='job_gmf')(j)
    p_mlp = nn.Embed(self.num_candidates, self.embedding_dim, name='cand_mlp')(c)
    q_mlp = nn.Embed(self.num_jobs, self.embedding_dim, name='job_mlp')(j)
    h = nn.relu(nn.Dense(self.hidden_size)(jnp.concatenate([p_mlp, q_mlp], -1)))
    h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
    h = nn.relu(nn.Dense(self.embedding_dim)(h))
    return {'score': nn.Dense(1, name='out')(jnp.concatenate([p_gmf * q_gmf, h], -1))[:, 0]}


class _WholeDocuments:
  """`encode` for models with one embedding and one encoder per whole document."""

  def encode(self, batch):
    return (self.resume_encoder(self.embed(batch['resume_words']), batch['resume_lengths']),
            self.job_encoder(self.embed(batch['job_words']), batch['job_lengths']))


class PJFNN(_WholeDocuments, nn.Module):
  vocab_size: int
  embedding_dim: int = 64
  hidden_size: int = 64
  dropout_rate: float = 0.0

  def setup(self):
    self.embed = nn.Embed(self.vocab_size, self.embedding_dim)
    self.resume_encoder = MaskedCNN(self.hidden_size, (5, 3), pool='max')
    self.job_encoder = MaskedCNN(self.hidden_size, (5, 5), pool='mean')
    self.mlp = MatchMLP(self.hidden_size, self.dropout_rate)

  def __call__(self, batch, train: bool = False):
    resume, job = self.encode(batch)
    return {'score': self.mlp(resume * job, train)}


class BPJFNN(_WholeDocuments, nn.Module):
  vocab_size: int
  embedding_dim: int = 64
  hidden_size: int = 32
  dropout_rate: float = 0.0

  def setup(self):
    self.embed = nn.Embed(self.vocab_size, self.embedding_dim)
    self.resume_encoder = BiGRUEncoder(self.hidden_size)
    self.job_encoder = BiGRUEncoder(self.hidden_size)
    self.mlp = MatchMLP(self.hidden_size, self.dropout_rate)

  def __call__(self, batch, train: bool = False):
    resume, job = self.encode(batch)
    return {'score': self.mlp(jnp.concatenate([job, resume, job - resume], -1), train)}


class APJFNN(nn.Module):
  vocab_size: int
  embedding_dim: int = 64
  hidden_size: int = 32
  attention_size: int = 32
  dropout_rate: float = 0.0

  def setup(self):
    self.embed = nn.Embed(self.vocab_size, self.embedding_dim)
    self.job_encoder = JobRequirementsEncoder(self.hidden_size, self.attention_size)
    self.resume_encoder = ResumeExperiencesEncoder(self.hidden_size, self.attention_size)
    self.mlp = MatchMLP(self.hidden_size, self.dropout_rate)

  def encode(self, batch):
    job_lengths = batch['job_sentence_lengths']
    requirements, job = self.job_encoder(self.embed(batch['job_sentences']), job_lengths)
    resume = self.resume_encoder(self.embed(batch['resume_sentences']),
                                 batch['resume_sentence_lengths'], requirements,
                                 job_lengths > 0)
    return resume, job

  def __call__(self, batch, train: bool = False):
    resume, job = self.encode(batch)
    return {'score': self.mlp(jnp.concatenate([job, resume, job - resume], -1), train)}


class FusionLayer(nn.Module):
  """IPJF's gated fusion: a <- g * tanh(W[a; b; a*b; a-b]) + (1 - g) * a, both ways."""
  size: int

  @nn.compact
  def __call__(self, a_BxH: jax.Array, b_BxH: jax.Array) -> jax.Array:
    merge = nn.Dense(self.size, name='merge')
    gate = nn.Dense(1, name='gate')

    def one(x, y):
      m = jnp.tanh(merge(jnp.concatenate([x, y, x * y, x - y], -1)))
      g = jax.nn.sigmoid(gate(jnp.concatenate([x, y], -1)))
      return g * m + (1 - g) * x

    a = one(a_BxH, b_BxH)
    return jnp.concatenate([a, one(b_BxH, a)], -1)


class IPJF(nn.Module):
  vocab_size: int
  embedding_dim: int = 64
  hidden_size: int = 64
  dropout_rate: float = 0.0

  def setup(self):
    self.embed = nn.Embed(self.vocab_size, self.embedding_dim)
    self.sentence_encoder = MaskedCNN(self.hidden_size, (3,), pool='max')  # Shared.
    self.w_att = self.param('w_att', nn.initializers.normal(0.01),
                            (self.hidden_size, self.hidden_size))
    self.candidate_fusion = FusionLayer(self.hidden_size)
    self.job_fusion = FusionLayer(self.hidden_size)
    self.candidate_head = nn.Dense(1)
    self.job_head = nn.Dense(1)
    self.match_mlp = MatchMLP(2 * self.hidden_size, self.dropout_rate)

  def _sentences(self, ids_BxSxW, lengths_BxS):
    b, s, w = ids_BxSxW.shape
    x = self.sentence_encoder(self.embed(ids_BxSxW.reshape(b * s, w)), lengths_BxS.reshape(-1))
    return x.reshape(b, s, -1), lengths_BxS > 0

  def encode(self, batch):
    g_BxSxH, g_mask = self._sentences(batch['resume_sentences'],
                                      batch['resume_sentence_lengths'])
    j_BxRxH, j_mask = self._sentences(batch['job_sentences'], batch['job_sentence_lengths'])
    a_BxSxR = jnp.einsum('bsh,hk,brk->bsr', g_BxSxH, self.w_att, j_BxRxH)
    pair_mask = (g_mask[:, :, None] & j_mask[:, None, :]).astype(jnp.float32)
    a_BxSxR = a_BxSxR * pair_mask
    g_weights = attention.masked_softmax(a_BxSxR.sum(2), g_mask)
    j_weights = attention.masked_softmax(a_BxSxR.sum(1), j_mask)
    return attention.attend(g_weights, g_BxSxH), attention.attend(j_weights, j_BxRxH)

  def __call__(self, batch, train: bool = False):
    resume, job = self.encode(batch)
    f_candidate = self.candidate_fusion(resume, job)
    f_job = self.job_fusion(resume, job)
    return {
        'candidate': self.candidate_head(f_candidate)[:, 0],
        'job': self.job_head(f_job)[:, 0],
        'match': self.match_mlp(jnp.concatenate([f_candidate, f_job], -1), train),
    }


def create_model(config: Any, *, vocab_size: int, num_candidates: int,
                 num_jobs: int) -> nn.Module:
  """The model named by `config.name` with `config`'s sizes."""
  common = dict(dropout_rate=config.dropout_rate)
  if config.name == 'ncf':
    return NCF(num_candidates, num_jobs, embedding_dim=config.embedding_dim,
               hidden_size=config.hidden_size, **common)
  text = dict(vocab_size=vocab_size, embedding_dim=config.embedding_dim,
              hidden_size=config.hidden_size, **common)
  if config.name == 'pjfnn':
    return PJFNN(**text)
  if config.name == 'bpjfnn':
    return BPJFNN(**text)
  if config.name == 'apjfnn':
    return APJFNN(attention_size=config.attention_size, **text)
  if config.name == 'ipjf':
    return IPJF(**text)
  raise ValueError(f'unknown model {config.name!r}; expected one of {", ".join(MODELS)}')
