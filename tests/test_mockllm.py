"""MockLLM's loop with the scripted test double: the prompts' definitions and order, the
decisions of eq 7, 10 and 11 against hand computations, the per-owner memories,
retrieval, ablations, resume, and the generation measures against sacrebleu."""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest

from hirenet_jax.llm.api import ChatRequest
from hirenet_jax.llm.api import Message
from hirenet_jax.mockllm import decisions
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
  assert prompts.parse_dialogue(s['Interview']) == (dialogue, 'Next?')
  with pytest.raises(ValueError, match='names no behaviour'):
    prompts.behaviour((Message('system', 'hello'), Message('user', 'x')))


def _all_prompts(job, resume, dialogue):
  """Every behaviour's prompt on one pair, with the dialogue cut where it is asked."""
  return {
      prompts.ASK: prompts.ask_question(job, resume, dialogue[:1], 'STRAT'),
      prompts.ANSWER: prompts.answer_question(job, resume, dialogue[:1],
                                              dialogue[1].question, 'STRAT'),
      prompts.EVAL_RESUME: prompts.evaluate_resume(job, resume),
      prompts.EVAL_INTERVIEW: prompts.evaluate_interview(job, resume, dialogue),
      prompts.EVAL_JOB: prompts.evaluate_job(job, resume),
      prompts.EVAL_OFFER: prompts.evaluate_offer(job, resume, dialogue),
      prompts.REFLECT_INTERVIEWER: prompts.reflect('interviewer', job, resume, dialogue, 'S'),
      prompts.REFLECT_CANDIDATE: prompts.reflect('candidate', job, resume, dialogue, 'S'),
      prompts.CHOOSE_CASE: prompts.choose_case('interviewer', job, resume, ['a b c', 'd']),
  }


def test_every_prompt_puts_what_changes_least_first():
  """One system turn for all; the user turn opens with the job, then the resume, then
  the role's strategy, with the interview just before the instruction, so a prefix cache
  reuses all but the newest exchange; the behaviour comes last."""
  dialogue = [Turn('Why Java?', 'I led a Java team.'), Turn('And SQL?', 'Some.')]
  chats = _all_prompts('JOB TEXT', 'RESUME TEXT', dialogue)
  assert {m[0].content for m in chats.values()} == {prompts.SYSTEM}
  for name, messages in chats.items():
    assert prompts.behaviour(messages) == name
    user = messages[-1].content
    assert user.startswith('### Job description\nJOB TEXT\n### Resume\nRESUME TEXT\n')
    assert user.index('### Instruction') > user.index('RESUME TEXT')
    if '### Interview' in user:
      assert user.index('### Resume') < user.index('### Interview') < user.index(
          '### Instruction')
    for title in ('### Questioning strategy', '### Answering strategy'):
      if title in user and '### Interview' in user:
        assert user.index(title) < user.index('### Interview')
  # A role's next prompt repeats this one up to the end of its interview: each turn
  # adds only the newest exchange and the instruction.
  for name, later in ((prompts.ASK, prompts.ask_question('JOB TEXT', 'RESUME TEXT',
                                                         dialogue, 'STRAT')),
                      (prompts.ANSWER, prompts.answer_question(
                          'JOB TEXT', 'RESUME TEXT', dialogue, 'Next?', 'STRAT'))):
    shared = os.path.commonprefix([chats[name][-1].content, later[-1].content])
    earlier = prompts.sections(chats[name])['Interview']
    assert 'STRAT' in shared and shared.endswith(earlier + '\n'), name


def test_s_j_and_s_a_ask_the_papers_questions_not_the_generators_conditions():
  """Eq 8: the candidate's own resume against the job's requirements; eq 9: the chance of
  obtaining the offer, after the interview. Neither asks about the default generator's
  acceptance conditions (sector, city, pay, contract) or the candidate's wishes."""
  dialogue = [Turn('Why Java?', 'I led a Java team.')]
  chats = _all_prompts('JOB TEXT', 'RESUME TEXT', dialogue + dialogue)
  s_j, s_a = chats[prompts.EVAL_JOB], chats[prompts.EVAL_OFFER]
  for messages in (s_j, s_a):
    text = ' '.join(m.content for m in messages).lower()
    for word in ('sector', 'city', 'place', 'location', 'pay', 'salary', 'contract',
                 'prefer', 'accept', 'wish'):
      assert word not in text, word
  assert 'Interview' not in prompts.sections(s_j)  # Eq 8 reads the documents alone.
  j = s_j[-1].content.lower()
  assert 'your own resume' in j and 'requirements' in j
  assert prompts.sections(s_a)['Interview'].startswith('Interviewer: Why Java?')
  a = s_a[-1].content.lower()
  assert 'obtain the offer' in a and 'chance' in a


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


