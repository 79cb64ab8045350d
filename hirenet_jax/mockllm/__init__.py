"""MockLLM: LLM-played mock interviews between job and candidate agents, two-sided
evaluation, the handshake and reflection memory (Sun et al., MockLLM), the choice of
backend (the scripted test double, embedded JAX model, served model) and the experiment's
tables and transcripts. Stands on `core`, `llm` and `pjf`."""
