"""Tiny configuration for tests and smoke runs: trains in seconds on a CPU."""

from experiments.configs import default


def get_config():
  """The default configuration shrunk to a few seconds of CPU time."""
  config = default.get_config()
  # model.embedding_dim stays the default's 200: the datasets' word2vec vectors are 200-d.
  config.model.hidden_size = 8  # GRU units per direction.
  config.model.context_size = 8  # Question / job-title encoder units.
  config.model.attention_size = 8  # Attention vector size.
  config.model.dropout_rate = 0.0  # No dropout: faster convergence on tiny data.
  config.batch_size = 8  # Divisible by 1, 2, 4 and 8 devices.
  config.num_epochs = 3  # A few epochs.
  config.learning_rate = 1e-2  # Large steps on tiny data.
  config.num_buckets = 2  # Two compiled shapes per split.
  config.early_stopping_patience = 0  # Run every epoch (deterministic step counts).
  config.log_every_steps = 2  # Log often.
  config.tensorboard = True  # Exercise the event writer.
  config.async_checkpointing = False  # Simpler to reason about in tests.
  # Tiny corpora have few words each and would be encoded by the language model: the
  # tests that want it ask for --representation=llm.
  config.choose_representation = False
  return config
