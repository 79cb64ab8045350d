"""A recording OpenAI-compatible server on 127.0.0.1 for the client tests.

It records every request body, answers /v1/chat/completions, /v1/completions, /v1/models
and vLLM's /tokenize deterministically (a character is a token, its id is ord(c)), can be
told to fail the next requests on purpose, can hold requests until several are in
flight at once, which proves the client overlaps them without timing anything, and can
answer one request at a time (`one_at_a_time`, each taking `delay_s`), as a server with
one slot does however many requests wait.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from typing import Any

BOS = 1
# The chat endpoint's top log-probabilities of the first answer token.
TOP_LOGPROBS = (('yes', -0.5), ('no', -1.5), (' yes', -2.0), ('Yes', -2.5), ('maybe', -4.0))


def token_logprob(token_id: int) -> float:
  """What the fake model assigns to a prompt token: a simple function tests can repeat."""
  return -((token_id % 7) + 1) / 10


def chat_template(messages: list[dict[str, str]]) -> str:
  """ChatML with the generation prompt, as SmolLM2's template renders it."""
  text = ''.join(f'<|im_start|>{m["role"]}\n{m["content"]}<|im_end|>\n' for m in messages)
  return text + '<|im_start|>assistant\n'


def reply_for(body: dict[str, Any]) -> str:
  """The chat answer: a function of the last message and the sampling settings, cut to
  max_tokens characters, so a test can say which request produced which answer."""
  last = body['messages'][-1]['content']
  return f'{last[::-1]}|seed={body.get("seed")}|t={body.get("temperature")}'[
      :body.get('max_tokens', 10 ** 6)]