def _matches_from_scores(interviews):
  """Training pairs whose scores pass the training pass's handshake, recomputed by hand:
  each side's mean of its two scores at least 0.5 (docs/mockllm.md)."""
  return {f'{i.candidate_id}|{i.job_id}' for i in interviews if i.split == 'train'
          and (i.scores['s_r'] + i.scores['s_q']) / 2 >= 0.5
          and (i.scores['s_j'] + i.scores['s_a']) / 2 >= 0.5}


def test_memory_grows_only_on_matches_and_is_frozen_on_test(corpus, tmp_path):
  runner = _run(corpus, tmp_path)
  train = [i for i in runner.interviews if i.split == 'train']
  matches = _matches_from_scores(runner.interviews)
  assert 0 < len(matches) < len(train)
  for side in ('interviewer', 'candidate'):
    memory = runner.memories[side]
    assert memory.frozen
    assert sorted(c.pair for c in memory.cases) == sorted(matches)  # Each match once.
    with pytest.raises(MemoryFrozenError):
      memory.add('x', 'x|y', prompts.Case('d', (), 's'))
  assert all(not i.provisional_match for i in runner.interviews if i.split != 'train')


def test_each_party_remembers_only_its_own_handshake_matches(corpus, tmp_path):
  """M^(i_k) holds the matched interviews of job k and nothing else; M^(c_l) those of
  candidate l; an interviewer's case holds the candidate's resume, a candidate's the job
  description."""
  runner = _run(corpus, tmp_path)
  matches = _matches_from_scores(runner.interviews)
  interviewer, candidate = runner.memories['interviewer'], runner.memories['candidate']
  for job_id, job in corpus.jobs.items():
    owned = interviewer.cases_of(job_id)
    assert {c.pair for c in owned} == {m for m in matches if m.endswith(f'|{job_id}')}
    for c in owned:
      assert c.case.document == corpus.resumes[c.pair.split('|')[0]].text
  for cid, resume in corpus.resumes.items():
    owned = candidate.cases_of(cid)
    assert {c.pair for c in owned} == {m for m in matches if m.startswith(f'{cid}|')}
    for c in owned:
      assert c.case.document == corpus.jobs[c.pair.split('|')[1]].description
  # Some candidates have no match of their own and so nothing to retrieve.
  assert any(not candidate.cases_of(c) for c in corpus.resumes)


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
def test_each_prompt_carries_k_cases_of_its_owners_memory(corpus, tmp_path, k):
  model = Recording(ScriptedModel())
  runner = _run(corpus, tmp_path, loop.LoopConfig(chunk_size=8, num_cases=k), model)
  interviewer = runner.memories['interviewer']
  assert max(len(interviewer.cases_of(j)) for j in corpus.jobs) >= 2
  # Test pairs come last, when the memory is complete: min(k, the owner's cases) each,
  # all the owner's own.
  for i in runner.interviews:
    if i.split != 'test':
      continue
    owned = {c.pair for c in interviewer.cases_of(i.job_id)}
    assert len(i.interviewer_cases) == min(k, len(owned))
    assert set(i.interviewer_cases) <= owned
    owned = {c.pair for c in runner.memories['candidate'].cases_of(i.candidate_id)}
    assert len(i.candidate_cases) == min(k, len(owned)) and set(i.candidate_cases) <= owned
  asks = [r for r in model.chats if prompts.behaviour(r.messages) == prompts.ASK]
  counts = [len(re.findall(r'^Case \d+\. ', r.messages[-1].content, re.M)) for r in asks]
  assert max(counts) == k
  # A prompt with no case has no section for them (the owner's memory was empty).
  assert all(('### Similar past interviews' in r.messages[-1].content) == (n > 0)
             for r, n in zip(asks, counts))
  assert counts[0] == 0


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


def test_memory_retrieves_the_owners_most_similar_cases_and_round_trips(tmp_path):
  memory = ReflectionMemory('interviewer', 'm0')
  for i, text in enumerate(['java spring backend', 'nursing care hospital',
                            'java kotlin android']):
    memory.add('j0', f'c{i}|j0', prompts.Case(text, (Turn('q', 'a'),), f's{i}'))
  memory.add('j1', 'c9|j1', prompts.Case('senior java backend developer', (), 'other'))
  found = memory.retrieve('j0', 'senior java backend developer', 2)
  assert [c.case.document for c in found] == ['java spring backend', 'java kotlin android']
  assert [c.pair for c in memory.retrieve('j1', 'nursing', 3)] == ['c9|j1']
  assert memory.retrieve('j2', 'java backend', 2) == []  # No match yet: nothing.
  assert memory.strategy('j0') == 's2' and memory.strategy('j2') == 'm0'
  memory.save(str(tmp_path))
  loaded = ReflectionMemory.load(str(tmp_path), 'interviewer')
  assert loaded.to_json() == memory.to_json()
  assert [c.pair for c in loaded.retrieve('j0', 'android kotlin', 1)] == ['c2|j0']


