"""Person-job-fit data preparation: reading, checking and writing the corpus format
(docs/pjf_format.md), converting the MockLLM authors' layout, and the synthetic corpus.
Never imports HireNet's data preparation or model."""
