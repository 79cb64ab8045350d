r"""Measures the embedded language model on the mock-interview workload.

  python -m experiments.benchmark_llm --workload=mockllm [--interviews=32] [--gguf=PATH] \
      [--prefix_cache_mb=4096] [--llama_cpp_interviews=N] [--nollama_cpp]
  python -m experiments.benchmark_llm [--gguf=PATH] [--batches=1,8,32] \
      [--answer_tokens=60] [--repeats=3] [--weight_dtype=float32|bfloat16] \
      [--output=FILE.json] [--nollama_cpp]
  python -m experiments.benchmark_llm --workload=shared_prefix [--batches=32] \
      [--answer_tokens=60] [--repeats=3]

--workload=mockllm: N training pairs of the default person-job corpus interviewed (3
turns) and judged (4 judges) through the MockLLM loop, as `experiments.mockllm
--backend=jax` runs them; prints interviews per hour, prefill and decode tokens, the
prefix cache's hit rate, the compiled shapes and XLA compilations (0 on a second run:
the persistent compilation cache holds every program), the CPU and whether it has bf16
dot products. With llama-cpp-python[server] installed (an optional extra that builds
llama.cpp from source), the first N of the same pairs are then played by llama.cpp's
OpenAI-compatible server on the same GGUF and threads, started on 127.0.0.1 and stopped
after, and the ratio of interviews per hour is printed. Writes
benchmarks/results/llm_mockllm.json.

--workload=shared_prefix: rows that continue one ~460-token prefix (one recruiter's
interviews at the same point), decoded with the prefix read once per step for the batch
(shared-prefix attention) and with a copy in every row; prints the decode tokens/s of
each and their ratio. Writes benchmarks/results/llm_shared_prefix.json.

--workload=decode (the default):
A ~400-token interviewer prompt per row, ~60-token answers (stop tokens ignored, the
paper's sampling parameters). Prints prefill tokens/s, single-stream decode tokens/s and
aggregate decode tokens/s at each batch size, peak RSS; when llama-cpp-python is
installed (an optional extra: `pip install llama-cpp-python` builds llama.cpp from source),
llama.cpp's single-stream figures on the same GGUF and prompt, and the ratios.
Writes JSON (default benchmarks/results/llm.json).
"""

from __future__ import annotations

import importlib.util
import os

from absl import app
from absl import flags

from benchmarks import llm as llm_benchmark
from experiments import common

_GGUF = flags.DEFINE_string('gguf', None, 'A Llama-family .gguf file; default: the '
                            'embedded SmolLM2-135M-Instruct.')
_BATCHES = flags.DEFINE_list('batches', ['1', '8', '32'], 'Batch sizes to measure; the '
                             'first should be 1 (the single-stream reference).')
_ANSWER_TOKENS = flags.DEFINE_integer('answer_tokens', 60, 'Tokens generated per row.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed runs per batch size, and of '
                                 'llama.cpp (medians).')
_DTYPE = flags.DEFINE_enum('dtype', None, ['float32', 'bfloat16'], 'Activations and KV '
                           'cache; default: float32 on CPU, bfloat16 on accelerators.')
_WEIGHT_DTYPE = flags.DEFINE_enum('weight_dtype', None, ['float32', 'bfloat16'], 'Weights '
                                  'of the matrix products; default: bfloat16, float32 on a '
                                  'CPU without bfloat16 dot products.')
_DECODE_CHUNK = flags.DEFINE_integer('decode_chunk', 8, 'Decode steps per jitted call.')
_LLAMA_CPP = flags.DEFINE_bool('llama_cpp', True, 'Also measure llama.cpp side by side '
                               'when llama-cpp-python is installed.')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON file of the figures; default '
                              'benchmarks/results/llm.json (llm_mockllm.json).')
_WORKLOAD = flags.DEFINE_enum('workload', 'decode', ['decode', 'mockllm', 'shared_prefix'],
                              'decode: fixed-length answers per batch size; mockllm: '
                              'whole interviews through the MockLLM loop; shared_prefix: '
                              'rows continuing one prefix, decoded with it read once and '
                              'with it copied into every row.')
_INTERVIEWS = flags.DEFINE_integer('interviews', 32, '--workload=mockllm: interviews.')
_LLAMA_CPP_INTERVIEWS = flags.DEFINE_integer(
    'llama_cpp_interviews', 0, '--workload=mockllm: interviews llama.cpp\'s server plays, '
    'the first of the same pairs (0: all); it answers one request at a time, so a few '
    'give its rate.')
