"""The served-model client against a recording server on 127.0.0.1, and the response cache."""

from __future__ import annotations

import json
import math
import socket

import pytest

import fake_llm_server
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm import response_cache as cache_lib
from hirenet_jax.llm import openai_client
from hirenet_jax.llm.api import ChatRequest, Message, SamplingParams, ScoreRequest

PAPER = SamplingParams(max_new_tokens=64, temperature=0.9, top_p=0.6, repetition_penalty=1.1,
                       stop=('\nUser:',), seed=7)


def dead_url() -> str:
  """An address with nothing listening: a port the OS just handed out and took back."""
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  return f'http://127.0.0.1:{port}/v1'


def client(base_url: str, **kwargs) -> openai_client.OpenAIChatModel:
  waits = []
  kwargs.setdefault('backoff_s', 0.001)
  kwargs.setdefault('timeout_s', 10)
  model = openai_client.OpenAIChatModel(base_url, kwargs.pop('model', 'fake-model'),
                                        sleep=waits.append, **kwargs)
  model.waits = waits
  return model


def chats(n: int, params: SamplingParams = PAPER) -> list[ChatRequest]:
  return [ChatRequest((Message('system', 'You interview candidates.'),
                       Message('user', f'question {i}')), params) for i in range(n)]


def expected_reply(request: ChatRequest) -> str:
  p = request.params
  return fake_llm_server.reply_for({'messages': [{'content': request.messages[-1].content}],
                                    'seed': p.seed, 'temperature': p.temperature,
                                    'max_tokens': p.max_new_tokens})


# ------------------------------------------------------------------ parameters sent


@pytest.mark.parametrize('server_kind,penalty_key', [
    ('vllm', 'repetition_penalty'), ('llamacpp', 'repeat_penalty'),
    ('ollama', None), ('openai', None)])
def test_chat_sends_the_sampling_parameters_in_each_servers_spelling(server, server_kind,
                                                                     penalty_key):
  model = client(server.base_url, server=server_kind, api_key='secret')
  [answer] = model.chat(chats(1))
  [body] = server.bodies('/v1/chat/completions')
  expected = {'model': 'fake-model', 'max_tokens': 64, 'temperature': 0.9, 'top_p': 0.6,
              'stop': ['\nUser:'], 'seed': 7,
              'messages': [{'role': 'system', 'content': 'You interview candidates.'},
                           {'role': 'user', 'content': 'question 0'}]}
  if penalty_key:
    expected[penalty_key] = 1.1
  assert body == expected  # Nothing else: no additive penalty stands in for Ollama's.
  assert server.authorizations == ['Bearer secret']
  assert answer == expected_reply(chats(1)[0])


def test_no_stop_strings_sends_no_stop_field(server):
  client(server.base_url).chat(chats(1, SamplingParams()))
  assert 'stop' not in server.bodies('/v1/chat/completions')[0]


def test_an_unknown_server_kind_is_refused():
  with pytest.raises(ConfigError, match='vllm, llamacpp, ollama, openai'):
    openai_client.OpenAIChatModel('http://127.0.0.1:1/v1', 'm', server='tgi')


# ------------------------------------------------------------------ concurrency


def test_many_requests_are_in_flight_at_once_and_answers_keep_request_order(server):
  server.hold_until_in_flight(4)  # Each request waits until 4 are in the server at once.
  requests = chats(20)
  answers = client(server.base_url, max_concurrency=4).chat(requests)
  assert not server.gate_timed_out
  assert server.max_in_flight == 4  # Overlapping, and never more than max_concurrency.
  assert answers == [expected_reply(r) for r in requests]


# ------------------------------------------------------------------ retries


def test_5xx_answers_are_retried_with_growing_jittered_waits_then_succeed(server):
  server.fail(1, 503)
  server.fail(1, 502)
  server.fail(1, 500)
  model = client(server.base_url, backoff_s=0.001)
  assert model.chat(chats(1)) == [expected_reply(chats(1)[0])]
  assert len(server.bodies('/v1/chat/completions')) == 4
  assert len(model.waits) == 3 and model.retries == 3
  for attempt, wait in enumerate(model.waits):
    assert 0.001 * 2 ** attempt <= wait < 0.001 * 2 ** (attempt + 1)


def test_jitter_is_reproducible_from_the_retry_seed(server):
  waits = []
  for _ in range(2):
    server.fail(2, 503)
    model = client(server.base_url, retry_seed=3)
    model.chat(chats(1))
    waits.append(model.waits)
  assert waits[0] == waits[1]