class _NoLogprobs:
  """The scripted double behind a backend that gives no log-probabilities."""

  def __init__(self):
    self.model, self.name, self.chats = ScriptedModel(), 'no-logprobs', []

  def chat(self, requests):
    self.chats.extend(requests)
    return self.model.chat(requests)

  def score(self, requests):
    return [None] * len(requests)


def test_llm_retrieval_takes_the_models_choice_by_score_or_by_reply():
  memory = ReflectionMemory('interviewer', 'm0')
  docs = ['nursing care hospital wards', 'java spring backend services',
          'welding steel frames', 'java kotlin android apps']
  for i, text in enumerate(docs):
    memory.add('j0', f'c{i}|j0', prompts.Case(text, (), f's{i}'))
  pool = memory.retrieve('j0', 'x', prompts.MAX_CHOICES)  # TF-IDF order (all ties here).
  new_resume = 'java backend developer building spring services'
  by_score = loop.choose_cases(ScriptedModel(), 'interviewer', ['JOB'], [new_resume],
                               [pool], 2)[0]
  assert [c.pair for c in by_score] == ['c1|j0', 'c3|j0']
  fallback = _NoLogprobs()
  by_reply = loop.choose_cases(fallback, 'interviewer', ['JOB'], [new_resume], [pool], 2)[0]
  assert by_reply == by_score and len(fallback.chats) == 1
  # An owner with at most k cases is not asked; one with none gets none.
  assert loop.choose_cases(fallback, 'interviewer', ['JOB'], [new_resume],
                           [pool[:2], []], 2) == [pool[:2], []]
  assert len(fallback.chats) == 1
  with pytest.raises(ValueError, match='retrieval'):
    loop.LoopConfig(retrieval='bm25')


def test_a_run_with_llm_retrieval_asks_the_model_and_uses_the_owners_cases(corpus, tmp_path):
  model = Recording(ScriptedModel())
  runner = _run(corpus, tmp_path, loop.LoopConfig(chunk_size=8, retrieval='llm'), model)
  asked = [r for r in model.scores if prompts.behaviour(r.messages) == prompts.CHOOSE_CASE]
  assert asked  # Some owner had more than k = 1 case.
  for i in runner.interviews:
    assert set(i.interviewer_cases) <= {
        c.pair for c in runner.memories['interviewer'].cases_of(i.job_id)}
    assert set(i.candidate_cases) <= {
        c.pair for c in runner.memories['candidate'].cases_of(i.candidate_id)}


class _FixedLogprobs:
  """A backend whose log P(Yes) and log P(No) are log 0.2 and log 0.3: they sum to 0.5,
  not one, as a model's do when other tokens take the rest."""
  name = 'fixed'

  def score(self, requests):
    return [math.log(0.2) if r.continuation == prompts.YES else math.log(0.3)
            for r in requests]


def test_judge_renormalises_p_yes_over_the_two_answers():
  scores, unparsed = loop.judge(_FixedLogprobs(), [prompts.evaluate_resume('J', 'R')] * 2)
  assert scores == pytest.approx([0.4, 0.4]) and not unparsed  # 0.2 / (0.2 + 0.3)


def _hand_logistic_fit(x_NxF, y_N, c=1.0, steps=50):
  """argmin_w,b 0.5 |w|^2 + c sum_n logloss(y_n, x_n w + b) (scikit-learn's objective: the
  bias is not penalised), by Newton's method."""
  x = np.concatenate([x_NxF, np.ones((len(y_N), 1))], axis=1)
  theta = np.zeros(x.shape[1])
  penalty = np.diag([1.0] * x_NxF.shape[1] + [0.0])
  for _ in range(steps):
    p = 1 / (1 + np.exp(-x @ theta))
    grad = penalty @ theta + c * x.T @ (p - y_N)
    hess = penalty + c * (x.T * (p * (1 - p))) @ x
    theta -= np.linalg.solve(hess, grad)
  return theta


def test_eq_7_and_10_are_a_logistic_fit_of_each_side_and_its_sigmoid():
  rng = np.random.default_rng(0)
  s_doc, s_dialogue = rng.random(40), rng.random(40)
  labels = (s_dialogue + 0.3 * s_doc + 0.3 * rng.standard_normal(40) > 0.7).astype(int)
  w = decisions.fit_side(s_doc, s_dialogue, labels)
  w_doc, w_dialogue, bias = _hand_logistic_fit(np.stack([s_doc, s_dialogue], 1), labels)
  assert (w.w_doc, w.w_dialogue, w.bias) == pytest.approx((w_doc, w_dialogue, bias),
                                                           abs=1e-4)
  assert w.evaluate([0.2], [0.9])[0] == pytest.approx(
      1 / (1 + math.exp(-(0.2 * w_doc + 0.9 * w_dialogue + bias))), abs=1e-6)
  only_doc = decisions.fit_side(s_doc, None, labels)
  (w_alone, bias_alone) = _hand_logistic_fit(s_doc[:, None], labels)
  assert (only_doc.w_doc, only_doc.w_dialogue, only_doc.bias) == pytest.approx(
      (w_alone, 0.0, bias_alone), abs=1e-4)


