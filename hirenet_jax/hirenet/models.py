"""HireNet and its sequential ablations (paper: Model section, eq. 1-15).

Variants (the paper's Table 3 rows):
  bigru:   a BiGRU over each answer alone, one logit per answer; trained on every
           answer with its candidate's label, scored as the mean answer probability.
  hn_avg:  the hierarchy with both attentions replaced by masked means.
  hn_satt: the hierarchy with self-attention (no question / job-title terms).
  hirenet: the full model, attention conditioned on the question (local context)
           and on the job title (global context).
Only `hirenet` reads the questions and job title (attention and the high-level
[h_Q, a] concatenation): that is what lets the grid test hypothesis H4.

Batch keys and shapes are documented in docs/contracts.md.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from hirenet_jax.core import attention as attention_lib
from hirenet_jax.core import gru as gru_lib
from hirenet_jax.core import losses

VARIANTS = ('bigru', 'hn_avg', 'hn_satt', 'hirenet')
HIERARCHICAL_VARIANTS = ('hn_avg', 'hn_satt', 'hirenet')


class ContextEncoder(nn.Module):
  """Forward GRU over a question or job title; its last valid state (eq. 4, 11)."""
  hidden_size: int
  unroll: int = 1
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, words_NxLxE: jax.Array, lengths_N: jax.Array) -> jax.Array:
    mask_NxL = gru_lib.lengths_to_mask(lengths_N, words_NxLxE.shape[1])
    _, last_NxH = gru_lib.MaskedGRU(
        self.hidden_size, bidirectional=False, unroll=self.unroll, dtype=self.dtype,
        name='gru')(words_NxLxE, mask_NxL)
    return last_NxH  # Zero for an empty question or title.


class StateProjection(nn.Module):
  """Frozen language-model word states [..., D] -> [..., size]: a learned affine map with
  dropout. The states are inputs, standardised per dimension by the input pipeline
  (a few dimensions of the residual stream are tens of times larger than the rest);
  nothing here reaches back into the language model."""
  size: int
  dropout_rate: float = 0.0
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, states: jax.Array, *, train: bool) -> jax.Array:
    x = nn.Dense(self.size, dtype=self.dtype, name='dense')(
        jax.lax.stop_gradient(states).astype(self.dtype))
    return nn.Dropout(self.dropout_rate, deterministic=not train)(x)


class HireNet(nn.Module):
  """The HireNet family; see the module docstring for the variants.

  Attributes:
    variant: one of VARIANTS.
    vocab_size: rows of the word embedding table (questions, titles, text answers).
    embedding_dim: word vector size (200 in the paper).
    hidden_size: GRU units per direction, both levels.
    context_size: GRU units of the question and job-title encoders.
    attention_size: size of the attention vectors u.
    dropout_rate: on the answer summaries a_i and the interview vector v.
    train_embeddings: fine-tune the word vectors (frozen in the paper's setting).
    features_input: answers are float frames [R, W, D] (audio, video) rather
      than token ids [R, W] (text).
    states_input: words come with frozen language-model states (an `llm` dataset:
      `answer_states`, `question_states`, `job_title_states`), which replace the
      embedding table: one shared projection reads them for answers, questions and
      job titles.
    state_projection: output size of that projection.
    state_dropout: dropout on the projected states (and on the lexical vectors).
    lexical_dim: with states_input, a trainable embedding of each word's id of this size
      is concatenated to its projected state (0: none): the words themselves, which a
      frozen model's states make hard to read off linearly (names, topics).
    unroll: `lax.scan` unroll factor of the GRUs.
    dtype: computation dtype; softmaxes, pooling and the loss stay float32.
  """
  variant: str
  vocab_size: int
  embedding_dim: int = 200
  hidden_size: int = 50
  context_size: int = 50
  attention_size: int = 100
  dropout_rate: float = 0.0
  train_embeddings: bool = False
  features_input: bool = False
  states_input: bool = False
  state_projection: int = 128
  state_dropout: float = 0.0
  lexical_dim: int = 0
  unroll: int = 1
  dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, batch: dict[str, jax.Array], *, train: bool) -> jax.Array:
    """Returns logits [B] (hierarchical variants) or [B, Q] (bigru)."""
    if self.variant not in VARIANTS:
      raise ValueError(f'unknown variant {self.variant!r}; expected one of {VARIANTS}')
    embed_table = []  # Created on first use: variants without words have no table.

    def embed(ids):
      if not embed_table:
        embed_table.append(nn.Embed(self.vocab_size, self.embedding_dim,
                                    embedding_init=nn.initializers.normal(0.1),
                                    name='embed'))
      vectors = embed_table[0](ids)
      if not self.train_embeddings:  # Pretrained and frozen (the paper's setting).
        vectors = jax.lax.stop_gradient(vectors)
      return vectors.astype(self.dtype)

    projection = []  # Created on first use, shared by answers, questions and titles.

    def words(ids, states_key):
      """Word vectors: the embedded ids, or the projection of the words' states (with
      `lexical_dim` trainable dimensions of the word's id beside it)."""
      if not self.states_input:
        return embed(ids)
      if not projection:
        projection.append(StateProjection(self.state_projection, self.state_dropout,
                                          dtype=self.dtype, name='state_projection'))
        if self.lexical_dim:
          projection.append(nn.Embed(self.vocab_size, self.lexical_dim,
                                     embedding_init=nn.initializers.normal(0.1),
                                     name='lexical'))
          projection.append(nn.Dropout(self.state_dropout))
      vectors = projection[0](batch[states_key], train=train)
      if self.lexical_dim:
        lexical = projection[2](projection[1](ids).astype(self.dtype), deterministic=not train)
        vectors = jnp.concatenate([vectors, lexical], axis=-1)
      return vectors

    # Answers arrive packed (hirenet_jax/hirenet/packing.py): rows [R, W] hold several answers
    # each, `answer_segments` names the slot b * Q + q of every step (-1 = padding).
    answers = batch['answers']
    segments_RxW = batch['answer_segments']
    answer_lengths_BxQ = batch['answer_lengths']
    b, q = answer_lengths_BxQ.shape
    num_slots = b * q
    use_context = self.variant == 'hirenet'
    dense = lambda n, name: nn.Dense(n, dtype=self.dtype, name=name)

    if self.features_input:
      answers_RxWxD = answers.astype(self.dtype)
    else:
      answers_RxWxD = words(answers, 'answer_states')
    mask_RxW = segments_RxW >= 0

    # Low-level encoder (eq. 1-3); the state restarts at every answer of a row.
    h_RxWx2H, _ = gru_lib.MaskedGRU(
        self.hidden_size, unroll=self.unroll, dtype=self.dtype,
        name='answer_encoder')(answers_RxWxD, mask_RxW, segments_RxW)

    if self.variant == 'bigru':
      # h_T of the forward direction (last step) and h_1 of the backward (first step).
      rows_N = batch['answer_rows'].reshape(-1)
      starts_N = batch['answer_starts'].reshape(-1)
      lengths_N = answer_lengths_BxQ.reshape(-1)
      ends_N = starts_N + jnp.maximum(lengths_N - 1, 0)
      forward_NxH = h_RxWx2H[rows_N, ends_N, :self.hidden_size]
      backward_NxH = h_RxWx2H[rows_N, starts_N, self.hidden_size:]
      final_Nx2H = jnp.concatenate([forward_NxH, backward_NxH], -1)
      final_Nx2H = jnp.where((lengths_N > 0)[:, None], final_Nx2H, 0.0)
      final_Nx2H = nn.Dropout(self.dropout_rate, deterministic=not train)(final_Nx2H)
      logits_N = dense(1, 'classifier')(final_Nx2H)[..., 0]
      return logits_N.astype(jnp.float32).reshape(b, q)

    question_valid_BxQ = answer_lengths_BxQ > 0

    # Local context (eq. 4).
    if use_context:
      questions_NxLxE = words(batch['questions'], 'question_states').reshape(
          (num_slots, batch['questions'].shape[-1], -1))
      h_question_NxC = ContextEncoder(
          self.context_size, unroll=self.unroll, dtype=self.dtype,
          name='question_encoder')(questions_NxLxE, batch['question_lengths'].reshape(-1))
    else:
      h_question_NxC = None

    # Low-level attention (eq. 5-7), a softmax per answer over its packed steps.
    if self.variant == 'hn_avg':
      alpha_RxW = attention_lib.segment_mean_weights(segments_RxW,
                                                     answer_lengths_BxQ.reshape(-1))
    else:
      logits_RxW = attention_lib.AdditiveAttention(
          self.attention_size, dtype=self.dtype, name='low_level_attention')(
              h_RxWx2H, h_question_NxC, segments_RxW)
      alpha_RxW = attention_lib.segment_softmax(logits_RxW, segments_RxW, num_slots)
    a_Nx2H = attention_lib.segment_pool(alpha_RxW, h_RxWx2H, segments_RxW, num_slots)
    # Packed like the answers: packing.unpack gives [B, Q, T].
    self.sow('intermediates', 'answer_attention', alpha_RxW)
    a_Nx2H = nn.Dropout(self.dropout_rate, deterministic=not train)(a_Nx2H)

    # High-level encoder over [h_Q_i, a_i] (eq. 8-10).
    pairs_Nx = a_Nx2H.astype(self.dtype)
    if use_context:
      pairs_Nx = jnp.concatenate([h_question_NxC, pairs_Nx], axis=-1)
    pairs_BxQxF = pairs_Nx.reshape(b, q, -1)
    h_BxQx2H, _ = gru_lib.MaskedGRU(
        self.hidden_size, unroll=self.unroll, dtype=self.dtype,
        name='interview_encoder')(pairs_BxQxF, question_valid_BxQ)

    # Global context (eq. 11) and high-level attention (eq. 12-14).
    if use_context:
      h_job_BxC = ContextEncoder(
          self.context_size, unroll=self.unroll, dtype=self.dtype,
          name='job_title_encoder')(words(batch['job_title'], 'job_title_states'),
                                    batch['job_title_length'])
    else:
      h_job_BxC = None
    if self.variant == 'hn_avg':
      v_Bx2H, beta_BxQ = attention_lib.masked_mean(h_BxQx2H, question_valid_BxQ)
    else:
      job_index_BxQ = jnp.broadcast_to(jnp.arange(b)[:, None], (b, q))
      logits_BxQ = attention_lib.AdditiveAttention(
          self.attention_size, dtype=self.dtype, name='high_level_attention')(
              h_BxQx2H, h_job_BxC, job_index_BxQ)
      beta_BxQ = attention_lib.masked_softmax(logits_BxQ, question_valid_BxQ)
      v_Bx2H = attention_lib.attend(beta_BxQ, h_BxQx2H)
    self.sow('intermediates', 'question_attention', beta_BxQ)
    self.sow('intermediates', 'interview_vector', v_Bx2H)
    v_Bx2H = nn.Dropout(self.dropout_rate, deterministic=not train)(v_Bx2H)

    # Candidate classification (eq. 15); the sigmoid lives in the loss / scores.
    return dense(1, 'classifier')(v_Bx2H.astype(self.dtype))[..., 0].astype(jnp.float32)


def candidate_loss(
    logits: jax.Array, batch: dict[str, jax.Array]
) -> tuple[jax.Array, jax.Array]:
  """Binary cross-entropy from logits: (sum over examples, number of examples).

  Hierarchical variants: one example per real candidate. `bigru`: one example per
  valid answer, each carrying its candidate's label.
  """
  labels_B = batch['label'].astype(jnp.float32)
  weight_B = batch['weight'].astype(jnp.float32)
  if logits.ndim == 2:  # bigru: answer-level examples.
    weight_BxQ = weight_B[:, None] * (batch['answer_lengths'] > 0)
    return losses.weighted_bce(logits, jnp.broadcast_to(labels_B[:, None], logits.shape),
                               weight_BxQ)
  return losses.weighted_bce(logits, labels_B, weight_B)


def candidate_scores(logits: jax.Array, batch: dict[str, jax.Array]) -> jax.Array:
  """Hirability probability per candidate [B] (bigru: mean over valid answers)."""
  if logits.ndim == 2:
    valid_BxQ = (batch['answer_lengths'] > 0).astype(jnp.float32)
    probs_BxQ = jax.nn.sigmoid(logits)
    return (probs_BxQ * valid_BxQ).sum(-1) / jnp.maximum(valid_BxQ.sum(-1), 1.0)
  return jax.nn.sigmoid(logits)


def embeddings_trainable(value) -> bool:
  """`config.model.train_embeddings` as a bool. train_lib resolves 'auto' against the
  training data first; where there is none (a benchmark's random batches) it is frozen."""
  if isinstance(value, bool):
    return value
  text = str(value).strip().lower()
  if text in ('true', 'false', 'auto'):
    return text == 'true'
  raise ValueError(f'train_embeddings must be true, false or auto, got {value!r}')


def create_model(model_config, *, vocab_size: int, features_input: bool,
                 states_input: bool = False, dtype: jnp.dtype = jnp.float32) -> HireNet:
  """Builds the model from `config.model` (see experiments/configs/default.py);
  `states_input` for a dataset of language-model word states (meta.json's `state_dim`)."""
  return HireNet(
      variant=model_config.variant,
      vocab_size=vocab_size,
      embedding_dim=model_config.embedding_dim,
      hidden_size=model_config.hidden_size,
      context_size=model_config.context_size,
      attention_size=model_config.attention_size,
      dropout_rate=model_config.dropout_rate,
      train_embeddings=embeddings_trainable(model_config.train_embeddings),
      features_input=features_input,
      states_input=states_input,
      state_projection=model_config.get('state_projection', 128),
      state_dropout=model_config.get('state_dropout', 0.0),
      lexical_dim=model_config.get('lexical_dim', 0),
      unroll=model_config.get('unroll', 1),
      dtype=dtype,
  )
