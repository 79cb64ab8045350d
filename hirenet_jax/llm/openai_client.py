"""A client for OpenAI-compatible servers (vLLM, llama.cpp's llama-server, Ollama, OpenAI).

Standard library only (urllib and a thread pool): many requests in flight at once, results
in request order, retries with exponential backoff on 429/5xx, dropped connections and
timeouts, and one-line errors for a server that is down, a model it does not serve, or a
run that still fails. A timeout means the server is behind: the number of requests in
flight is halved and grows back by one after a run of answers (AIMD, `AdaptiveLimit`), so
a server slower than `max_concurrency` is driven at the rate it keeps up with.

What each server is sent (docs/llm_served.md has the table):

- repetition penalty: vLLM `repetition_penalty`, llama.cpp `repeat_penalty` (both
  multiplicative, as in the paper). Ollama's OpenAI endpoint takes only the additive
  `frequency_penalty`/`presence_penalty`, which are a different thing, so nothing is sent
  and the model's own `repeat_penalty` applies (Ollama's default is 1.1, the paper's value;
  a Modelfile `PARAMETER repeat_penalty` changes it). OpenAI has no such parameter.
- score: vLLM answers `/v1/completions` with `echo` and `logprobs`, so the continuation's
  log-probability is read off the prompt tokens (prompt tokenised by vLLM's `/tokenize`
  with the model's chat template). llama.cpp's server refuses `echo`, so llama.cpp, Ollama
  and OpenAI are scored from the chat endpoint's `top_logprobs` (20) of the first answer
  token: only a one-token continuation such as "yes" can be scored there, and a score is
  None when the server returns no log-probabilities or the continuation is not among them.
"""

from __future__ import annotations

import concurrent.futures
import email.utils
import http.client
import json
import logging
import math
import random
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Sequence

from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm import response_cache as cache_lib
from hirenet_jax.llm.api import ChatRequest, Message, ScoreRequest, SamplingParams

SERVERS = ('vllm', 'llamacpp', 'ollama', 'openai')
REPETITION_PENALTY_KEY = {'vllm': 'repetition_penalty', 'llamacpp': 'repeat_penalty',
                          'ollama': None, 'openai': None}
SCORE_METHOD = {'vllm': 'prompt_logprobs', 'llamacpp': 'top_logprobs',
                'ollama': 'top_logprobs', 'openai': 'top_logprobs'}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TOP_LOGPROBS = 20  # OpenAI's maximum; vLLM, llama.cpp and Ollama accept it too.
MAX_WAIT_S = 300.0  # Longest single wait, whatever Retry-After asks for.
OLLAMA_REPEAT_PENALTY = 1.1
START_HINT = {
    'vllm': 'start one with: vllm serve HuggingFaceTB/SmolLM2-1.7B-Instruct --port 8000',
    'llamacpp': 'start one with: llama-server -m model.gguf --port 8080',
    'ollama': 'start one with: ollama serve (then: ollama pull <model>)',
    'openai': 'check the address and your network',
}


class ServedModelError(RuntimeError):
  """A served model could not answer; the message is one line meant for the user."""


class ServerUnreachableError(ServedModelError):
  """Nothing listens at the address (connection refused, unknown host)."""


class ModelNotServedError(ServedModelError):
  """The server is up but does not serve the requested model."""


class ServerTimeoutError(ServedModelError):
  """The server did not answer within timeout_s."""


class ServerResponseError(ServedModelError):
  """The server answered with an error status or a body this client cannot read."""

  def __init__(self, message: str, status: int | None = None):
    super().__init__(message)
    self.status = status


class _Retryable(Exception):
  """An attempt that may succeed if repeated after `wait_s` (None: use the backoff);
  `timeout`: the server did not answer in time (it is behind: send fewer at once)."""

  def __init__(self, description: str, wait_s: float | None = None, timeout: bool = False):
    super().__init__(description)
    self.wait_s = wait_s
    self.timeout = timeout


