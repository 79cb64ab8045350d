"""Configuration of the person-job-fit baselines (MockLLM paper, Table 2), CPU-sized.

Override any field on the command line, e.g. `--config.model.hidden_size=64`;
`--model`, `--seed` and `--corpus_dir` are shorthands. `get_config('tiny')` is the test
configuration (seconds on a CPU).
"""

import ml_collections


def get_config(preset: str = '') -> ml_collections.ConfigDict:
  """The default configuration, or with preset 'tiny' one shrunk for tests."""
  config = ml_collections.ConfigDict()

  # --- data.
  config.corpus_dir = ''  # pjf corpus (docs/pjf_format.md); '' = the default synthetic one.
  config.k = 5  # Ranking cut-off of NDCG / Recall / Precision / MRR (the paper's @5).

  # --- text features (vocabulary of the training split only).
  config.features = ml_collections.ConfigDict()
  config.features.min_count = 2  # Words seen fewer times in training are unknown.
  config.features.max_vocab = 20000  # Most frequent words kept.
  config.features.max_words = 256  # Words of a document as one sequence (PJFNN, BPJFNN).
  config.features.max_sentences = 12  # Sentences per document (APJFNN, IPJF).
  config.features.max_sentence_words = 24  # Words per sentence.

  # --- model (the papers' sizes are larger; these train in minutes on 2 CPU cores).
  config.model = ml_collections.ConfigDict()
  config.model.name = 'apjfnn'  # ncf | pjfnn | bpjfnn | apjfnn | ipjf (the --model shorthand).
  config.model.embedding_dim = 64  # Word (or id, for NCF) embedding size, trained from scratch.
  config.model.hidden_size = 32  # GRU units per direction / CNN filters / MLP width.
  config.model.attention_size = 32  # APJFNN's additive attention vectors.
  config.model.dropout_rate = 0.1  # Before the last layer of the match MLPs.
  config.model.train_embeddings = True  # No pretrained vectors: the table is learned.

  # --- optimisation (RecBole-PJF's learning rate 1e-3 with Adam).
  config.seed = 0  # Parameters, dropout and data order (the --seed shorthand).
  config.batch_size = 64  # Global batch (pairs); divisible by the device count.
  config.num_epochs = 15  # Upper bound; early stopping usually ends sooner.
  config.learning_rate = 1e-3  # Adam learning rate.
  config.schedule = 'constant'  # constant | cosine | linear (hirenet_jax.core.optimizer).
  config.warmup_steps = 0  # Linear warmup from 0.
  config.end_learning_rate_factor = 0.0  # cosine / linear: final lr = factor * lr.
  config.adam_b1 = 0.9  # Adam beta1.
  config.adam_b2 = 0.999  # Adam beta2.
  config.adam_eps = 1e-8  # Adam epsilon.
  config.grad_clip_norm = 1.0  # Global-norm clipping; 0 = off.

  # --- model selection: validation ROC AUC of the run's side(s), not F1.
  config.early_stopping_patience = 3  # Epochs without a better validation AUC; 0 = off.

  # --- checkpoints.
  config.async_checkpointing = True  # Write checkpoints in a background thread.
  config.checkpoint_every_steps = 0  # Extra mid-epoch checkpoints; 0 = end of epoch only.

  if preset == 'tiny':
    config.features.max_words = 48  # Tiny documents.
    config.features.max_sentences = 6  # Few sentences.
    config.features.max_sentence_words = 12  # Short sentences.
    config.model.embedding_dim = 16  # Tiny embeddings.
    config.model.hidden_size = 16  # Tiny encoders.
    config.model.attention_size = 16  # Tiny attention.
    config.model.dropout_rate = 0.0  # No dropout on tiny data.
    config.batch_size = 32  # Divisible by 1, 2, 4 and 8 devices.
    config.num_epochs = 12  # Enough for the planted signal.
    config.learning_rate = 1e-2  # Large steps on tiny data.
    config.early_stopping_patience = 0  # Run every epoch (deterministic step counts).
    config.async_checkpointing = False  # Simpler to reason about in tests.
  elif preset:
    raise ValueError(f'unknown preset {preset!r}; expected "" or "tiny"')
  return config
