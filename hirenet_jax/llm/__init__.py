"""Language models for the mock interviews: an embedded Flax runtime for Llama-family GGUF
files and a client for OpenAI-compatible servers, both behind `api.LanguageModel`."""
