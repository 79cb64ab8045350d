"""Default configuration: HireNet on the text modality, CPU-friendly.

Every field can be overridden on the command line, e.g.
`--config.model.hidden_size=100 --config.learning_rate=3e-4`.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  """Returns the default training configuration."""
  config = ml_collections.ConfigDict()

  # --- model (paper: Model section). The paper gives no sizes; ours follow the
  # hierarchical attention network HireNet builds on (Yang et al. 2016): 50 GRU units
  # per direction, 100-d attention vectors. Small enough to train on 2 CPU cores.
  config.model = ml_collections.ConfigDict()
  config.model.variant = 'hirenet'  # bigru | hn_avg | hn_satt | hirenet.
  config.model.embedding_dim = 200  # word2vec size used in the paper (frWac 200-d).
  config.model.hidden_size = 50  # GRU units per direction, both levels.
  config.model.context_size = 50  # GRU units of the question / job-title encoders.
  config.model.attention_size = 100  # Size of the additive attention vectors u.
  config.model.dropout_rate = 0.2  # On answer summaries and the interview vector.
  config.model.train_embeddings = False  # Paper: pretrained word vectors, frozen.
  config.model.unroll = 1  # lax.scan unroll of the GRU recurrences.

  return config