def test_retry_after_is_honoured(server):
  server.fail(1, 429, retry_after='7')
  model = client(server.base_url, backoff_s=0.001)
  model.chat(chats(1))
  assert model.waits == [7.0]


def test_a_dropped_connection_is_retried(server):
  server.fail(2, 0)  # Closed without an answer.
  model = client(server.base_url)
  assert model.chat(chats(1)) == [expected_reply(chats(1)[0])]
  assert len(model.waits) == 2


def test_gives_up_after_max_retries_naming_the_status(server):
  server.fail(10, 503)
  model = client(server.base_url, max_retries=2)
  with pytest.raises(openai_client.ServerResponseError, match=r'HTTP 503.*after 3 attempts'):
    model.chat(chats(1))
  assert len(server.bodies('/v1/chat/completions')) == 3


@pytest.mark.parametrize('status,match', [(400, '400: failing on purpose'),
                                          (401, 'api_key')])
def test_client_errors_are_not_retried(server, status, match):
  server.fail(1, status)
  model = client(server.base_url)
  with pytest.raises(openai_client.ServerResponseError, match=match) as raised:
    model.chat(chats(1))
  assert raised.value.status == status
  assert len(server.bodies('/v1/chat/completions')) == 1 and model.waits == []


# ------------------------------------------------------------------ clear errors


def test_a_dead_server_gives_one_clear_line_without_retrying():
  url = dead_url()
  model = client(url)
  with pytest.raises(openai_client.ServerUnreachableError) as raised:
    model.chat(chats(3))
  message = str(raised.value)
  assert '\n' not in message
  assert f'{url}/chat/completions' in message and 'connection refused' in message
  assert 'vllm serve HuggingFaceTB/SmolLM2-1.7B-Instruct --port 8000' in message
  assert model.waits == []


def test_the_command_against_a_dead_server_ends_with_one_error_line(tmp_path):
  from data_prep.pjf import corpus as pjf_corpus  # pylint: disable=g-import-not-at-top
  from helpers import run_cli  # pylint: disable=g-import-not-at-top
  from mockllm_tiny import tiny_corpus  # pylint: disable=g-import-not-at-top
  pjf_corpus.write_corpus(tiny_corpus(num_candidates=6, num_jobs=3), str(tmp_path / 'corpus'))
  url = dead_url()
  proc = run_cli('experiments.mockllm', '--backend=openai', f'--base_url={url}',
                 '--model=m', '--server=llamacpp', f'--corpus_dir={tmp_path / "corpus"}',
                 f'--workdir={tmp_path / "work"}', check=False)
  assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
  errors = [line for line in proc.stderr.splitlines() if 'error: ' in line]
  assert len(errors) == 1 and errors[0] == proc.stderr.strip().splitlines()[-1]
  last = errors[0][errors[0].index('error: '):]  # After a progress bar's carriage return.
  assert last.startswith(f'error: cannot reach {url}/chat/completions (connection refused)')
  assert 'llama-server -m model.gguf' in last and 'rerun the same command' in last


def test_an_unknown_model_names_it_and_lists_the_served_ones(server):
  with pytest.raises(openai_client.ModelNotServedError) as raised:
    client(server.base_url, model='SmolLM2-16B').chat(chats(1))
  message = str(raised.value)
  assert "'SmolLM2-16B'" in message and 'fake-model, other-model' in message
  assert '\n' not in message


def test_a_wrong_base_url_says_it_usually_ends_in_v1(server):
  with pytest.raises(openai_client.ServerResponseError, match='ends in /v1'):
    client(server.base_url[:-3] + '/api').chat(chats(1))


def test_a_timeout_is_named(server):
  server.delay_s = 2.0
  with pytest.raises(openai_client.ServerTimeoutError, match='timeout_s=0.2'):
    client(server.base_url, timeout_s=0.2).chat(chats(1))


def test_adaptive_limit_halves_once_per_cut_and_grows_back_after_a_run_of_answers():
  limit = openai_client.AdaptiveLimit(8)
  sent = [limit.acquire() for _ in range(8)]
  for s in sent[:3]:  # Three timeouts of requests sent before any cut: one cut.
    limit.release(s, answered=False, timed_out=True)
  for s in sent[3:]:  # Other failures neither cut nor grow.
    limit.release(s, answered=False)
  assert (limit.limit, limit.lowest, limit.in_flight) == (4, 4, 0)
  limit.release(limit.acquire(), answered=False, timed_out=True)  # Sent after the cut.
  assert limit.limit == 2
  for _ in range(2 + 3):  # Two answers in a row at limit 2 raise it to 3, three to 4.
    limit.release(limit.acquire(), answered=True)
  assert limit.limit == 4
  for _ in range(4 + 5 + 6 + 7 + 20):
    limit.release(limit.acquire(), answered=True)
  assert (limit.limit, limit.lowest, limit.in_flight) == (8, 2, 0)  # Never past the maximum.


