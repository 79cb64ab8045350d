"""Configuration of a MockLLM experiment (docs/mockllm.md says why each default is what
it is). Override any field on the command line, e.g. `--config.num_turns=5`."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.num_turns = 3  # Questions per mock interview (the paper's interviews average 3.19).
  config.num_cases = 1  # k retrieved cases in each prompt (Figure 5 sweeps 0..3).
  config.retrieval = 'tfidf'  # Cases from the owner's memory: tfidf cosine, or llm (it picks).
  config.chunk_size = 32  # Interviews advanced together per backend call.
  config.variants = 'mockllm,wo_mi,wo_rp,wo_su,k0,k2,k3'  # Table 2 rows and Figure 5.
  config.max_pairs = 0  # Pairs drawn by whole candidates, the same for every seed (0 = all).
  # With max_pairs: draw only validation and test candidates, with their own training
  # pairs (a warm split), so fewer interviews give the same number of test pairs.
  config.held_out_only = False
  config.max_new_tokens = 64  # Length limit of a question or an answer.
  config.temperature = 0.9  # The paper's sampling: temperature, top_p, repetition penalty.
  config.top_p = 0.6
  config.repetition_penalty = 1.1
  config.transcripts = 20  # HTML pages written for test pairs of the full run.
  # Learned scorers: HireNet trained on the generated interviews of the training pairs
  # gives S_q (label job_accepts) and S_a (candidate_accepts) as an extra Table 2 row, and
  # the same HireNet reading the resume and job alone gives the row "w/o MI".
  config.hirenet_scorer = False
  config.hirenet_epochs = 40  # HireNet's epoch limit (it stops early on validation).

  # --- who plays the roles (hirenet_jax/mockllm/backends.py; docs/llm.md, llm_served.md).
  # --backend, --base_url, --model and --server are shorthands for the fields they name.
  config.backend = ml_collections.ConfigDict()
  config.backend.name = 'scripted'  # scripted (test double, no model) | jax | openai.
  config.backend.gguf = ''  # jax: a Llama-family GGUF file ('': embedded SmolLM2-135M).
  # jax: weights of the matrix products, float32 | bfloat16 ('': bfloat16, or float32 on a
  # CPU without bf16 dot products).
  config.backend.weight_dtype = ''
  # jax: the prefix cache's budget in MiB (0: off). A chunk's interviews keep their
  # prompts' blocks between turns; when they outgrow it, turns recompute evicted blocks
  # (the log line after each chunk counts them).
  config.backend.prefix_cache_mb = 4096
  config.backend.base_url = ''  # openai: the API root, e.g. http://localhost:8000/v1.
  config.backend.model = ''  # openai: the served model's name (GET /v1/models).
  config.backend.server = 'vllm'  # openai: vllm | llamacpp | ollama | openai (spelling).
  config.backend.api_key_file = ''  # openai: a file holding the key ('': $OPENAI_API_KEY).
  # openai: the key itself; ps and the shell history show a command line, so prefer
  # api_key_file or $OPENAI_API_KEY (results.json says only whether it was set).
  config.backend.api_key = ''
  config.backend.max_concurrency = 16  # openai: requests in flight.
  config.backend.timeout_s = 120.0  # openai: seconds to wait for one answer.
  return config
