"""The MockLLM loop: mock interviews (eq 1-4), two-sided evaluation (eq 5-10), the
handshake (eq 11) and reflection memory (eq 12-17), for many pairs at once.

Pairs are processed in chunks: every interview of a chunk advances one turn per backend
call (a list of requests the backend batches or runs concurrently), then the chunk is
judged, and on the training pairs its matches are reflected on and stored in the memory
of each of the two parties, so the next chunk's prompts carry the refined strategies and
cases retrieved from their owner's memory. Validation and test pairs see the memory
frozen. After each chunk the interviews are appended to
`interviews.jsonl` and the memory is saved with the number of pairs it has seen, so a
killed run resumes from the last whole chunk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from typing import Callable, Sequence

from hirenet_jax.core import run_log
from hirenet_jax.core.errors import ConfigError
from hirenet_jax.llm.api import ChatRequest
from hirenet_jax.llm.api import LanguageModel
from hirenet_jax.llm.api import SamplingParams
from hirenet_jax.llm.api import ScoreRequest
from hirenet_jax.mockllm import decisions
from hirenet_jax.mockllm import prompts
from hirenet_jax.mockllm.memory import ReflectionMemory
from hirenet_jax.mockllm.memory import StoredCase
from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import Turn

INTERVIEWS_FILE = 'interviews.jsonl'
MEMORY_DIR = 'memory'
PROGRESS_FILE = 'progress.json'
SCORE_KEYS = ('s_r', 's_q', 's_j', 's_a')
RETRIEVALS = ('tfidf', 'llm')


@dataclasses.dataclass(frozen=True)
class LoopConfig:
  """What one generation run does; the ablations of Table 2 are settings of it."""
  num_turns: int = 3            # questions per interview (the paper averages 3.19).
  num_cases: int = 1            # k retrieved cases per prompt (Figure 5: 0..3).
  retrieval: str = 'tfidf'      # tfidf: cosine to the owner's cases; llm: the model picks.
  reflection: bool = True       # False: w/o RP (no reflection, no memory).
  strategy_updates: bool = True  # False: w/o SU (cases stored, strategies stay m_0).
  chunk_size: int = 32          # interviews in flight per backend call.
  seed: int = 0
  dialogue: SamplingParams = SamplingParams(max_new_tokens=64, stop=('\n\n',))
  reflection_params: SamplingParams = SamplingParams(max_new_tokens=80)

  def __post_init__(self):
    if self.retrieval not in RETRIEVALS:
      raise ConfigError(f'retrieval must be one of {", ".join(RETRIEVALS)}, got '
                        f'{self.retrieval!r}')
    if self.retrieval == 'llm' and self.num_cases > prompts.MAX_CHOICES:
      raise ConfigError(f'retrieval=llm chooses at most {prompts.MAX_CHOICES} cases')


@dataclasses.dataclass
class Interview:
  """One pair's mock interview, the prompts' context and the four judges' scores."""
  candidate_id: str
  job_id: str
  split: str
  dialogue: list[Turn]
  interviewer_strategy: str
  candidate_strategy: str
  interviewer_cases: list[str]   # pairs of the retrieved cases, in prompt order.
  candidate_cases: list[str]
  scores: dict[str, float]
  provisional_match: int = 0     # decisions.provisional_handshake (training pairs only).
  unparsed_judgements: int = 0
  model: str = ''                # the backend and model that played both roles.

  def to_json(self) -> dict:
    d = dataclasses.asdict(self)
    d['dialogue'] = [{'question': t.question, 'answer': t.answer} for t in self.dialogue]
    return d

  @classmethod
  def from_json(cls, d: dict) -> 'Interview':
    d = dict(d)
    d['dialogue'] = [Turn(t['question'], t['answer']) for t in d['dialogue']]
    return cls(**d)


def pair_key(pair: Pair) -> str:
  return f'{pair.candidate_id}|{pair.job_id}'


