"""The library of both systems: `core` (what HireNet and MockLLM share), `hirenet` (the
interview model), `llm` (language models), `pjf` (person-job fit) and `mockllm` (LLM-played
mock interviews). It never reads flags, never prints and never imports data_prep,
experiments or benchmarks."""
