"""MockLLM's loop with the scripted role-player: handshake, memory, retrieval, ablations,
resume, and the generation measures against sacrebleu."""

from __future__ import annotations

import re

import pytest

from hirenet_jax.llm.api import ChatRequest
from hirenet_jax.llm.api import Message
from hirenet_jax.mockllm import evaluation
from hirenet_jax.mockllm import generation_metrics
from hirenet_jax.mockllm import loop
from hirenet_jax.mockllm import prompts
from hirenet_jax.mockllm.memory import MemoryFrozenError
from hirenet_jax.mockllm.memory import ReflectionMemory
from hirenet_jax.mockllm.scripted import ScriptedModel
from hirenet_jax.pjf.corpus import SPLITS
from hirenet_jax.pjf.corpus import Turn
from mockllm_tiny import tiny_corpus
from mockllm_tiny import warm_split


class Recording:
  """A backend wrapper that records every request (what each behaviour is sent)."""

  def __init__(self, model, fail_after: int | None = None):
    self.model, self.name = model, model.name
    self.chats, self.scores = [], []
    self.fail_after = fail_after

  def _tick(self, n):
    if self.fail_after is not None:
      self.fail_after -= n
      if self.fail_after < 0:
        raise KeyboardInterrupt('killed')

  def chat(self, requests):
    self._tick(len(requests))
    self.chats.extend(requests)
    return self.model.chat(requests)

  def score(self, requests):
    self.scores.extend(requests)
    return self.model.score(requests)


def _run(corpus, workdir, config=loop.LoopConfig(chunk_size=8), model=None):
  model = model or ScriptedModel()
  runner = loop.MockInterviewer(model, corpus, config, str(workdir))
  runner.run(corpus.split('train'), learn=True)
  runner.run(corpus.split('validation') + corpus.split('test'), learn=False)
  return runner


@pytest.fixture(scope='module')
def corpus():
  return tiny_corpus()


def test_prompts_round_trip_their_sections_and_dialogue():
  dialogue = [Turn('Why Java?', 'I led a Java team.'), Turn('And SQL?', 'Some.')]
  messages = prompts.answer_question('JOB TEXT', 'RESUME TEXT', dialogue, 'Next?', 'STRAT')
  assert prompts.behaviour(messages) == prompts.ANSWER
  s = prompts.sections(messages)
  assert s['Job description'] == 'JOB TEXT' and s['Resume'] == 'RESUME TEXT'
  assert s['Answering strategy'] == 'STRAT'
  assert prompts.parse_dialogue(s['Dialogue so far']) == (dialogue, 'Next?')
  with pytest.raises(ValueError, match='names no behaviour'):
    prompts.behaviour((Message('system', 'hello'), Message('user', 'x')))


def test_scripted_answers_only_from_the_resume_and_asks_without_repeating(corpus):
  model = ScriptedModel()
  job, resume = corpus.jobs['j0'], corpus.resumes['c0']
  dialogue = []
  for _ in range(2):
    (q,) = model.chat([ChatRequest(prompts.ask_question(
        job.description, resume.text, dialogue, prompts.INITIAL_QUESTIONING))])
    (a,) = model.chat([ChatRequest(prompts.answer_question(
        job.description, resume.text, dialogue, q, prompts.INITIAL_ANSWERING))])
    dialogue.append(Turn(q, a))
  assert dialogue[0].question != dialogue[1].question
  sentences = set(re.split(r'(?<=[.!?])\s+', resume.text))
  for turn in dialogue:
    assert turn.answer in sentences or turn.answer.startswith('I have no experience')


def test_interview_evidence_separates_hirable_candidates(corpus, tmp_path):
  """S_q (the interview) tells job_accepts apart better than S_r (word overlap)."""
  runner = _run(corpus, tmp_path)
  labels = {(p.candidate_id, p.job_id): p.job_accepts for p in corpus.pairs}
  from sklearn.metrics import roc_auc_score
  y = [labels[(i.candidate_id, i.job_id)] for i in runner.interviews]
  auc_q = roc_auc_score(y, [i.scores['s_q'] for i in runner.interviews])
  auc_r = roc_auc_score(y, [i.scores['s_r'] for i in runner.interviews])
  assert auc_q > 0.8 and auc_q > auc_r + 0.1, (auc_q, auc_r)