def _seed(*parts) -> int:
  """A request's sampling seed from what identifies it, stable across runs and chunks."""
  digest = hashlib.sha256('|'.join(map(str, parts)).encode()).digest()
  return int.from_bytes(digest[:4], 'little')


def judge(model: LanguageModel, chats: Sequence[tuple]) -> tuple[list[float], set[int]]:
  """P(yes) of each judgement prompt, and the indices of replies that could not be read.

  With log-probabilities, P(yes) = p(Yes) / (p(Yes) + p(No)); a backend without them is
  asked to reply and the reply is parsed (Yes/No or a 0-10 rating); a reply that says
  neither scores 0.5 and is counted.
  """
  requests = [ScoreRequest(m, w) for m in chats for w in (prompts.YES, prompts.NO)]
  logps = model.score(requests) if requests else []
  scores, missing = [], []
  for i in range(len(chats)):
    yes, no = logps[2 * i], logps[2 * i + 1]
    if yes is None or no is None:
      scores.append(None)
      missing.append(i)
    else:
      top = max(yes, no)
      scores.append(math.exp(yes - top) / (math.exp(yes - top) + math.exp(no - top)))
  unparsed = set()
  if missing:
    params = SamplingParams(max_new_tokens=8, temperature=0.0)
    replies = model.chat([ChatRequest(chats[i], params) for i in missing])
    for i, reply in zip(missing, replies):
      value = prompts.parse_judgement(reply)
      if value is None:
        unparsed.add(i)
        value = 0.5
      scores[i] = value
  return scores, unparsed


def choose_cases(model: LanguageModel, side: str, jobs: Sequence[str],
                 resumes: Sequence[str], pools: Sequence[Sequence[StoredCase]],
                 k: int) -> list[list[StoredCase]]:
  """retrieval='llm': the k cases of each owner's pool that the model picks as most
  similar to the new interview (prompts.choose_case).

  A pool is the owner's cases in TF-IDF order, at most prompts.MAX_CHOICES; one of at
  most k cases is taken whole without asking. Each case's number is scored as the
  answer's first token and the k likeliest kept (ties to TF-IDF order); a backend
  without log-probabilities is asked to list the numbers instead, and the cases its reply
  does not name follow in TF-IDF order.
  """
  out = [list(pool[:k]) for pool in pools]
  asked = [n for n, pool in enumerate(pools) if len(pool) > k]
  if not asked:
    return out
  chats = {n: prompts.choose_case(side, jobs[n], resumes[n],
                                  [c.case.document for c in pools[n]]) for n in asked}
  logps = model.score([ScoreRequest(chats[n], str(i + 1))
                       for n in asked for i in range(len(pools[n]))])
  missing, start = [], 0
  for n in asked:
    values = logps[start:start + len(pools[n])]
    start += len(pools[n])
    if any(v is None for v in values):
      missing.append(n)
      continue
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))
    out[n] = [pools[n][i] for i in order[:k]]
  if missing:
    params = SamplingParams(max_new_tokens=24, temperature=0.0)
    replies = model.chat([ChatRequest(chats[n], params) for n in missing])
    for n, reply in zip(missing, replies):
      named = prompts.parse_case_numbers(reply, len(pools[n]))
      order = named + [i for i in range(len(pools[n])) if i not in named]
      out[n] = [pools[n][i] for i in order[:k]]
  return out


