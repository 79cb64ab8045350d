"""Configuration of a MockLLM experiment (docs/mockllm.md says why each default is what
it is). Override any field on the command line, e.g. `--config.num_turns=5`."""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.num_turns = 3  # Questions per mock interview (the paper's interviews average 3.19).
  config.num_cases = 1  # k retrieved cases in each prompt (Figure 5 sweeps 0..3).
  config.chunk_size = 32  # Interviews advanced together per backend call.
  config.variants = 'mockllm,wo_mi,wo_rp,wo_su,k0,k2,k3'  # Table 2 rows and Figure 5.
  config.max_pairs = 0  # Pairs drawn by whole candidates, the same for every seed (0 = all).
  config.max_new_tokens = 64  # Length limit of a question or an answer.
  config.temperature = 0.9  # The paper's sampling: temperature, top_p, repetition penalty.
  config.top_p = 0.6
  config.repetition_penalty = 1.1
  config.transcripts = 20  # HTML pages written for test pairs of the full run.
  # Learned scorers: HireNet trained on the generated interviews of the training pairs
  # gives S_q (label job_accepts) and S_a (candidate_accepts) as an extra Table 2 row.
  config.hirenet_scorer = False
  config.hirenet_epochs = 40  # HireNet's epoch limit (it stops early on validation).
  return config