def test_memory_grows_only_on_matches_and_is_frozen_on_test(corpus, tmp_path):
  runner = _run(corpus, tmp_path)
  train = [i for i in runner.interviews if i.split == 'train']
  matches = sum(i.provisional_match for i in train)
  assert 0 < matches < len(train)
  for side in ('interviewer', 'candidate'):
    memory = runner.memories[side]
    assert len(memory.cases) == matches and memory.frozen
    assert {c.pair for c in memory.cases} == {
        f'{i.candidate_id}|{i.job_id}' for i in train if i.provisional_match}
    with pytest.raises(MemoryFrozenError):
      memory.add('x', 'x|y', prompts.Case('d', (), 's'))
  assert all(not i.provisional_match for i in runner.interviews if i.split != 'train')


def test_on_a_warm_split_evaluated_candidates_learn_from_their_training_pairs_only(
    corpus, tmp_path):
  """The default corpus's warm split gives a test candidate training pairs too: its test
  interviews carry the answering strategy its own training match wrote, no validation or
  test pair enters either memory, and every split is evaluated on its own pairs."""
  warm = warm_split(corpus)
  runner = _run(warm, tmp_path)
  splits = {loop.pair_key(p): p.split for p in warm.pairs}
  for side in ('interviewer', 'candidate'):
    assert {splits[c.pair] for c in runner.memories[side].cases} == {'train'}
  cases = runner.memories['candidate'].cases
  refined = [i for i in runner.interviews
             if i.split == 'test' and any(c.owner_id == i.candidate_id for c in cases)]
  assert refined
  for i in refined:
    own = [c for c in cases if c.owner_id == i.candidate_id]
    assert i.candidate_strategy == own[-1].case.strategy
  results, _ = evaluation.evaluate(runner.interviews,
                                   {(p.candidate_id, p.job_id): p for p in warm.pairs})
  for split in SPLITS:
    assert results[split]['num_pairs'] == len(warm.split(split)) > 0


@pytest.mark.parametrize('k', [0, 1, 2])
def test_each_prompt_carries_exactly_k_cases_once_memory_has_them(corpus, tmp_path, k):
  model = Recording(ScriptedModel())
  runner = _run(corpus, tmp_path, loop.LoopConfig(chunk_size=8, num_cases=k), model)
  asks = [r for r in model.chats if prompts.behaviour(r.messages) == prompts.ASK]
  counts = [len(re.findall(r'^Case \d+\. ', r.messages[-1].content, re.M)) for r in asks]
  memory_size = len(runner.memories['interviewer'].cases)
  assert memory_size >= 2
  # Test pairs come last, when the memory is complete: every prompt has exactly k.
  num_test_asks = 3 * len([i for i in runner.interviews if i.split != 'train'])
  assert counts[-num_test_asks:] == [k] * num_test_asks
  assert max(counts) == k
  retrieved = [i.interviewer_cases for i in runner.interviews if i.split == 'test']
  assert all(len(r) == k for r in retrieved)


def test_without_strategy_updates_the_initial_strategies_stay(corpus, tmp_path):
  runner = _run(corpus, tmp_path, loop.LoopConfig(chunk_size=8, strategy_updates=False))
  assert {i.interviewer_strategy for i in runner.interviews} == {prompts.INITIAL_QUESTIONING}
  assert {i.candidate_strategy for i in runner.interviews} == {prompts.INITIAL_ANSWERING}
  assert runner.memories['interviewer'].cases  # Cases are still stored and retrieved.
  full = _run(corpus, tmp_path / 'full')
  assert len({i.interviewer_strategy for i in full.interviews}) > 1


def test_without_reflection_nothing_is_remembered(corpus, tmp_path):
  runner = _run(corpus, tmp_path, loop.LoopConfig(chunk_size=8, reflection=False))
  assert not runner.memories['interviewer'].cases and not runner.memories['candidate'].cases
  assert all(not i.interviewer_cases for i in runner.interviews)