class MockInterviewer:
  """Runs the loop over a corpus's pairs with one backend and one configuration."""

  def __init__(self, model: LanguageModel, corpus: Corpus, config: LoopConfig,
               workdir: str):
    self.model, self.corpus, self.config, self.workdir = model, corpus, config, workdir
    self.memories = {
        'interviewer': ReflectionMemory('interviewer', prompts.INITIAL_QUESTIONING),
        'candidate': ReflectionMemory('candidate', prompts.INITIAL_ANSWERING)}
    self.interviews: list[Interview] = []
    # Seconds spent in this directory's chunks, summed over resumes (a replay from the
    # response cache counts its own, shorter, time).
    self.seconds = 0.0
    self._resume()

  # ---------------------------------------------------------------- persistence

  def _resume(self) -> None:
    """Reloads the memory and the interviews of the last whole chunk."""
    path = os.path.join(self.workdir, PROGRESS_FILE)
    if not os.path.exists(path):
      return
    with open(path, encoding='utf-8') as f:
      saved = json.load(f)
    done, self.seconds = saved['num_interviews'], float(saved.get('seconds', 0.0))
    for side in self.memories:
      loaded = ReflectionMemory.load(os.path.join(self.workdir, MEMORY_DIR), side)
      if loaded is not None:
        self.memories[side] = loaded
    with open(os.path.join(self.workdir, INTERVIEWS_FILE), encoding='utf-8') as f:
      lines = [line for line in f if line.strip()]
    # Lines past the saved progress come from a chunk whose memory was not saved.
    self.interviews = [Interview.from_json(json.loads(line)) for line in lines[:done]]
    if len(lines) != done:
      self._rewrite_interviews()
    logging.info('Resuming after %d interviews.', done)

  def _rewrite_interviews(self) -> None:
    run_log.write_jsonl(os.path.join(self.workdir, INTERVIEWS_FILE),
                        (interview.to_json() for interview in self.interviews))

  def _save_chunk(self, chunk: list[Interview]) -> None:
    os.makedirs(self.workdir, exist_ok=True)
    with open(os.path.join(self.workdir, INTERVIEWS_FILE), 'a', encoding='utf-8') as f:
      for interview in chunk:
        f.write(json.dumps(interview.to_json(), ensure_ascii=False) + '\n')
    for memory in self.memories.values():
      memory.save(os.path.join(self.workdir, MEMORY_DIR))
    run_log.write_json(os.path.join(self.workdir, PROGRESS_FILE),
                       {'num_interviews': len(self.interviews),
                        'seconds': self.seconds}, indent=None, sort_keys=False)

  # ---------------------------------------------------------------- the loop

  def run(self, pairs: Sequence[Pair], *, learn: bool,
          progress: Callable[[int], None] | None = None) -> list[Interview]:
    """Interviews and judges `pairs` (skipping those already done); `learn` lets matches
    write the memory (training pairs), otherwise the memory is frozen first."""
    done = {(i.candidate_id, i.job_id) for i in self.interviews}
    todo = [p for p in pairs if (p.candidate_id, p.job_id) not in done]
    if not learn:
      for memory in self.memories.values():
        memory.freeze()
    if progress:
      progress(len(pairs) - len(todo))
    size = self.config.chunk_size
    self._steps = StepProgress(self.model, -(-len(todo) // size) * (
        2 * self.config.num_turns + 1 + (learn and self.config.reflection)))
    for start in range(0, len(todo), size):
      before, began = _engine_counts(self.model), time.perf_counter()
      chunk = self._chunk(todo[start:start + size], learn)
      seconds = time.perf_counter() - began
      self.interviews.extend(chunk)
      self.seconds += seconds
      self._save_chunk(chunk)
      _log_chunk(len(chunk), len(self.interviews), seconds, before, _engine_counts(self.model))
      if progress:
        progress(len(chunk))
    self._steps.close()
    wanted = {(p.candidate_id, p.job_id) for p in pairs}
    return [i for i in self.interviews if (i.candidate_id, i.job_id) in wanted]

  def _chunk(self, pairs: Sequence[Pair], learn: bool) -> list[Interview]:
    cfg, corpus = self.config, self.corpus
    jobs = [corpus.jobs[p.job_id].description for p in pairs]
    resumes = [corpus.resumes[p.candidate_id].text for p in pairs]
    use_memory = cfg.reflection
    k = cfg.num_cases if use_memory else 0
    interviewer, candidate = self.memories['interviewer'], self.memories['candidate']
    i_strategy = [interviewer.strategy(p.job_id) for p in pairs]
    c_strategy = [candidate.strategy(p.candidate_id) for p in pairs]
    # Each party retrieves from its own memory: the interviewer (the job) by the new
    # resume, the candidate by the new job description (eq 16-17).
    pool = k if cfg.retrieval == 'tfidf' else max(k, prompts.MAX_CHOICES)
    i_stored = [interviewer.retrieve(p.job_id, r, pool) for p, r in zip(pairs, resumes)]
    c_stored = [candidate.retrieve(p.candidate_id, j, pool) for p, j in zip(pairs, jobs)]
    if cfg.retrieval == 'llm' and k > 0:
      i_stored = choose_cases(self.model, 'interviewer', jobs, resumes, i_stored, k)
      c_stored = choose_cases(self.model, 'candidate', jobs, resumes, c_stored, k)
    i_cases = [[c.case for c in found] for found in i_stored]
    c_cases = [[c.case for c in found] for found in c_stored]
    dialogues: list[list[Turn]] = [[] for _ in pairs]
    for turn in range(cfg.num_turns):
      asks = [ChatRequest(prompts.ask_question(j, r, d, s, c), dataclasses.replace(
          cfg.dialogue, seed=_seed(cfg.seed, pair_key(p), turn, 'q')))
              for p, j, r, d, s, c in zip(pairs, jobs, resumes, dialogues, i_strategy, i_cases)]
      questions = [prompts.clean_reply(q) for q in self.model.chat(asks)]
      self._steps.done(f'turn {turn + 1}/{cfg.num_turns}: questions')
      answers_in = [ChatRequest(prompts.answer_question(j, r, d, q, s, c), dataclasses.replace(
          cfg.dialogue, seed=_seed(cfg.seed, pair_key(p), turn, 'a')))
                    for p, j, r, d, q, s, c in zip(pairs, jobs, resumes, dialogues, questions,
                                                    c_strategy, c_cases)]
      answers = [prompts.clean_reply(a) for a in self.model.chat(answers_in)]
      self._steps.done(f'turn {turn + 1}/{cfg.num_turns}: answers')
      for d, q, a in zip(dialogues, questions, answers):
        d.append(Turn(q, a))
    chats = []
    for j, r, d in zip(jobs, resumes, dialogues):
      chats += [prompts.evaluate_resume(j, r), prompts.evaluate_interview(j, r, d),
                prompts.evaluate_job(j, r), prompts.evaluate_offer(j, r, d)]
    values, unparsed = judge(self.model, chats)
    self._steps.done('judges')
    out = []
    for n, p in enumerate(pairs):
      scores = dict(zip(SCORE_KEYS, values[4 * n:4 * n + 4]))
      out.append(Interview(
          candidate_id=p.candidate_id, job_id=p.job_id, split=p.split,
          dialogue=dialogues[n], interviewer_strategy=i_strategy[n],
          candidate_strategy=c_strategy[n],
          interviewer_cases=[c.pair for c in i_stored[n]],
          candidate_cases=[c.pair for c in c_stored[n]],
          scores=scores,
          unparsed_judgements=sum(4 * n + j in unparsed for j in range(4)),
          model=self.model.name))
    if learn and use_memory:
      self._reflect(pairs, jobs, resumes, out)
      self._steps.done('reflections')
    return out

  def _reflect(self, pairs, jobs, resumes, interviews: list[Interview]) -> None:
    """Eq 12-15 on the chunk's matches: each party reflects, and the case is written to
    the interviewer's memory and the candidate's, nobody else's. Before any fitting the
    handshake is decisions.provisional_handshake (docs/mockllm.md)."""
    match = decisions.provisional_handshake(
        *[[i.scores[key] for i in interviews] for key in SCORE_KEYS])
    matched = []
    for n, interview in enumerate(interviews):
      interview.provisional_match = int(match[n])
      if interview.provisional_match:
        matched.append(n)
    if not matched:
      return
    cfg = self.config
    requests = []
    for n in matched:
      iv = interviews[n]
      requests.append(ChatRequest(prompts.reflect(
          'interviewer', jobs[n], resumes[n], iv.dialogue, iv.interviewer_strategy),
          dataclasses.replace(cfg.reflection_params,
                              seed=_seed(cfg.seed, pair_key(pairs[n]), 'ri'))))
      requests.append(ChatRequest(prompts.reflect(
          'candidate', jobs[n], resumes[n], iv.dialogue, iv.candidate_strategy),
          dataclasses.replace(cfg.reflection_params,
                              seed=_seed(cfg.seed, pair_key(pairs[n]), 'rc'))))
    replies = [prompts.clean_reply(r) for r in self.model.chat(requests)]
    for m, n in enumerate(matched):
      iv, key = interviews[n], pair_key(pairs[n])
      i_strategy = replies[2 * m] if cfg.strategy_updates else prompts.INITIAL_QUESTIONING
      c_strategy = replies[2 * m + 1] if cfg.strategy_updates else prompts.INITIAL_ANSWERING
      self.memories['interviewer'].add(
          pairs[n].job_id, key, prompts.Case(resumes[n], tuple(iv.dialogue), i_strategy))
      self.memories['candidate'].add(
          pairs[n].candidate_id, key, prompts.Case(jobs[n], tuple(iv.dialogue), c_strategy))