def test_a_server_slower_than_the_concurrency_is_survived(server):
  """One slot, 50 ms an answer, 16 requests in flight and 0.3 s to answer: the queued
  ones time out until fewer are sent at once; every request is answered, in order."""
  server.one_at_a_time, server.delay_s = True, 0.05
  requests = chats(24)
  model = openai_client.OpenAIChatModel(server.base_url, 'fake-model', max_concurrency=16,
                                        timeout_s=0.3, backoff_s=0.05, max_retries=8)
  assert model.chat(requests) == [expected_reply(r) for r in requests]
  assert model.timeouts > 0 and model.concurrency.lowest < 16


def test_a_run_that_still_times_out_ends_with_one_line_saying_how_to_resume(server,
                                                                           tmp_path):
  with cache_lib.ResponseCache(tmp_path / 'cache.jsonl') as cache:
    model = client(server.base_url, cache=cache, max_concurrency=4, max_retries=1,
                   timeout_s=0.3)
    model.chat(chats(2))
    server.delay_s = 1.0
    with pytest.raises(openai_client.ServerTimeoutError) as raised:
      model.chat(chats(4))
  message = str(raised.value)
  assert '\n' not in message
  for part in ('did not answer within timeout_s=0.3 s (2 attempts, requests in flight '
               'lowered from 4 to', 'config.backend.max_concurrency', '2 answers received so far are kept',
               'cache.jsonl: rerun the same command to resume'):
    assert part in message, message


# ------------------------------------------------------------------ scores


def test_vllm_scores_from_the_echoed_prompt_logprobs(server):
  messages = (Message('user', 'Hire her?'),)
  model = client(server.base_url, server='vllm')
  [score] = model.score([ScoreRequest(messages, 'Yes, hire')])
  assert score == pytest.approx(sum(fake_llm_server.token_logprob(ord(c)) for c in 'Yes, hire'))
  [completion] = server.bodies('/v1/completions')
  context = [fake_llm_server.BOS] + [ord(c) for c in fake_llm_server.chat_template(
      [{'role': 'user', 'content': 'Hire her?'}])]
  assert completion['prompt'] == context + [ord(c) for c in 'Yes, hire']
  assert (completion['echo'], completion['logprobs'], completion['max_tokens']) == (True, 1, 1)


def test_chat_logprobs_score_a_one_token_continuation_on_llamacpp(server):
  messages = (Message('user', 'Hire her? Answer yes or no.'),)
  model = client(server.base_url, server='llamacpp')
  yes, no, unlisted = model.score([ScoreRequest(messages, c) for c in ('yes', 'no', 'perhaps')])
  assert yes == pytest.approx(math.log(math.exp(-0.5) + math.exp(-2.0)))  # 'yes' and ' yes'.
  assert no == pytest.approx(-1.5)
  assert unlisted is None and model.scores_without_logprobs == 1
  [body] = server.bodies('/v1/chat/completions')  # One request scores every continuation.
  assert (body['logprobs'], body['top_logprobs'], body['max_tokens']) == (True, 20, 1)


@pytest.mark.parametrize('server_kind', ['vllm', 'ollama'])
def test_a_server_without_logprobs_scores_none(server, server_kind):
  server.logprobs = False
  model = client(server.base_url, server=server_kind)
  assert model.score([ScoreRequest((Message('user', 'Hire?'),), 'yes')]) == [None]
  assert model.scores_without_logprobs == 1


# ------------------------------------------------------------------ cache


def test_a_finished_run_replays_identically_with_the_server_stopped(server, tmp_path):
  requests = chats(6)
  scores = [ScoreRequest(r.messages, 'yes') for r in requests[:2]]
  with cache_lib.ResponseCache(tmp_path / 'cache.jsonl') as cache:
    model = client(server.base_url, server='llamacpp', cache=cache)
    first = (model.chat(requests), model.score(scores))
  server.stop()
  with cache_lib.ResponseCache(tmp_path / 'cache.jsonl') as cache:
    replay = client(dead_url(), server='llamacpp', cache=cache)
    assert (replay.chat(requests), replay.score(scores)) == first
    assert cache.hits == 8 and cache.stored == 0