def test_evaluation_decides_each_pair_by_the_hand_fit_eq_7_and_10(corpus, tmp_path):
  runner = _run(corpus, tmp_path)
  pairs = {(p.candidate_id, p.job_id): p for p in corpus.pairs}
  results, rows = evaluation.evaluate(runner.interviews, pairs)
  train = [i for i in runner.interviews if i.split == 'train']
  for side, doc, dialogue, label in (('interviewer', 's_r', 's_q', 'job_accepts'),
                                     ('candidate', 's_j', 's_a', 'candidate_accepts')):
    x = np.asarray([[i.scores[doc], i.scores[dialogue]] for i in train])
    y = np.asarray([getattr(pairs[(i.candidate_id, i.job_id)], label) for i in train])
    w_doc, w_dialogue, bias = _hand_logistic_fit(x, y)
    for row in rows:
      e = 1 / (1 + math.exp(-(w_doc * row[doc] + w_dialogue * row[dialogue] + bias)))
      assert row[f'e_{side}'] == pytest.approx(e, abs=1e-4)
  test = results['test']['decisions']
  assert test['handshake'] == [r['handshake'] for r in rows if r['split'] == 'test']


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


def test_each_chunk_logs_the_engines_tokens_and_evictions_of_that_chunk(caplog):
  """The line after a chunk reports that chunk's own counts (differences of the engine's
  running totals, found through the response cache wrapping it), not the run's."""
  import types  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.engine import GenerationStats  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.prefix_cache import PrefixCache  # pylint: disable=g-import-not-at-top
  engine = types.SimpleNamespace(totals=GenerationStats(prompt_tokens=1000, reused_tokens=600,
                                                        generated_tokens=50),
                                 prefix_cache=PrefixCache(32, 2 ** 30))
  engine.prefix_cache.stats.evicted_blocks = 7
  wrapped = types.SimpleNamespace(model=engine)
  before = loop._engine_counts(wrapped)
  engine.totals.prompt_tokens += 400
  engine.totals.reused_tokens += 300
  engine.totals.generated_tokens += 20
  engine.prefix_cache.stats.evicted_blocks += 5
  with caplog.at_level('INFO'):
    loop._log_chunk(32, 96, 12.3, before, loop._engine_counts(wrapped))
  assert ('32 interviews (96 in all) in 12 s: 100 of 400 prompt tokens computed (75.0% from '
          'the prefix cache), 20 generated; prefix cache 0.0 of 1.0 GiB, 5 blocks evicted'
          ) in caplog.text
  assert loop._engine_counts(ScriptedModel()) is None


class _Clocked:
  """A backend wrapper whose every chat batch takes 10 s of a fake clock."""

  def __init__(self, clock, fail_after=None):
    self.inner, self.clock = Recording(ScriptedModel(), fail_after), clock
    self.name, self.calls = 'scripted', 0

  def chat(self, requests):
    out = self.inner.chat(requests)
    self.calls += 1
    self.clock[0] += 10.0
    return out

  def score(self, requests):
    return self.inner.score(requests)


def test_generation_time_is_the_chunks_time_summed_over_resumes(corpus, tmp_path,
                                                                 monkeypatch):
  """progress.json keeps the seconds of the chunks saved so far; a resumed run adds its
  own, and a chunk lost to the kill counts nothing."""
  clock = [0.0]
  monkeypatch.setattr(loop.time, 'perf_counter', lambda: clock[0])
  whole = _Clocked(clock)
  runner = _run(corpus, tmp_path / 'whole', model=whole)
  assert runner.seconds == 10.0 * whole.calls > 0
  again = loop.MockInterviewer(ScriptedModel(), corpus, loop.LoopConfig(chunk_size=8),
                               str(tmp_path / 'whole'))
  assert again.seconds == runner.seconds
  killed = _Clocked(clock, fail_after=150)
  with pytest.raises(KeyboardInterrupt):
    _run(corpus, tmp_path / 'resumed', model=killed)
  saved = loop.MockInterviewer(ScriptedModel(), corpus, loop.LoopConfig(chunk_size=8),
                               str(tmp_path / 'resumed')).seconds
  assert 0 < saved < 10.0 * killed.calls
  rest = _Clocked(clock)
  resumed = _run(corpus, tmp_path / 'resumed', model=rest)
  assert resumed.seconds == saved + 10.0 * rest.calls