def _engine_counts(model: LanguageModel) -> dict[str, int] | None:
  """The embedded engine's running totals (None for other backends), found through the
  response cache that wraps it; the chunk log line and the progress bar read them."""
  while model is not None and not hasattr(model, 'totals'):
    model = getattr(model, 'model', None)
  if model is None:
    return None
  totals = model.totals
  counts = {'prompt': totals.prompt_tokens, 'reused': totals.reused_tokens,
            'generated': totals.generated_tokens}
  cache = getattr(model, 'prefix_cache', None)
  if cache is not None:
    counts.update(evicted=cache.stats.evicted_blocks, cache_bytes=cache.bytes,
                  max_bytes=cache.max_bytes)
  return counts


def _log_chunk(interviews: int, total: int, seconds: float, before, after) -> None:
  """One line per chunk: its time and, for the embedded engine, the tokens it computed
  and how well the prefix cache held the chunk's prompts (evictions mean recomputing)."""
  line = f'{interviews} interviews ({total} in all) in {seconds:.0f} s'
  if before is not None and after is not None:
    d = {key: after[key] - before[key] for key in ('prompt', 'reused', 'generated')}
    line += (f': {d["prompt"] - d["reused"]} of {d["prompt"]} prompt tokens computed '
             f'({d["reused"] / max(d["prompt"], 1):.1%} from the prefix cache), '
             f'{d["generated"]} generated')
    if 'evicted' in after:
      line += (f'; prefix cache {after["cache_bytes"] / 2 ** 30:.1f} of '
               f'{after["max_bytes"] / 2 ** 30:.1f} GiB, '
               f'{after["evicted"] - before["evicted"]} blocks evicted')
  logging.info(line)


class StepProgress:
  """A bar of the model calls of a run as they complete (each turn's questions and
  answers, the judges, the reflections of every chunk), with the tokens per second of
  a model that counts them (the embedded engine's `totals`); shown on a terminal only."""

  def __init__(self, model: LanguageModel, total: int):
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    self._bar = tqdm(total=total, desc='mock interviews', unit='call', leave=False,
                     disable=None)
    self._model = model
    self._start = time.perf_counter()
    self._first = self._tokens()

  def _tokens(self) -> tuple[int, int] | None:
    """(computed prompt, generated) tokens so far, from the model or the one it wraps."""
    counts = _engine_counts(self._model)
    if counts is None:
      return None
    return counts['prompt'] - counts['reused'], counts['generated']

  def done(self, what: str) -> None:
    self._bar.set_description_str(what, refresh=False)
    now = self._tokens()
    if now is not None and self._first is not None:
      seconds = max(time.perf_counter() - self._start, 1e-9)
      self._bar.set_postfix_str(
          f'prefill {(now[0] - self._first[0]) / seconds:.0f} tok/s, '
          f'decode {(now[1] - self._first[1]) / seconds:.1f} tok/s', refresh=False)
    self._bar.update(1)

  def close(self) -> None:
    self._bar.close()