def test_a_killed_run_resumes_asking_only_the_missing_requests(server, tmp_path):
  path = tmp_path / 'cache.jsonl'
  requests = chats(6)
  with cache_lib.ResponseCache(path) as cache:
    first = client(server.base_url, cache=cache, max_concurrency=1).chat(requests)
  lines = path.read_text(encoding='utf-8').splitlines(keepends=True)
  # Killed while writing the fifth record: four whole lines and half of the fifth.
  path.write_text(''.join(lines[:4]) + lines[4][:len(lines[4]) // 2], encoding='utf-8')
  asked_before = len(server.bodies('/v1/chat/completions'))
  with cache_lib.ResponseCache(path) as cache:
    assert cache.dropped_partial_records == 1 and len(cache) == 4
    resumed = client(server.base_url, cache=cache).chat(requests)
  asked = server.bodies('/v1/chat/completions')[asked_before:]
  assert sorted(b['messages'][-1]['content'] for b in asked) == ['question 4', 'question 5']
  assert resumed == first
  records = [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines()]
  assert len(records) == 6  # The partial line is gone; the file reads cleanly again.


def test_identical_requests_are_asked_once_and_share_the_answer(server, tmp_path):
  with cache_lib.ResponseCache(tmp_path / 'cache.jsonl') as cache:
    answers = client(server.base_url, cache=cache).chat(chats(1) * 3)
  assert len(server.bodies('/v1/chat/completions')) == 1
  assert len(set(answers)) == 1


def test_a_corrupt_line_before_the_end_names_the_file_and_line(tmp_path):
  path = tmp_path / 'cache.jsonl'
  good = json.dumps({'key': 'a', 'kind': 'chat', 'response': 'hi'})
  path.write_text(f'{good}\nnot json\n{good}\n', encoding='utf-8')
  with pytest.raises(ConfigError, match=r'cache.jsonl:2: not a cache record'):
    cache_lib.ResponseCache(path)


def test_the_key_changes_with_every_field_that_decides_the_answer():
  request = chats(1)[0]
  key = cache_lib.request_key('vllm', 'm', 'chat', request)
  assert key == cache_lib.request_key('vllm', 'm', 'chat', chats(1)[0])
  others = [
      cache_lib.request_key('llamacpp', 'm', 'chat', request),
      cache_lib.request_key('vllm', 'm2', 'chat', request),
      cache_lib.request_key('vllm', 'm', 'chat', ChatRequest(
          request.messages, SamplingParams(**{**PAPER.__dict__, 'seed': 8}))),
      cache_lib.request_key('vllm', 'm', 'chat', ChatRequest(
          request.messages, SamplingParams(**{**PAPER.__dict__, 'repetition_penalty': 1.0}))),
      cache_lib.request_key('vllm', 'm', 'score', ScoreRequest(request.messages, 'yes')),
  ]
  assert len({key, *others}) == 6


class CountingModel:
  """An in-process LanguageModel (as the embedded JAX one is) that counts what it is asked."""

  name = 'counting'

  def __init__(self):
    self.calls: list[int] = []

  def chat(self, requests):
    self.calls.append(len(requests))
    return [r.messages[-1].content.upper() for r in requests]

  def score(self, requests):
    self.calls.append(len(requests))
    return [-float(len(r.continuation)) for r in requests]


def test_cached_model_wraps_any_backend_and_records_each_chunk(tmp_path):
  path = tmp_path / 'cache.jsonl'
  inner = CountingModel()
  with cache_lib.ResponseCache(path) as cache:
    model = cache_lib.CachedModel(inner, cache, chunk_size=2)
    first = model.chat(chats(5))
    assert inner.calls == [2, 2, 1]
    assert model.score([ScoreRequest(chats(1)[0].messages, 'no')]) == [-2.0]
  assert len(path.read_text(encoding='utf-8').splitlines()) == 6
  again = CountingModel()
  with cache_lib.ResponseCache(path) as cache:
    assert cache_lib.CachedModel(again, cache).chat(chats(5) + chats(6)[5:]) == first + [
        'QUESTION 5']
  assert again.calls == [1]


def test_retry_after_reads_seconds_and_http_dates():
  assert openai_client._retry_after_s('2.5') == 2.5
  assert openai_client._retry_after_s('Wed, 21 Oct 2015 07:28:00 GMT') == 0.0  # Past: now.
  assert openai_client._retry_after_s('soon') is None
  assert openai_client._retry_after_s(None) is None
