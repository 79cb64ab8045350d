"""Language models for the mock interviews behind one interface, `api.LanguageModel`: an
embedded runtime that runs Llama-family GGUF files as pure JAX functions (loader,
tokenizer, model, batched engine), a client for OpenAI-compatible servers, and the
response cache. It imports only `hirenet_jax.core`."""
