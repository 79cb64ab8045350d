"""The language model behind the roles: the scripted test double, the embedded JAX
runtime, or a served model, each wrapped in the response cache so that a killed run
resumes and a finished run replays.

A served model's API key comes from a file (`api_key_file`) or the environment
(`OPENAI_API_KEY`, which the OpenAI SDK and vLLM read too), never only from a command-line
flag, which `ps` and the shell history show. It goes to the HTTP client and nowhere
else: the model's name, the cache's keys and records, and every output leave it out."""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping

from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm.api import LanguageModel

BACKENDS = ('scripted', 'jax', 'openai')
API_KEY_ENV = 'OPENAI_API_KEY'


@dataclasses.dataclass(frozen=True)
class BackendOptions:
  """How to reach the model; only the chosen backend's fields are read."""
  backend: str = 'scripted'
  gguf: str | None = None          # jax: a Llama-family GGUF; None = embedded SmolLM2.
  max_batch: int = 32              # jax: sequences decoded at once.
  weight_dtype: str | None = None  # jax: float32 | bfloat16; None = the engine's default.
  prefix_cache_mb: int = 4096      # jax: the prefix cache's budget (0 turns it off).
  base_url: str | None = None      # openai: e.g. http://localhost:8000/v1
  model: str | None = None         # openai: the served model's name.
  server: str = 'vllm'             # openai: vllm, llamacpp, ollama or openai.
  api_key: str | None = dataclasses.field(default=None, repr=False)  # openai: a secret.
  api_key_file: str | None = None  # openai: a file whose first line is the key.
  max_concurrency: int = 16        # openai: requests in flight.
  timeout_s: float = 120.0


def resolve_api_key(api_key: str | None = None, api_key_file: str | None = None,
                    environ: Mapping[str, str] = os.environ) -> str | None:
  """The served model's key: `api_key` when given, else the first line of
  `api_key_file`, else $OPENAI_API_KEY; None when none is set (servers without keys)."""
  if api_key:
    return api_key
  if api_key_file:
    try:
      with open(os.path.expanduser(api_key_file), encoding='utf-8') as f:
        key = f.readline().strip()
    except OSError as e:
      raise ConfigError(f'cannot read the API key file {api_key_file}: {e.strerror}') from None
    if not key:
      raise ConfigError(f'the API key file {api_key_file} is empty')
    return key
  return environ.get(API_KEY_ENV) or None


def make_model(options: BackendOptions, cache_path: str | None = None) -> LanguageModel:
  """The backend, behind a response cache at `cache_path` (None: no cache)."""
  if options.backend == 'scripted':
    from hirenet_jax.mockllm.scripted import ScriptedModel
    model = ScriptedModel()
  elif options.backend == 'jax':
    from hirenet_jax.llm.engine import JaxLanguageModel
    model = JaxLanguageModel(options.gguf, max_batch=options.max_batch,
                             weight_dtype=options.weight_dtype,
                             prefix_cache_bytes=options.prefix_cache_mb * 2 ** 20)
  elif options.backend == 'openai':
    if not options.base_url or not options.model:
      raise ConfigError('--backend=openai needs --base_url (e.g. http://localhost:8000/v1) '
                        'and --model (the served model name)')
    from hirenet_jax.llm.openai_client import OpenAIChatModel
    model = OpenAIChatModel(options.base_url, options.model,
                            api_key=resolve_api_key(options.api_key, options.api_key_file),
                            server=options.server, max_concurrency=options.max_concurrency,
                            timeout_s=options.timeout_s)
  else:
    raise ConfigError(f'unknown backend {options.backend!r}; expected one of '
                      f'{", ".join(BACKENDS)}')
  if cache_path is None or options.backend == 'scripted':
    return model  # The scripted test double is cheaper than its cache.
  from hirenet_jax.llm.response_cache import CachedModel
  from hirenet_jax.llm.response_cache import ResponseCache
  os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
  if options.backend == 'openai':  # Records each answer as it arrives (same keys).
    model.cache = ResponseCache(cache_path)
    return model
  return CachedModel(model, ResponseCache(cache_path))
