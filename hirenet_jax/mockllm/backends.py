"""The language model behind the roles: the scripted role-player, the embedded JAX
runtime, or a served model, each wrapped in the response cache so that a killed run
resumes and a finished run replays."""

from __future__ import annotations

import dataclasses
import os

from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm.api import LanguageModel

BACKENDS = ('scripted', 'jax', 'openai')


@dataclasses.dataclass(frozen=True)
class BackendOptions:
  """How to reach the model; only the chosen backend's fields are read."""
  backend: str = 'scripted'
  gguf: str | None = None          # jax: a Llama-family GGUF; None = embedded SmolLM2.
  max_batch: int = 32              # jax: sequences decoded at once.
  weight_dtype: str | None = None  # jax: float32 | bfloat16; None = the engine's default.
  base_url: str | None = None      # openai: e.g. http://localhost:8000/v1
  model: str | None = None         # openai: the served model's name.
  server: str = 'vllm'             # openai: vllm, llamacpp, ollama or openai.
  api_key: str | None = None
  max_concurrency: int = 16        # openai: requests in flight.
  timeout_s: float = 120.0


def make_model(options: BackendOptions, cache_path: str | None = None) -> LanguageModel:
  """The backend, behind a response cache at `cache_path` (None: no cache)."""
  if options.backend == 'scripted':
    from hirenet_jax.mockllm.scripted import ScriptedModel
    model = ScriptedModel()
  elif options.backend == 'jax':
    from hirenet_jax.llm.engine import JaxLanguageModel
    model = JaxLanguageModel(options.gguf, max_batch=options.max_batch,
                             weight_dtype=options.weight_dtype)
  elif options.backend == 'openai':
    if not options.base_url or not options.model:
      raise ConfigError('--backend=openai needs --base_url (e.g. http://localhost:8000/v1) '
                        'and --model (the served model name)')
    from hirenet_jax.llm.openai_client import OpenAIChatModel
    model = OpenAIChatModel(options.base_url, options.model, api_key=options.api_key,
                            server=options.server, max_concurrency=options.max_concurrency,
                            timeout_s=options.timeout_s)
  else:
    raise ConfigError(f'unknown backend {options.backend!r}; expected one of '
                      f'{", ".join(BACKENDS)}')
  if cache_path is None or options.backend == 'scripted':
    return model  # The scripted role-player is cheaper than its cache.
  from hirenet_jax.llm.response_cache import CachedModel
  from hirenet_jax.llm.response_cache import ResponseCache
  os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
  return CachedModel(model, ResponseCache(cache_path))
