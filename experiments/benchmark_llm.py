r"""Measures the embedded language model on the mock-interview workload.

  python -m experiments.benchmark_llm [--gguf=PATH] [--batches=1,8,32] \
      [--answer_tokens=60] [--repeats=3] [--weight_dtype=float32|bfloat16] \
      [--output=FILE.json] [--nollama_cpp]

A ~400-token interviewer prompt per row, ~60-token answers (stop tokens ignored, the
paper's sampling parameters). Prints prefill tokens/s, single-stream decode tokens/s and
aggregate decode tokens/s at each batch size, peak RSS; when llama-cpp-python is
installed (an optional extra: `pip install llama-cpp-python` builds llama.cpp from source),
llama.cpp's single-stream figures on the same GGUF and prompt, and the ratios.
Writes JSON (default benchmarks/results/llm.json).
"""

from __future__ import annotations

import json
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
_OUTPUT = flags.DEFINE_string('output', os.path.join('benchmarks', 'results', 'llm.json'),
                              'JSON file of the figures.')

# Compilation stays out of the timings (an untimed run first); no persistent cache needed.
flags.FLAGS.set_default('jax_cache_dir', '')


def main():
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  batches = [int(b) for b in _BATCHES.value]
  model = engine.JaxLanguageModel(_GGUF.value, dtype=_DTYPE.value,
                                  weight_dtype=_WEIGHT_DTYPE.value, max_batch=max(batches),
                                  decode_chunk=_DECODE_CHUNK.value)
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
  os.makedirs(os.path.dirname(os.path.abspath(_OUTPUT.value)), exist_ok=True)
  with open(_OUTPUT.value, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'wrote {_OUTPUT.value}')


if __name__ == '__main__':
  app.run(common.entry_point(main, extra_errors=(ValueError,)))
