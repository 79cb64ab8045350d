"""HireNet's data preparation: reading and checking the raw interview corpus, text, audio
and video features, splits, the TFDS builder and shards, the synthetic corpus and the
robustness suite's corpora, and prepared datasets on demand."""
