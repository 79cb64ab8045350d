"""HireNet's non-neural baselines: the paper's classifiers and their features (Tables 3
and 4), and the cheap ones fitted beside every training run."""