def test_killed_run_resumes_to_the_same_decisions(corpus, tmp_path):
  whole = _run(corpus, tmp_path / 'whole')
  killed = Recording(ScriptedModel(), fail_after=150)
  with pytest.raises(KeyboardInterrupt):
    _run(corpus, tmp_path / 'resumed', model=killed)
  assert 0 < len(loop.MockInterviewer(
      ScriptedModel(), corpus, loop.LoopConfig(chunk_size=8),
      str(tmp_path / 'resumed')).interviews) < len(corpus.pairs)
  resumed = _run(corpus, tmp_path / 'resumed')
  assert [i.to_json() for i in resumed.interviews] == [i.to_json() for i in whole.interviews]
  for side in ('interviewer', 'candidate'):
    assert resumed.memories[side].to_json() == whole.memories[side].to_json()


def test_handshake_is_a_match_only_when_both_sides_accept(corpus, tmp_path):
  runner = _run(corpus, tmp_path)
  pairs = {(p.candidate_id, p.job_id): p for p in corpus.pairs}
  results, rows = evaluation.evaluate(runner.interviews, pairs)
  t = results['thresholds']
  for row in rows:
    both = row['e_interviewer'] >= t['interviewer'] and row['e_candidate'] >= t['candidate']
    assert row['handshake'] == int(both)
  assert any(r['handshake'] for r in rows) and not all(r['handshake'] for r in rows)
  no_mi, _ = evaluation.evaluate(runner.interviews, pairs, use_dialogue=False)
  assert no_mi['weights']['interviewer']['w_dialogue'] == 0.0
  # On this corpus the job side is decided by depth, which only the interview shows.
  assert results['test']['job']['ndcg@5'] > no_mi['test']['job']['ndcg@5']


def test_memory_retrieves_the_most_similar_cases_and_round_trips(tmp_path):
  memory = ReflectionMemory('interviewer', 'm0')
  for i, text in enumerate(['java spring backend', 'nursing care hospital',
                            'java kotlin android']):
    memory.add(f'j{i}', f'c{i}|j{i}', prompts.Case(text, (Turn('q', 'a'),), f's{i}'))
  found = memory.retrieve('senior java backend developer', 2)
  assert [c.document for c in found] == ['java spring backend', 'java kotlin android']
  assert memory.strategy('j1') == 's1' and memory.strategy('unknown') == 'm0'
  memory.save(str(tmp_path))
  loaded = ReflectionMemory.load(str(tmp_path), 'interviewer')
  assert loaded.to_json() == memory.to_json()


def test_bleu_with_brevity_equals_sacrebleu():
  sacrebleu = pytest.importorskip('sacrebleu')
  hyp = 'I led the java migration of our billing platform for three years .'
  ref = ('Summary . I led the java migration of our billing platform for three years and '
         'mentored two juniors . I also followed a course on kotlin .')
  h, r = generation_metrics.tokens(hyp), generation_metrics.tokens(ref)
  for n in range(1, 5):
    metric = sacrebleu.metrics.BLEU(max_ngram_order=n, tokenize='none',
                                    smooth_method='none', effective_order=False)
    theirs = metric.sentence_score(' '.join(h), [' '.join(r)]).score / 100
    assert generation_metrics.bleu_with_brevity(h, r, n) == pytest.approx(theirs, abs=1e-6)
  assert generation_metrics.bleu(h, r, 1) == 1.0  # Every word is in the resume.


def test_distinct_and_repeated_questions_by_hand():
  assert generation_metrics.distinct(['a b a b'], 1) == 0.5
  assert generation_metrics.distinct(['a b a b'], 2) == pytest.approx(2 / 3)
  assert generation_metrics.repeated_question_rate([['Why?', 'why ?', 'How?'], ['Why?']]) \
      == 0.25


def test_clean_reply_keeps_one_paragraph_without_role_prefixes():
  assert prompts.clean_reply('A: I led it.\n\nInterviewer: next?') == 'I led it.'
  assert prompts.clean_reply('  Interviewer:  Why   Java?\n') == 'Why Java?'
  assert prompts.parse_judgement('Yes, clearly') == 1.0
  assert prompts.parse_judgement('I would say 7/10') == 0.7
  assert prompts.parse_judgement('hard to tell') is None