class _Cancelled(ServedModelError):
  """Another request of the same call failed; this one stops at its next attempt."""


class AdaptiveLimit:
  """How many requests may be in flight, additive increase / multiplicative decrease as
  TCP does on a congested link: a timeout halves the limit (once per cut: a request sent
  before the last cut does not cut again), `limit` answers in a row raise it by one, up
  to `maximum`. Thread-safe; `lowest` is the smallest limit it came down to."""

  def __init__(self, maximum: int):
    self.maximum = maximum
    self.limit = maximum
    self.lowest = maximum
    self.in_flight = 0
    self._successes = 0
    self._cuts = 0
    self._condition = threading.Condition()

  def acquire(self, abort: threading.Event | None = None) -> int:
    """Waits for a free slot; returns the cut count the request is sent under."""
    with self._condition:
      while self.in_flight >= self.limit:
        if abort is not None and abort.is_set():
          raise _Cancelled('cancelled: another request failed')
        self._condition.wait(0.05)
      self.in_flight += 1
      return self._cuts

  def release(self, sent_under: int, *, answered: bool, timed_out: bool = False) -> None:
    """Frees the slot; `answered` counts toward an increase, `timed_out` cuts."""
    with self._condition:
      self.in_flight -= 1
      if timed_out:
        self._successes = 0
        if sent_under == self._cuts:
          self.limit = max(1, self.limit // 2)
          self.lowest = min(self.lowest, self.limit)
          self._cuts += 1
      elif answered:
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.maximum:
          self.limit += 1
          self._successes = 0
      self._condition.notify_all()


def _error_message(text: str) -> str:
  """The human part of an error body: OpenAI's error.message, vLLM's message, or text."""
  try:
    data = json.loads(text)
  except json.JSONDecodeError:
    return ' '.join(text.split())[:300]
  if isinstance(data, dict):
    error = data.get('error', data)
    if isinstance(error, dict):
      for field in ('message', 'detail', 'error'):
        if isinstance(error.get(field), str):
          return error[field]
    elif isinstance(error, str):
      return error
  return ' '.join(text.split())[:300]


def _retry_after_s(value: str | None) -> float | None:
  """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent."""
  if not value:
    return None
  try:
    return max(0.0, float(value))
  except ValueError:
    pass
  try:
    when = email.utils.parsedate_to_datetime(value)
  except (TypeError, ValueError):
    return None
  return max(0.0, when.timestamp() - time.time())


def _is_model_missing(status: int, message: str) -> bool:
  lowered = message.lower()
  return status in (400, 404) and 'model' in lowered and (
      'not exist' in lowered or 'not found' in lowered or 'no such model' in lowered)


def _first_token_logprob(choice: dict[str, Any], continuation: str) -> float | None:
  """log P(first answer token spells `continuation`), summed over spellings that differ
  only in surrounding whitespace (" yes" and "yes" start the same answer)."""
  content = (choice.get('logprobs') or {}).get('content') or []
  if not content:
    return None
  target = continuation.strip()
  matches = [float(t['logprob']) for t in content[0].get('top_logprobs') or []
             if isinstance(t, dict) and str(t.get('token', '')).strip() == target and target]
  if not matches:
    return None
  peak = max(matches)
  return peak + math.log(sum(math.exp(m - peak) for m in matches))


class OpenAIChatModel:
  """api.LanguageModel backed by an OpenAI-compatible HTTP server.

  Args:
    base_url: the API root, ending in /v1 for all four servers (http://host:8000/v1).
    model: the served model's id, as GET /v1/models lists it.
    api_key: sent as a Bearer token when given.
    server: 'vllm', 'llamacpp', 'ollama' or 'openai'; decides the parameter spelling
      and how `score` works (module docstring).
    max_concurrency: requests in flight at once, at most; timeouts lower it for a while
      (`AdaptiveLimit`).
    timeout_s: seconds to wait for one answer.
    max_retries: retries of one request on 429/500/502/503/504, a dropped connection or
      a timeout.
    backoff_s: first retry waits backoff_s * (1 + jitter), doubling each retry, unless the
      server's Retry-After says how long.
    cache: answers are looked up there first and recorded as they arrive.
    retry_seed: seeds the jitter.
    sleep: how to wait (tests record the waits instead).
  """

  def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
               server: str = 'vllm', max_concurrency: int = 16, timeout_s: float = 120,
               max_retries: int = 5, backoff_s: float = 1.0,
               cache: cache_lib.ResponseCache | None = None, retry_seed: int = 0,
               sleep: Callable[[float], None] = time.sleep):
    if server not in SERVERS:
      raise ConfigError(f'server must be one of {", ".join(SERVERS)}, got {server!r}')
    if max_concurrency < 1 or max_retries < 0 or timeout_s <= 0 or backoff_s < 0:
      raise ConfigError('need max_concurrency >= 1, max_retries >= 0, timeout_s > 0 and '
                        'backoff_s >= 0')
    self.base_url = base_url.rstrip('/')
    # vLLM's /tokenize lives at the server root, beside /v1.
    self.root_url = self.base_url[:-3] if self.base_url.endswith('/v1') else self.base_url
    self.model = model
    self.server = server
    self.backend = server
    self.name = f'{server}/{model}'
    self.api_key = api_key
    self.max_concurrency = max_concurrency
    self.timeout_s = timeout_s
    self.max_retries = max_retries
    self.backoff_s = backoff_s
    self.cache = cache
    self._sleep = sleep
    self._rng = random.Random(retry_seed)
    self._lock = threading.Lock()
    self._warned: set[str] = set()
    self._abort = threading.Event()
    self.concurrency = AdaptiveLimit(max_concurrency)
    self.retries = 0
    self.timeouts = 0
    self.scores_without_logprobs = 0

  # ----------------------------------------------------------------- LanguageModel

  def chat(self, requests: Sequence[ChatRequest]) -> list[str]:
    return self._map('chat', requests, self._chat_one)

  def score(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
    if SCORE_METHOD[self.server] == 'prompt_logprobs':
      return self._map('score', requests, self._score_by_prompt_logprobs)
    return self._score_by_top_logprobs(requests)

  def list_models(self) -> list[str]:
    """Ids of the models the server says it serves (GET /v1/models). Asked once and
    outside `concurrency`: an error report asks it while its own request holds a slot."""
    url = f'{self.base_url}/models'
    try:
      data = self._attempt('GET', url, None)
    except _Retryable as e:
      raise ServerResponseError(f'{url}: {e}') from None
    return [str(m.get('id')) for m in data.get('data') or [] if isinstance(m, dict)]

  # ----------------------------------------------------------------- request bodies

  def chat_body(self, request: ChatRequest) -> dict[str, Any]:
    """The JSON sent to /v1/chat/completions, in this server's spelling."""
    p: SamplingParams = request.params
    body: dict[str, Any] = {
        'model': self.model, 'messages': _messages(request.messages),
        'max_tokens': p.max_new_tokens, 'temperature': p.temperature, 'top_p': p.top_p,
        'seed': p.seed}
    if p.stop:
      body['stop'] = list(p.stop)
    key = REPETITION_PENALTY_KEY[self.server]
    if key is not None:
      body[key] = p.repetition_penalty
    elif self.server == 'ollama' and p.repetition_penalty != OLLAMA_REPEAT_PENALTY:
      self._warn_once('ollama-penalty', 'Ollama\'s OpenAI endpoint takes no repetition '
                      'penalty; the model\'s own repeat_penalty applies (default %.1f), not '
                      '%g: set it with PARAMETER repeat_penalty in a Modelfile',
                      OLLAMA_REPEAT_PENALTY, p.repetition_penalty)
    elif self.server == 'openai' and p.repetition_penalty != 1.0:
      self._warn_once('openai-penalty', 'OpenAI has no repetition penalty; %g is not applied',
                      p.repetition_penalty)
    return body

  # ----------------------------------------------------------------- one request each

  def _chat_one(self, request: ChatRequest) -> str:
    data = self._send('POST', f'{self.base_url}/chat/completions', self.chat_body(request))
    try:
      content = data['choices'][0]['message'].get('content')
    except (KeyError, IndexError, TypeError, AttributeError) as e:
      raise ServerResponseError(f'{self.base_url}/chat/completions answered without '
                                f'choices[0].message: {json.dumps(data)[:200]}') from e
    if content is None:
      self._warn_once('no-content', 'a chat answer from %s had no text content (counted as '
                      'an empty answer)', self.name)
      return ''
    return str(content)

  def _score_by_prompt_logprobs(self, request: ScoreRequest) -> float | None:
    """Sum of the continuation tokens' log-probabilities, echoed by /v1/completions."""
    if not request.continuation:
      return 0.0
    context = self._send('POST', f'{self.root_url}/tokenize', {
        'model': self.model, 'messages': _messages(request.messages),
        'add_generation_prompt': True})['tokens']
    continuation = self._send('POST', f'{self.root_url}/tokenize', {
        'model': self.model, 'prompt': request.continuation,
        'add_special_tokens': False})['tokens']
    data = self._send('POST', f'{self.base_url}/completions', {
        'model': self.model, 'prompt': list(context) + list(continuation), 'max_tokens': 1,
        'temperature': 0.0, 'logprobs': 1, 'echo': True})
    try:
      token_logprobs = (data['choices'][0].get('logprobs') or {}).get('token_logprobs')
    except (KeyError, IndexError, TypeError, AttributeError) as e:
      raise ServerResponseError(f'{self.base_url}/completions answered without choices: '
                                f'{json.dumps(data)[:200]}') from e
    span = (token_logprobs or [])[len(context):len(context) + len(continuation)]
    if len(span) != len(continuation) or any(v is None for v in span):
      return self._no_logprobs()
    return float(sum(span))

  def _score_by_top_logprobs(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
    """log P(first answer token == continuation) from the chat endpoint's top_logprobs;
    one request per conversation scores all its continuations ("Yes" and "No" alike)."""
    results, keys, groups = self._split('score', requests)
    by_conversation: dict[tuple[Message, ...], list[list[int]]] = {}
    for group in groups:
      by_conversation.setdefault(requests[group[0]].messages, []).append(group)

    def work(conversation_groups: list[list[int]]) -> list[float | None]:
      choice = self._first_token_choice(requests[conversation_groups[0][0]].messages)
      values = []
      for group in conversation_groups:
        value = _first_token_logprob(choice, requests[group[0]].continuation)
        if value is None:
          value = self._no_logprobs()
        self._record('score', keys, requests, group, value)
        values.append(value)
      return values

    conversations = list(by_conversation.values())
    for conversation_groups, values in zip(conversations, self._pool(work, conversations)):
      for group, value in zip(conversation_groups, values):
        for i in group:
          results[i] = value
    return results

  def _first_token_choice(self, messages: Sequence[Message]) -> dict[str, Any]:
    data = self._send('POST', f'{self.base_url}/chat/completions', {
        'model': self.model, 'messages': _messages(messages), 'max_tokens': 1,
        'temperature': 0.0, 'seed': 0, 'logprobs': True, 'top_logprobs': TOP_LOGPROBS})
    try:
      return data['choices'][0]
    except (KeyError, IndexError, TypeError) as e:
      raise ServerResponseError(f'{self.base_url}/chat/completions answered without '
                                f'choices: {json.dumps(data)[:200]}') from e

  def _no_logprobs(self) -> None:
    with self._lock:
      self.scores_without_logprobs += 1
    self._warn_once('no-logprobs', '%s gave no log-probability for a continuation (score '
                    'None; counted in scores_without_logprobs)', self.name)
    return None

  # ----------------------------------------------------------------- concurrency, cache

  def _split(self, kind: str, requests: Sequence[Any]
             ) -> tuple[list[Any], list[str], list[list[int]]]:
    """(results with cached answers in, keys, groups of identical requests to ask)."""
    if self.cache is None:
      return [None] * len(requests), [], [[i] for i in range(len(requests))]
    return cache_lib.split_cached(self.cache, self.backend, self.name, kind, requests)

  def _record(self, kind: str, keys: list[str], requests: Sequence[Any], group: list[int],
              response: Any) -> None:
    """Writes one answer to the cache as soon as it exists (a killed run keeps it)."""
    if self.cache is not None:
      self.cache.put(keys[group[0]], response, backend=self.backend, model=self.name,
                     kind=kind, request=requests[group[0]])

  def _map(self, kind: str, requests: Sequence[Any], answer: Callable[[Any], Any]) -> list[Any]:
    """Answers every request not in the cache, concurrently; results in request order."""
    results, keys, groups = self._split(kind, requests)

    def work(group: list[int]) -> Any:
      response = answer(requests[group[0]])
      self._record(kind, keys, requests, group, response)
      return response

    for group, response in zip(groups, self._pool(work, groups)):
      for i in group:
        results[i] = response
    return results

  def _pool(self, work: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """work(item) for every item on up to max_concurrency threads (fewer in flight while
    `concurrency` is lowered), in item order; the first failure cancels what has not
    started, stops the others at their next attempt, and is raised."""
    if not items:
      return []
    self._abort.clear()
    workers = min(self.max_concurrency, len(items))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix='llm-http') as pool:
      futures = [pool.submit(work, item) for item in items]
      try:
        for future in concurrent.futures.as_completed(futures):
          future.result()
      except BaseException:
        self._abort.set()
        for future in futures:
          future.cancel()
        raise
    return [future.result() for future in futures]

  # ----------------------------------------------------------------- HTTP with retries

  def _send(self, method: str, url: str, body: dict[str, Any] | None, *,
            retry: bool = True) -> dict[str, Any]:
    """One JSON request, retried with backoff on 429/5xx, dropped connections and
    timeouts; each attempt holds a slot of `concurrency`."""
    attempts = self.max_retries + 1 if retry else 1
    for attempt in range(attempts):
      if self._abort.is_set():
        raise _Cancelled('cancelled: another request failed')
      sent_under = self.concurrency.acquire(self._abort)
      answered = timed_out = False
      try:
        answer = self._attempt(method, url, body)
        answered = True
        return answer
      except _Retryable as e:
        timed_out = e.timeout
        if timed_out:
          with self._lock:
            self.timeouts += 1
        if attempt + 1 >= attempts:
          raise self._gave_up(url, e, attempts) from None
        wait_s = e.wait_s if e.wait_s is not None else self._backoff_s(attempt)
        wait_s = min(wait_s, MAX_WAIT_S)
        cause = str(e)
      finally:
        self.concurrency.release(sent_under, answered=answered, timed_out=timed_out)
      logging.info('%s: %s; retrying in %.2f s (%d of %d; %d in flight at most now)', url,
                   cause, wait_s, attempt + 1, self.max_retries, self.concurrency.limit)
      with self._lock:
        self.retries += 1
      self._sleep(wait_s)
    raise AssertionError('unreachable')

  def _gave_up(self, url: str, error: _Retryable, attempts: int) -> ServedModelError:
    """The one line a run ends with when retries did not help: cause and how to resume."""
    if error.timeout:
      limit = self.concurrency
      lowered = (f', requests in flight lowered from {limit.maximum} to {limit.lowest}'
                 if limit.lowest < limit.maximum else '')
      return ServerTimeoutError(
          f'{url} did not answer within timeout_s={self.timeout_s:g} s ({attempts} attempts'
          f'{lowered}); the server is too slow for this load: raise timeout_s '
          f'(config.backend.timeout_s) or lower max_concurrency '
          f'(config.backend.max_concurrency); {self.resume_hint()}')
    return ServerResponseError(f'{url}: {error} (gave up after {attempts} attempts); '
                               f'{self.resume_hint()}')

  def resume_hint(self) -> str:
    """How to go on after a failure: the response cache keeps every answer received."""
    if self.cache is not None:
      return (f'the {len(self.cache)} answers received so far are kept in {self.cache.path}: '
              'rerun the same command to resume')
    return 'rerun the same command to try again'

  def _backoff_s(self, attempt: int) -> float:
    with self._lock:
      jitter = self._rng.random()
    return self.backoff_s * (2 ** attempt) * (1.0 + jitter)

  def _attempt(self, method: str, url: str, body: dict[str, Any] | None) -> dict[str, Any]:
    headers = {'Accept': 'application/json'}
    data = None
    if body is not None:
      data = json.dumps(body).encode('utf-8')
      headers['Content-Type'] = 'application/json'
    if self.api_key:
      headers['Authorization'] = f'Bearer {self.api_key}'
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
      with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
        payload = response.read()
    except urllib.error.HTTPError as e:
      text = e.read().decode('utf-8', 'replace')
      message = _error_message(text)
      if e.code in RETRY_STATUSES:
        raise _Retryable(f'HTTP {e.code} {message}',
                         _retry_after_s(e.headers.get('Retry-After'))) from None
      raise self._status_error(url, e.code, message) from None
    except (urllib.error.URLError, OSError) as e:
      raise self._connection_error(url, e) from None
    except http.client.HTTPException as e:  # A reply cut short (IncompleteRead, BadStatusLine).
      raise _Retryable(f'incomplete reply ({type(e).__name__})') from None
    try:
      answer = json.loads(payload)
    except json.JSONDecodeError:
      raise ServerResponseError(f'{url} answered with something other than JSON: '
                                f'{payload[:200]!r}') from None
    if not isinstance(answer, dict):
      raise ServerResponseError(f'{url} answered {type(answer).__name__}, not a JSON object')
    return answer

  def _connection_error(self, url: str, error: OSError) -> Exception:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError) or 'timed out' in str(reason):
      return _Retryable(f'no answer within timeout_s={self.timeout_s:g} s', timeout=True)
    if isinstance(reason, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
      return _Retryable(f'connection dropped ({type(reason).__name__})')
    if isinstance(reason, ConnectionRefusedError):
      return ServerUnreachableError(
          f'cannot reach {url} (connection refused): no server is listening there; '
          f'{START_HINT[self.server]} (docs/llm_served.md); {self.resume_hint()}')
    return ServerUnreachableError(f'cannot reach {url} ({reason}); {START_HINT[self.server]} '
                                  f'(docs/llm_served.md); {self.resume_hint()}')

  def _status_error(self, url: str, status: int, message: str) -> ServedModelError:
    if _is_model_missing(status, message):
      return ModelNotServedError(f'{self.base_url} does not serve model {self.model!r} '
                                 f'({message}); {self._served_models_hint()}')
    if status in (401, 403):
      return ServerResponseError(f'{url} refused the request ({status} {message}); pass the '
                                 'server\'s API key in $OPENAI_API_KEY or a file named by '
                                 'config.backend.api_key_file', status)
    if status == 404:
      return ServerResponseError(f'{url} does not exist (404 {message}); is base_url right? '
                                 'It usually ends in /v1', status)
    return ServerResponseError(f'{url} answered {status}: {message}', status)

  def _served_models_hint(self) -> str:
    try:
      models = self.list_models()
    except ServedModelError as e:
      return f'could not list its models ({e})'
    if not models:
      return 'it lists no models at /v1/models'
    return f'it serves: {", ".join(models)} (pass one as --model)'

  def _warn_once(self, tag: str, message: str, *args: Any) -> None:
    with self._lock:
      if tag in self._warned:
        return
      self._warned.add(tag)
    logging.warning(message, *args)


def _messages(messages: Sequence[Message]) -> list[dict[str, str]]:
  return [{'role': m.role, 'content': m.content} for m in messages]