class FakeLLMServer:
  """ThreadingHTTPServer on 127.0.0.1, port 0, serving `models`; `start()`/`stop()`."""

  def __init__(self, models: tuple[str, ...] = ('fake-model', 'other-model')):
    self.models = list(models)
    self.requests: list[tuple[str, dict[str, Any]]] = []
    self.authorizations: list[str | None] = []  # Each POST's Authorization header.
    self.logprobs = True
    self.delay_s = 0.0
    self.one_at_a_time = False
    self._slot = threading.Lock()  # Held while answering when one_at_a_time.
    self.answered = 0
    self._failures: list[tuple[int, str | None]] = []
    self._lock = threading.Lock()
    self._in_flight = 0
    self.max_in_flight = 0
    self._gate: threading.Event | None = None
    self._gate_size = 0
    self.gate_timed_out = False
    self._httpd: _QuietServer | None = None
    self._thread: threading.Thread | None = None

  # ------------------------------------------------------------------ control

  def start(self) -> str:
    """Starts serving; returns the base_url (ending in /v1)."""
    self._httpd = _QuietServer(('127.0.0.1', 0), _handler_for(self))
    self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                    daemon=True)
    self._thread.start()
    return f'http://127.0.0.1:{self._httpd.server_address[1]}/v1'

  def stop(self) -> None:
    if self._httpd is not None:
      self._httpd.shutdown()
      self._httpd.server_close()
      self._thread.join()
      self._httpd = None

  def fail(self, times: int, status: int = 503, retry_after: str | None = None) -> None:
    """The next `times` requests get `status` (0: the connection is closed unanswered)."""
    with self._lock:
      self._failures.extend([(status, retry_after)] * times)

  def hold_until_in_flight(self, n: int) -> None:
    """Requests wait until `n` are in the server at once (then all pass)."""
    self._gate, self._gate_size = threading.Event(), n

  def bodies(self, path: str) -> list[dict[str, Any]]:
    with self._lock:
      return [body for p, body in self.requests if p == path]

  # ------------------------------------------------------------------ answers

  def _enter(self) -> None:
    with self._lock:
      self._in_flight += 1
      self.max_in_flight = max(self.max_in_flight, self._in_flight)
      if self._gate is not None and self._in_flight >= self._gate_size:
        self._gate.set()
    if self._gate is not None and not self._gate.wait(timeout=5):
      self.gate_timed_out = True  # The client does not overlap requests: stop holding them.
      self._gate.set()
    if self.one_at_a_time:
      self._slot.acquire()
    if self.delay_s:
      time.sleep(self.delay_s)

  def _leave(self) -> None:
    if self.one_at_a_time:
      self._slot.release()
    with self._lock:
      self._in_flight -= 1
      self.answered += 1

  def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, JSON) for a POST; GETs go through `answer_get`."""
    if body.get('model') not in self.models and path != '/tokenize':
      return 404, {'object': 'error', 'type': 'NotFoundError', 'code': 404,
                   'message': f'The model `{body.get("model")}` does not exist.'}
    if path == '/v1/chat/completions':
      return 200, self._chat(body)
    if path == '/v1/completions':
      return 200, self._completion(body)
    if path == '/tokenize':
      return 200, self._tokenize(body)
    return 404, {'detail': 'Not Found'}

  def answer_get(self, path: str) -> tuple[int, dict[str, Any]]:
    if path == '/v1/models':
      return 200, {'object': 'list', 'data': [{'id': m, 'object': 'model'} for m in self.models]}
    return 404, {'detail': 'Not Found'}

  def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
    text = reply_for(body)
    choice: dict[str, Any] = {'index': 0, 'finish_reason': 'stop',
                              'message': {'role': 'assistant', 'content': text}}
    if body.get('logprobs'):
      top = [{'token': t, 'logprob': lp} for t, lp in TOP_LOGPROBS]
      choice['message']['content'] = 'yes'
      choice['logprobs'] = ({'content': [{'token': 'yes', 'logprob': -0.5,
                                          'top_logprobs': top[:body.get('top_logprobs', 0)]}]}
                            if self.logprobs else None)
    return {'id': 'chatcmpl-fake', 'object': 'chat.completion', 'model': body['model'],
            'choices': [choice]}

  def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
    prompt = body['prompt']
    ids = prompt if isinstance(prompt, list) else [ord(c) for c in prompt]
    logprobs = None
    if body.get('echo') and body.get('logprobs') is not None and self.logprobs:
      values = [None] + [token_logprob(t) for t in ids[1:]] + [-0.25]
      logprobs = {'tokens': [chr(t) for t in ids] + ['x'], 'token_logprobs': values,
                  'top_logprobs': None, 'text_offset': list(range(len(ids) + 1))}
    return {'id': 'cmpl-fake', 'object': 'text_completion', 'model': body['model'],
            'choices': [{'index': 0, 'text': 'x', 'logprobs': logprobs,
                         'finish_reason': 'length'}]}

  def _tokenize(self, body: dict[str, Any]) -> dict[str, Any]:
    if 'messages' in body:
      tokens = [BOS] + [ord(c) for c in chat_template(body['messages'])]
    else:
      tokens = ([BOS] if body.get('add_special_tokens', True) else []) + [
          ord(c) for c in body['prompt']]
    return {'count': len(tokens), 'max_model_len': 8192, 'tokens': tokens}


class _QuietServer(http.server.ThreadingHTTPServer):
  """Handler threads do not hold up shutdown, and a client that hung up (a test of
  timeouts) is not reported as a server error."""

  daemon_threads = True

  def handle_error(self, request: Any, client_address: Any) -> None:
    if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
      super().handle_error(request, client_address)


def _handler_for(server: FakeLLMServer) -> type[http.server.BaseHTTPRequestHandler]:

  class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args: Any) -> None:  # Keep the test output clean.
      del args

    def _send_json(self, status: int, data: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
      payload = json.dumps(data).encode('utf-8')
      self.send_response(status)
      self.send_header('Content-Type', 'application/json')
      self.send_header('Content-Length', str(len(payload)))
      for name, value in (headers or {}).items():
        self.send_header(name, value)
      self.end_headers()
      self.wfile.write(payload)

    def _failure(self) -> bool:
      with server._lock:
        if not server._failures:
          return False
        status, retry_after = server._failures.pop(0)
      if status == 0:
        self.close_connection = True
        return True
      headers = {'Retry-After': retry_after} if retry_after is not None else {}
      self._send_json(status, {'error': {'message': f'failing on purpose ({status})',
                                         'code': status}}, headers)
      return True

    def do_GET(self) -> None:
      with server._lock:
        server.requests.append((self.path, {}))
      if self._failure():
        return
      self._send_json(*server.answer_get(self.path))

    def do_POST(self) -> None:
      length = int(self.headers.get('Content-Length', 0))
      body = json.loads(self.rfile.read(length) or b'{}')
      with server._lock:
        server.requests.append((self.path, body))
        server.authorizations.append(self.headers.get('Authorization'))
      server._enter()
      try:
        if self._failure():
          return
        self._send_json(*server.answer(self.path, body))
      finally:
        server._leave()

  return Handler
