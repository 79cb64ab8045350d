"""HireNet (Hemamou et al., AAAI 2019): the model and its ablations, the packed input
pipeline over the prepared shards, the jitted steps and training loop, scoring, the
dataset contract with data_prep, the paper's tables and the robustness table; `baselines`
and `analysis` below it."""
