"""A response cache for every language-model backend: a JSONL file keyed by request.

One record per answered request, appended and flushed as soon as the answer exists, so a
killed run resumes where it stopped and a finished run replays identically without the
model (or the server) that produced it. The key is the sha256 of a canonical JSON of
(backend, model, kind, messages, params), so any change to a prompt or a sampling setting
asks the model again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import threading
from typing import Any, Callable, Sequence

from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm.api import ChatRequest, LanguageModel, ScoreRequest

KINDS = ('chat', 'score')


def backend_of(model: Any) -> str:
  """The backend label a model's cache records carry: its `backend` attribute, else its
  class name (the embedded JAX model and the HTTP client never share records)."""
  return str(getattr(model, 'backend', type(model).__name__))


def request_fields(request: ChatRequest | ScoreRequest) -> dict[str, Any]:
  """The request as JSON-able data: messages, and params (a chat's sampling settings or
  a score's continuation)."""
  messages = [dataclasses.asdict(m) for m in request.messages]
  if isinstance(request, ChatRequest):
    params = dataclasses.asdict(request.params)
    params['stop'] = list(params['stop'])
  else:
    params = {'continuation': request.continuation}
  return {'messages': messages, 'params': params}


def request_key(backend: str, model: str, kind: str, request: ChatRequest | ScoreRequest) -> str:
  """sha256 of the canonical JSON (sorted keys, no spaces) of what decides the answer."""
  if kind not in KINDS:
    raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
  canonical = json.dumps({'backend': backend, 'model': model, 'kind': kind,
                          **request_fields(request)},
                         sort_keys=True, separators=(',', ':'), ensure_ascii=False)
  return hashlib.sha256(canonical.encode('utf-8')).hexdigest()


class ResponseCache:
  """Append-only JSONL of {key, backend, model, kind, request, response}; thread-safe.

  A last line cut short by a killed run (no newline, not valid JSON) is dropped from the
  file and counted in `dropped_partial_records`; any other unreadable line is an error
  naming the file and line, since something other than this class wrote it. Several
  processes must not append to one file at once.
  """

  def __init__(self, path: str | os.PathLike[str]):
    self.path = pathlib.Path(path)
    self._lock = threading.Lock()
    self._responses: dict[str, Any] = {}
    self.dropped_partial_records = 0
    self.hits = 0
    self.stored = 0
    self.path.parent.mkdir(parents=True, exist_ok=True)
    needs_newline = self._load()
    self._file = open(self.path, 'a', encoding='utf-8')
    if needs_newline:
      self._file.write('\n')
      self._file.flush()

  def _load(self) -> bool:
    """Reads existing records; True when the file's last record lacks its newline."""
    if not self.path.exists():
      return False
    data = self.path.read_bytes()
    lines = data.split(b'\n')
    # Everything before the last newline is whole lines; `lines[-1]` is the unterminated tail.
    for number, line in enumerate(lines[:-1], start=1):
      if line.strip():
        self._add(self._parse(line, number))
    tail = lines[-1]
    if not tail.strip():
      return False
    try:
      record = self._parse(tail, len(lines))
    except ConfigError:
      with open(self.path, 'r+b') as f:
        f.truncate(len(data) - len(tail))
      self.dropped_partial_records += 1
      logging.warning('%s: dropped the unfinished last record (line %d, %d bytes), left by a '
                      'run killed while writing it; that request will be asked again',
                      self.path, len(lines), len(tail))
      return False
    self._add(record)
    return True

  def _parse(self, line: bytes, number: int) -> dict[str, Any]:
    try:
      record = json.loads(line.decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
      raise ConfigError(f'{self.path}:{number}: not a cache record ({e})') from e
    if not isinstance(record, dict) or not {'key', 'kind', 'response'} <= record.keys():
      raise ConfigError(f'{self.path}:{number}: not a cache record (needs key, kind and '
                        'response)')
    return record

  def _add(self, record: dict[str, Any]) -> None:
    self._responses[record['key']] = record['response']

  def __len__(self) -> int:
    with self._lock:
      return len(self._responses)

  def lookup(self, key: str) -> tuple[bool, Any]:
    """(found, response); a cached score may itself be None."""
    with self._lock:
      if key in self._responses:
        self.hits += 1
        return True, self._responses[key]
      return False, None

  def put(self, key: str, response: Any, *, backend: str, model: str, kind: str,
          request: ChatRequest | ScoreRequest) -> None:
    """Stores and flushes one record; the request is kept beside the key for reading."""
    line = json.dumps({'key': key, 'backend': backend, 'model': model, 'kind': kind,
                       'request': request_fields(request), 'response': response},
                      ensure_ascii=False, sort_keys=True)
    with self._lock:
      self._responses[key] = response
      self._file.write(line + '\n')
      self._file.flush()
      self.stored += 1

  def close(self) -> None:
    with self._lock:
      if not self._file.closed:
        self._file.close()

  def __enter__(self) -> ResponseCache:
    return self

  def __exit__(self, *exc: object) -> None:
    self.close()


def split_cached(cache: ResponseCache, backend: str, model: str, kind: str,
                 requests: Sequence[ChatRequest | ScoreRequest]
                 ) -> tuple[list[Any], list[str], list[list[int]]]:
  """(results with the cached answers filled in, each request's key, the misses grouped).

  Each group lists the indices of identical missing requests: they are asked once and
  share one answer, as a replay of the cache would give them.
  """
  results: list[Any] = [None] * len(requests)
  keys = [request_key(backend, model, kind, r) for r in requests]
  missing: dict[str, list[int]] = {}
  for i, key in enumerate(keys):
    found, response = cache.lookup(key)
    if found:
      results[i] = response
    else:
      missing.setdefault(key, []).append(i)
  return results, keys, list(missing.values())


class CachedModel:
  """Any LanguageModel behind a ResponseCache: cached requests are answered from the file,
  the others go to `model` in chunks of `chunk_size` (all at once when None) and are
  recorded as each chunk returns, so a killed run loses at most one chunk."""

  def __init__(self, model: LanguageModel, cache: ResponseCache, *, chunk_size: int | None = None):
    if chunk_size is not None and chunk_size <= 0:
      raise ValueError(f'chunk_size must be positive, got {chunk_size}')
    self.model = model
    self.cache = cache
    self.chunk_size = chunk_size
    self.name = model.name
    self.backend = backend_of(model)

  def chat(self, requests: Sequence[ChatRequest]) -> list[str]:
    return self._answer('chat', requests, self.model.chat)

  def score(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
    return self._answer('score', requests, self.model.score)

  def _answer(self, kind: str, requests: Sequence[Any],
              ask: Callable[[list[Any]], list[Any]]) -> list[Any]:
    results, keys, groups = split_cached(self.cache, self.backend, self.name, kind, requests)
    step = self.chunk_size or max(len(groups), 1)
    for start in range(0, len(groups), step):
      chunk = groups[start:start + step]
      answers = ask([requests[g[0]] for g in chunk])
      if len(answers) != len(chunk):
        raise RuntimeError(f'{self.name} answered {len(answers)} of {len(chunk)} {kind} requests')
      for group, response in zip(chunk, answers):
        self.cache.put(keys[group[0]], response, backend=self.backend, model=self.name,
                       kind=kind, request=requests[group[0]])
        for i in group:
          results[i] = response
    return results
