"""Embedded-LLM speed behind `python -m experiments.benchmark_llm` (no flags here).

Two workloads. `run_mockllm`: whole MockLLM interviews (3 turns, 4 judges) through the
loop, as a user runs them: interviews per hour, tokens, prefix-cache hit rate and
compilations. `run` (below), the decode workload:

The mock-interview workload: a ~400-token interviewer prompt (job, candidate, the
interview so far) answered with fixed-length ~60-token turns (stop tokens ignored, so
every row decodes the same number of steps). `run` measures our engine and, with a
`LlamaCpp`, llama.cpp (llama-cpp-python) on the same GGUF and prompt; `format_table`
prints both. Each configuration runs once untimed (compilation, warm caches), then the
timed runs alternate between configurations.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import statistics
import time
from typing import Any, Sequence

from hirenet_jax.llm.api import Message
from hirenet_jax.llm.api import SamplingParams

# The MockLLM paper's sampling parameters.
PAPER_SAMPLING = dict(temperature=0.9, top_p=0.6, repetition_penalty=1.1)

_JOBS = ('backend software engineer', 'data analyst', 'sales manager', 'nurse',
         'mechanical engineer', 'product designer', 'accountant', 'teacher')
_NAMES = ('Alex Martin', 'Sam Lee', 'Maria Garcia', 'Yuki Tanaka', 'Omar Haddad',
          'Priya Sharma', 'Lukas Weber', 'Chloe Dubois')
_TURNS = (
    ('Could you introduce yourself and tell me why you applied for this role?',
     'Sure. I have spent the last five years working in a mid-sized company where I '
     'started as a junior and took on more responsibility every year. I applied because '
     'your team works on problems I care about and I want to grow in that direction.'),
    ('Tell me about a difficult project and how you handled it.',
     'Last year we had a deadline moved forward by a month. I split the work into smaller '
     'pieces, talked with every stakeholder about what could wait, and we shipped the core '
     'on time. The rest followed two weeks later without surprises.'),
    ('How do you handle disagreements with colleagues?',
     'I try to understand their reasons first, then I write down the options with their '
     'costs. Most disagreements disappear once everyone sees the same trade-offs, and '
     'when they do not, I ask our manager to decide and I commit to the decision.'),
    ('What would you like to learn in the next two years?',
     'I would like to get better at planning larger pieces of work and at mentoring. I '
     'have started reading about estimation and I run a weekly session for new hires.'),
    ('What are you looking for in your next team?',
     'People who explain their decisions and review each other\'s work kindly. I like '
     'short planning meetings and clear owners for every task.'),
)


def interview_messages(index: int) -> tuple[Message, ...]:
  """Interview `index`: a system prompt, five answered questions, the next answer due.

  Rows differ in job and candidate, so no two prompts in a batch are the same.
  """
  job, name = _JOBS[index % len(_JOBS)], _NAMES[(index // len(_JOBS)) % len(_NAMES)]
  system = (f'You are an experienced recruiter interviewing {name} for a {job} position. '
            'Ask one clear question at a time about the candidate\'s experience, skills '
            'and motivation, follow up on vague answers, stay polite and professional, '
            'and keep each question under three sentences. At the end you will judge '
            'whether the candidate fits the job description.')
  messages = [Message('system', system)]
  for question, answer in _TURNS:
    messages += [Message('assistant', question), Message('user', answer)]
  messages[-1] = Message('user', messages[-1].content + f' (interview {index})')
  return tuple(messages)


def shared_prefix_messages(index: int) -> tuple[Message, ...]:
  """One recruiter's interviews at the same point: the system prompt and five answered
  questions are the same for every `index`, only the last answer differs."""
  messages = list(interview_messages(0))
  name = _NAMES[index % len(_NAMES)]
  messages.append(Message('assistant', 'Thank you. Anything else you would like to add?'))
  messages.append(Message('user', f'Only that {name} can start next month (interview '
                                  f'{index}).'))
  return tuple(messages)


def run_shared_prefix(model, batch: int = 32, answer_tokens: int = 60,
                      repeats: int = 3) -> dict[str, Any]:
  """Rows that continue one long prefix, decoded with the prefix read once per step for
  the batch (shared-prefix attention) and with a copy of it in every row: decode tokens/s
  of each, timed alternately after an untimed run of each (the prefix cache then holds
  every prompt's blocks, so the prefills are alike)."""
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  prompts = [model.chat_ids(shared_prefix_messages(i)) for i in range(batch)]
  common = len(os.path.commonprefix(prompts))
  runs: dict[bool, list] = {True: [], False: []}
  before = model.shared_prefix
  try:
    for timed in [False] + [True] * repeats:
      for shared in (True, False):
        model.shared_prefix = shared
        stats = _generate(model, prompts, answer_tokens, seed=0)
        if timed:
          runs[shared].append(stats)
  finally:
    model.shared_prefix = before
  out = {'workload': 'shared_prefix', 'model': model.name, 'cpu': cpu_model(),
         'bf16_dot': engine.cpu_has_bf16_dot(), 'cpu_count': os.cpu_count(),
         'batch': batch, 'prompt_tokens': statistics.mean(len(p) for p in prompts),
         'common_prefix_tokens': common, 'answer_tokens': answer_tokens}
  for shared, name in ((True, 'shared'), (False, 'copied')):
    m = _measurement(batch, prompts, runs[shared])
    out[name] = {'decode_tokens_per_s': m.decode_tokens_per_s,
                 'decode_seconds': m.decode_seconds, 'prefill_seconds': m.prefill_seconds}
  out['decode_speedup'] = (out['shared']['decode_tokens_per_s']
                           / out['copied']['decode_tokens_per_s'])
  return out


def format_shared_prefix(result: dict[str, Any]) -> str:
  bf16 = 'with' if result['bf16_dot'] else 'without'
  return (f"{result['model']}; {result['cpu']} ({bf16} bf16 dot products), "
          f"{result['cpu_count']} CPUs\n"
          f"{result['batch']} rows of {result['prompt_tokens']:.0f} prompt tokens, "
          f"{result['common_prefix_tokens']} of them the same in every row; "
          f"{result['answer_tokens']} tokens decoded per row\n"
          f"decode, shared prefix read once: {result['shared']['decode_tokens_per_s']:.1f} "
          f"tok/s; copied into every row: {result['copied']['decode_tokens_per_s']:.1f} "
          f"tok/s ({result['decode_speedup']:.2f}x)")


def peak_rss_bytes() -> int:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclasses.dataclass
class Measurement:
  batch: int
  prompt_tokens: float  # Mean per row.
  prefill_seconds: float
  decode_steps: int
  decode_seconds: float

  @property
  def prefill_tokens_per_s(self) -> float:
    return self.batch * self.prompt_tokens / self.prefill_seconds

  @property
  def decode_tokens_per_s(self) -> float:
    """Tokens generated after the prefill's first one, by all rows, per second."""
    return self.batch * self.decode_steps / self.decode_seconds


def _generate(model, prompts, answer_tokens: int, seed: int):
  params = [SamplingParams(max_new_tokens=answer_tokens, seed=seed + i, **PAPER_SAMPLING)
            for i in range(len(prompts))]
  _, stats = model.generate_tokens(prompts, params, ignore_stop=True)
  return stats


def _measurement(batch: int, prompts, runs) -> Measurement:
  return Measurement(
      batch=batch, prompt_tokens=statistics.mean(len(p) for p in prompts),
      prefill_seconds=statistics.median(s.prefill_seconds for s in runs),
      decode_steps=runs[0].decode_steps,
      decode_seconds=statistics.median(s.decode_seconds for s in runs))


class LlamaCpp:
  """llama.cpp (llama-cpp-python) single-stream on a GGUF file, timed like our engine.

  Raises ImportError when llama-cpp-python is not installed. Stop tokens are biased away
  so that it decodes a fixed number of tokens like our runs.
  """

  def __init__(self, gguf_path: str, stop_ids: Sequence[int], threads: int | None = None):
    import llama_cpp  # pylint: disable=g-import-not-at-top
    self.version = getattr(llama_cpp, '__version__', '?')
    self.threads = threads or os.cpu_count()
    self._llm = llama_cpp.Llama(model_path=gguf_path, n_ctx=1024, n_batch=512,
                                n_threads=self.threads, n_threads_batch=self.threads,
                                verbose=False, seed=0)
    self._bias = {int(i): -100.0 for i in stop_ids}

  def _complete(self, prompt, max_tokens):
    self._llm.reset()  # Otherwise the previous call's prompt is reused from its cache.
    start = time.perf_counter()
    out = self._llm.create_completion(
        prompt=list(prompt), max_tokens=max_tokens, logit_bias=self._bias,
        temperature=PAPER_SAMPLING['temperature'], top_p=PAPER_SAMPLING['top_p'],
        repeat_penalty=PAPER_SAMPLING['repetition_penalty'])
    return time.perf_counter() - start, out['usage']['completion_tokens']

  def measure(self, prompt: Sequence[int], answer_tokens: int) -> tuple[float, float]:
    """(prefill tokens/s, decode tokens/s) of one prompt: a 1-token completion times the
    prefill, an `answer_tokens` one the rest."""
    prefill, _ = self._complete(prompt, 1)
    total, generated = self._complete(prompt, answer_tokens)
    return len(prompt) / prefill, (generated - 1) / max(total - prefill, 1e-9)


def run(model, batches: Sequence[int] = (1, 8, 32), answer_tokens: int = 60,
        repeats: int = 1, llama_cpp: LlamaCpp | None = None) -> dict[str, Any]:
  """Prefill and decode speed of `model` (a JaxLanguageModel) at each batch size, and of
  `llama_cpp` on the first row's prompt when given.

  After an untimed run of each configuration, the timed runs go in rounds (every batch
  size, then llama.cpp, `repeats` times) and each figure is the median of its runs, so
  that the ratios compare runs made under the same load.
  """
  import jax  # pylint: disable=g-import-not-at-top
  prompts = {b: [model.chat_ids(interview_messages(i)) for i in range(b)] for b in batches}
  for b in batches:
    _generate(model, prompts[b], answer_tokens, seed=0)
  cpp_prompt = prompts[batches[0]][0]
  if llama_cpp is not None:
    llama_cpp.measure(cpp_prompt, answer_tokens)
  runs = {b: [] for b in batches}
  cpp_runs = []
  for r in range(repeats):
    for b in batches:
      runs[b].append(_generate(model, prompts[b], answer_tokens, seed=1 + r))
    if llama_cpp is not None:
      cpp_runs.append(llama_cpp.measure(cpp_prompt, answer_tokens))
  rows = [_measurement(b, prompts[b], runs[b]) for b in batches]
  single = rows[0].decode_tokens_per_s if rows[0].batch == 1 else None
  result = {
      'model': model.name, 'dtype': str(model.dtype),
      'weight_dtype': str(model.weight_dtype), 'backend': jax.default_backend(),
      'devices': model.num_devices, 'cpu_count': os.cpu_count(),
      'answer_tokens': answer_tokens, 'repeats': repeats,
      'prompt_tokens': rows[0].prompt_tokens,
      'prefill_tokens_per_s': rows[0].prefill_tokens_per_s,
      'single_stream_decode_tokens_per_s': single,
      'batches': [dict(dataclasses.asdict(r), prefill_tokens_per_s=r.prefill_tokens_per_s,
                       decode_tokens_per_s=r.decode_tokens_per_s,
                       vs_single_stream=(r.decode_tokens_per_s / single) if single else None)
                  for r in rows],
      'peak_rss_bytes': peak_rss_bytes(),
  }
  if llama_cpp is not None:
    result['llama_cpp'] = {
        'version': llama_cpp.version, 'threads': llama_cpp.threads,
        'prompt_tokens': len(cpp_prompt), 'repeats': repeats,
        'prefill_tokens_per_s': statistics.median(p for p, _ in cpp_runs),
        'single_stream_decode_tokens_per_s': statistics.median(d for _, d in cpp_runs),
        'decode_tokens_per_s_runs': [d for _, d in cpp_runs]}
  for row, b in zip(result['batches'], batches):
    row['decode_tokens_per_s_runs'] = [_measurement(b, prompts[b], [s]).decode_tokens_per_s
                                       for s in runs[b]]
    if single:
      row['vs_single_stream_runs'] = [  # Each round's batch against that round's batch 1.
          x / y for x, y in zip(row['decode_tokens_per_s_runs'],
                                result['batches'][0]['decode_tokens_per_s_runs'])]
  return result


def format_table(result: dict[str, Any]) -> str:
  """Our figures per batch size, then llama.cpp's and the ratios when measured."""
  lines = [f'{result["model"]}; {result["backend"]}, '
           f'{result["devices"]} device(s), {result["cpu_count"]} CPUs; prompt '
           f'{result["prompt_tokens"]:.0f} tokens, answers {result["answer_tokens"]} tokens',
           f'{"batch":>5} {"prefill tok/s":>13} {"decode tok/s":>12} {"x single":>8}']
  for r in result['batches']:
    ratio = '' if r['vs_single_stream'] is None else f'{r["vs_single_stream"]:.1f}x'
    lines.append(f'{r["batch"]:>5} {r["prefill_tokens_per_s"]:>13.1f} '
                 f'{r["decode_tokens_per_s"]:>12.1f} {ratio:>8}')
  last = result['batches'][-1]
  if len(last.get('vs_single_stream_runs', ())) > 1:
    lines.append(f'batch {last["batch"]} / single stream in each round: ' + ', '.join(
        f'{x:.1f}x' for x in last['vs_single_stream_runs']))
  lines.append(f'peak RSS {result["peak_rss_bytes"] / 2**30:.2f} GiB')
  cpp = result.get('llama_cpp')
  if cpp:
    ours = result['single_stream_decode_tokens_per_s']
    best = max(r['decode_tokens_per_s'] for r in result['batches'])
    theirs = cpp['single_stream_decode_tokens_per_s']
    lines += [f'llama.cpp {cpp["version"]} ({cpp["threads"]} threads): prefill '
              f'{cpp["prefill_tokens_per_s"]:.1f} tok/s, single-stream decode '
              f'{theirs:.1f} tok/s',
              f'ours / llama.cpp: single stream {ours / theirs:.2f}x, best batch '
              f'{best / theirs:.2f}x']
  elif 'llama_cpp_error' in result:
    lines.append(f'llama.cpp: not measured ({result["llama_cpp_error"]})')
  return '\n'.join(lines)


# ----------------------------------------------------------------- the MockLLM workload


def cpu_model() -> str:
  """The CPU's name from /proc/cpuinfo ('unknown' elsewhere)."""
  try:
    with open('/proc/cpuinfo', encoding='utf-8') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return 'unknown'


def run_mockllm(model, corpus, pairs, workdir: str, num_turns: int = 3) -> dict[str, Any]:
  """`pairs` interviewed (`num_turns` questions) and judged (four judges) through the
  MockLLM loop on `model` (a JaxLanguageModel) in a fresh `workdir`: wall time, tokens,
  the prefix cache's hit rate and the compilations, in one dict. Compilation is part of
  the wall time, as a user's first run sees it; `compile_seconds` says how much."""
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import loop  # pylint: disable=g-import-not-at-top
  before = model.stats()
  runner = loop.MockInterviewer(model, corpus, loop.LoopConfig(num_turns=num_turns),
                                workdir)
  start = time.perf_counter()
  interviews = runner.run(pairs, learn=True)
  seconds = time.perf_counter() - start
  after = model.stats()
  totals = {k: after['totals'][k] - before['totals'][k] for k in after['totals']}
  cache = after.get('prefix_cache') or {}
  return {
      'workload': 'mockllm', 'model': model.name, 'cpu': cpu_model(),
      'bf16_dot': engine.cpu_has_bf16_dot(), 'cpu_count': os.cpu_count(),
      'devices': model.num_devices, 'interviews': len(interviews), 'turns': num_turns,
      'seconds': seconds, 'interviews_per_hour': len(interviews) / seconds * 3600,
      'interviews_per_hour_compiled': len(interviews) / max(
          seconds - (after['compile_seconds'] - before['compile_seconds']), 1e-9) * 3600,
      'prompt_tokens': totals['prompt_tokens'],
      'prefill_tokens': totals['prompt_tokens'] - totals['reused_tokens'],
      'reused_tokens': totals['reused_tokens'],
      'decode_tokens': totals['generated_tokens'],
      'prefill_columns': totals['padded_tokens'],
      'prefill_seconds': totals['prefill_seconds'],
      'decode_seconds': totals['decode_seconds'],
      'decode_steps': totals['decode_steps'],
      'decode_compactions': totals['compactions'],
      'prefix_cache_hit_rate': (totals['reused_tokens'] / totals['prompt_tokens']
                                if totals['prompt_tokens'] else 0.0),
      'prefix_cache': cache,
      'shapes': after['shapes'],
      'compiled': after['compiled'] - before['compiled'],
      'compiled_loaded': after['compiled_loaded'] - before['compiled_loaded'],
      'compile_seconds': after['compile_seconds'] - before['compile_seconds'],
      'peak_rss_bytes': peak_rss_bytes(),
  }


def _free_port() -> int:
  import socket  # pylint: disable=g-import-not-at-top
  with socket.socket() as sock:
    sock.bind(('127.0.0.1', 0))
    return sock.getsockname()[1]


def run_mockllm_llamacpp(gguf_path: str, corpus, pairs, workdir: str, threads: int,
                         num_turns: int = 3, ready_timeout_s: float = 300) -> dict[str, Any]:
  """The same pairs through the same loop, played by llama.cpp's OpenAI-compatible server
  (`llama_cpp.server` of the optional llama-cpp-python[server]) on the same GGUF, started
  here on 127.0.0.1 with `threads` threads and stopped after: interviews per hour, the
  peer's figure beside ours. Its judges are scored from the chat endpoint's top
  log-probabilities (llm/openai_client.py), one request at a time."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  import urllib.request  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.openai_client import OpenAIChatModel  # pylint: disable=g-import-not-at-top
  from hirenet_jax.mockllm import loop  # pylint: disable=g-import-not-at-top
  port = _free_port()
  log_path = os.path.join(workdir, 'llama_cpp_server.log')
  with open(log_path, 'w', encoding='utf-8') as log:
    server = subprocess.Popen(
        [sys.executable, '-m', 'llama_cpp.server', '--model', gguf_path, '--host',
         '127.0.0.1', '--port', str(port), '--n_threads', str(threads), '--n_ctx', '4096',
         '--model_alias', 'model'], stdout=log, stderr=subprocess.STDOUT)
  try:
    deadline = time.monotonic() + ready_timeout_s
    while True:
      try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/v1/models', timeout=5):
          break
      except OSError as e:
        if server.poll() is not None or time.monotonic() > deadline:
          raise RuntimeError(f'the llama.cpp server did not start ({e}); see {log_path}'
                             ) from e
        time.sleep(1)
    model = OpenAIChatModel(f'http://127.0.0.1:{port}/v1', 'model', server='llamacpp',
                            max_concurrency=1, timeout_s=600)
    runner = loop.MockInterviewer(model, corpus, loop.LoopConfig(num_turns=num_turns),
                                  os.path.join(workdir, 'llama_cpp'))
    start = time.perf_counter()
    interviews = runner.run(pairs, learn=True)
    seconds = time.perf_counter() - start
  finally:
    server.terminate()
    try:
      server.wait(timeout=30)
    except subprocess.TimeoutExpired:
      server.kill()
  import llama_cpp  # pylint: disable=g-import-not-at-top
  return {'version': llama_cpp.__version__, 'threads': threads,
          'interviews': len(interviews), 'seconds': seconds,
          'interviews_per_hour': len(interviews) / seconds * 3600,
          'scores_without_logprobs': model.scores_without_logprobs}


def format_mockllm(result: dict[str, Any]) -> str:
  """The MockLLM workload's figures, the CPU named beside them."""
  cpu = (f'{result["cpu"]} ({"with" if result["bf16_dot"] else "without"} bf16 dot '
         f'products), {result["cpu_count"]} CPUs, {result["devices"]} device(s)')
  lines = [
      f'{result["model"]}; {cpu}',
      f'{result["interviews"]} interviews ({result["turns"]} turns, 4 judges) in '
      f'{result["seconds"]:.1f} s: {result["interviews_per_hour"]:.0f} interviews/hour '
      f'({result["compile_seconds"]:.1f} s of it compiling; '
      f'{result["interviews_per_hour_compiled"]:.0f} an hour once compiled)',
      f'prefill: {result["prefill_tokens"]} tokens computed of {result["prompt_tokens"]} '
      f'prompt tokens, {result.get("prefill_columns", 0)} with the padding of the '
      f'windows ({result["prefill_seconds"]:.1f} s of generation prefill); '
      f'decode: {result["decode_tokens"]} tokens ({result["decode_seconds"]:.1f} s, '
      f'{result.get("decode_compactions", 0)} batches cut to their live rows)',
      f'prefix-cache hit rate: {100 * result["prefix_cache_hit_rate"]:.1f}% of prompt '
      'tokens' + (f' ({result["prefix_cache"].get("blocks", 0)} blocks, '
                  f'{result["prefix_cache"].get("bytes", 0) / 2**20:.0f} MiB, '
                  f'{result["prefix_cache"].get("evicted_blocks", 0)} evicted)'
                  if result['prefix_cache'] else ' (cache off)'),
      f'compiled shapes: {result["shapes"]}; XLA compilations this run: '
      f'{result["compiled"]} (read from the persistent cache: {result["compiled_loaded"]})',
      f'peak RSS {result["peak_rss_bytes"] / 2**30:.2f} GiB']
  cpp = result.get('llama_cpp')
  if cpp:
    lines.append(
        f'llama.cpp server {cpp["version"]} ({cpp["threads"]} threads, one request at a '
        f'time) on the same pairs: {cpp["interviews"]} interviews in {cpp["seconds"]:.1f} '
        f's, {cpp["interviews_per_hour"]:.0f} interviews/hour; ours / llama.cpp: '
        f'{result["interviews_per_hour"] / cpp["interviews_per_hour"]:.2f}x')
  elif result.get('llama_cpp_error'):
    lines.append(f'llama.cpp server: not measured ({result["llama_cpp_error"]})')
  return '\n'.join(lines)
