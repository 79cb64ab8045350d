"""MockLLM: LLM-played mock interviews between job and candidate agents, two-sided
evaluation, the handshake and reflection memory (Sun et al., MockLLM)."""
