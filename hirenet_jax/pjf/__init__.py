"""Person-job fit: the two-sided corpus in memory, text features and the Flax baselines of
the MockLLM paper's Table 2 (NCF, PJFNN, BPJFNN, APJFNN, IPJF)."""