_PREFIX_CACHE_MB = flags.DEFINE_integer('prefix_cache_mb', 4096, 'Prefix cache budget '
                                        '(0: off).')


def mockllm_main():
  """--workload=mockllm."""
  import tempfile  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from data_prep.pjf import corpus as pjf_corpus  # pylint: disable=g-import-not-at-top
  from data_prep.pjf import synthetic as pjf_synthetic  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  # Every program goes to the persistent cache, however fast it compiled, so that a
  # second run compiles nothing.
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)
  corpus, _ = pjf_corpus.read_corpus(pjf_synthetic.ensure_default_corpus())
  pairs = corpus.split('train')[:_INTERVIEWS.value]
  model = engine.JaxLanguageModel(_GGUF.value, dtype=_DTYPE.value,
                                  weight_dtype=_WEIGHT_DTYPE.value,
                                  decode_chunk=_DECODE_CHUNK.value,
                                  prefix_cache_bytes=_PREFIX_CACHE_MB.value * 2 ** 20)
  with tempfile.TemporaryDirectory() as workdir:
    results = llm_benchmark.run_mockllm(model, corpus, pairs, workdir)
    if not _LLAMA_CPP.value:
      results['llama_cpp_error'] = '--nollama_cpp'
    elif importlib.util.find_spec('llama_cpp') is None:
      results['llama_cpp_error'] = ('llama-cpp-python[server] is not installed; the side by '
                                    'side run needs it')
    else:
      results['llama_cpp'] = llm_benchmark.run_mockllm_llamacpp(
          model.path, corpus, pairs[:_LLAMA_CPP_INTERVIEWS.value or len(pairs)], workdir,
          threads=os.cpu_count() or 1)
  return results


def shared_prefix_main():
  """--workload=shared_prefix."""
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  batch = max(int(b) for b in _BATCHES.value)
  model = engine.JaxLanguageModel(_GGUF.value, dtype=_DTYPE.value,
                                  weight_dtype=_WEIGHT_DTYPE.value, max_batch=batch,
                                  decode_chunk=_DECODE_CHUNK.value,
                                  prefix_cache_bytes=max(_PREFIX_CACHE_MB.value, 1) * 2 ** 20)
  results = llm_benchmark.run_shared_prefix(model, batch, _ANSWER_TOKENS.value,
                                            _REPEATS.value)
  print(llm_benchmark.format_shared_prefix(results), flush=True)
  print('wrote ' + common.write_results(
      _OUTPUT.value or os.path.join('benchmarks', 'results', 'llm_shared_prefix.json'),
      results))


def main():
  if _WORKLOAD.value == 'shared_prefix':
    shared_prefix_main()
    return
  if _WORKLOAD.value == 'mockllm':
    results = mockllm_main()
    print(llm_benchmark.format_mockllm(results), flush=True)
    print('wrote ' + common.write_results(
        _OUTPUT.value or os.path.join('benchmarks', 'results', 'llm_mockllm.json'), results))
    return
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  batches = [int(b) for b in _BATCHES.value]
  # No prefix cache: the timed rounds repeat the untimed run's prompts.
  model = engine.JaxLanguageModel(_GGUF.value, dtype=_DTYPE.value,
                                  weight_dtype=_WEIGHT_DTYPE.value, max_batch=max(batches),
                                  decode_chunk=_DECODE_CHUNK.value, prefix_cache_bytes=0)
  llama_cpp, error = None, None
  if _LLAMA_CPP.value:
    try:
      llama_cpp = llm_benchmark.LlamaCpp(model.path, model.tokenizer.stop_ids)
    except ImportError as e:
      error = f'llama-cpp-python is not installed ({e})'
  results = llm_benchmark.run(model, batches, _ANSWER_TOKENS.value, _REPEATS.value,
                              llama_cpp=llama_cpp)
  if error:
    results['llama_cpp_error'] = error
  print(llm_benchmark.format_table(results), flush=True)
  print('wrote ' + common.write_results(
      _OUTPUT.value or os.path.join('benchmarks', 'results', 'llm.json'), results))


if __name__ == '__main__':
  app.run(common.entry_point(main, extra_errors=(ValueError,)))
