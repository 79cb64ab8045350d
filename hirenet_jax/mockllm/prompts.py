"""Every prompt of MockLLM's two roles, in one place (the paper's are in Chinese and not
given in full; these are ours, docs/mockllm.md).

Each prompt is a chat: a system turn naming the role and the behaviour, and a user turn
made of `### Section` blocks (job description, resume, dialogue, strategy, retrieved
cases) ending with the instruction. Any backend sees exactly this text; the scripted
role-player parses the same sections an LLM would read, and nothing else.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

from hirenet_jax.llm.api import Message
from hirenet_jax.pjf.corpus import Turn

# Behaviour names, first line of every system turn ("Behaviour: ...").
ASK = 'ask_question'            # eq 3
ANSWER = 'answer_question'      # eq 4
EVAL_RESUME = 'evaluate_resume'        # eq 5, S_r
EVAL_INTERVIEW = 'evaluate_interview'  # eq 6, S_q
EVAL_JOB = 'evaluate_job'              # eq 8, S_j
EVAL_OFFER = 'evaluate_offer'          # eq 9, S_a
REFLECT_INTERVIEWER = 'reflect_interviewer'  # eq 12
REFLECT_CANDIDATE = 'reflect_candidate'      # eq 13
BEHAVIOURS = (ASK, ANSWER, EVAL_RESUME, EVAL_INTERVIEW, EVAL_JOB, EVAL_OFFER,
              REFLECT_INTERVIEWER, REFLECT_CANDIDATE)

# The judge's continuation: log P("Yes") against log P("No") gives the score.
YES, NO = 'Yes', 'No'

# m_0^i and m_0^c: the strategies every interviewer and candidate start from.
INITIAL_QUESTIONING = ('Ask one clear question at a time about a requirement of the job '
                       'that the dialogue has not covered yet.')
INITIAL_ANSWERING = ('Answer briefly and truthfully from your resume; say so when your '
                     'resume shows no such experience.')

_INTERVIEWER = ('You are the recruiter of the job below, interviewing a candidate. '
                'Stay in role.')
_CANDIDATE = ('You are the candidate whose resume is below, interviewed for the job '
              'below. Stay in role.')


@dataclasses.dataclass(frozen=True)
class Case:
  """A remembered successful interview: the other side's document, the dialogue and the
  strategy the reflection wrote from it (eq 14-15)."""
  document: str
  dialogue: tuple[Turn, ...]
  strategy: str


def _section(title: str, body: str) -> str:
  return f'### {title}\n{body.strip()}\n'


def format_dialogue(dialogue: Sequence[Turn], pending_question: str | None = None) -> str:
  lines = []
  for turn in dialogue:
    lines += [f'Interviewer: {turn.question}', f'Candidate: {turn.answer}']
  if pending_question is not None:
    lines.append(f'Interviewer: {pending_question}')
  return '\n'.join(lines) if lines else '(no questions yet)'


def _cases(cases: Sequence[Case], document_title: str) -> str:
  blocks = []
  for i, case in enumerate(cases, 1):
    blocks.append(f'Case {i}. {document_title}: {case.document.strip()}\n'
                  f'Dialogue:\n{format_dialogue(case.dialogue)}\n'
                  f'Strategy that worked: {case.strategy.strip()}')
  return '\n\n'.join(blocks)


def _chat(role: str, behaviour: str, sections: Sequence[tuple[str, str]],
          instruction: str) -> tuple[Message, ...]:
  body = ''.join(_section(title, text) for title, text in sections if text is not None)
  return (Message('system', f'Behaviour: {behaviour}\n{role}'),
          Message('user', f'{body}### Instruction\n{instruction}'))


def ask_question(job: str, resume: str, dialogue: Sequence[Turn], strategy: str,
                 cases: Sequence[Case] = ()) -> tuple[Message, ...]:
  """Eq 3: the next question, coherent with the dialogue, relevant to the resume and the
  job, not a repeat; guided by the current strategy and the retrieved cases."""
  sections = [('Job description', job), ('Resume', resume),
              ('Dialogue so far', format_dialogue(dialogue)),
              ('Questioning strategy', strategy)]
  if cases:
    sections.append(('Similar past interviews', _cases(cases, 'Resume')))
  return _chat(_INTERVIEWER, ASK, sections,
               'Ask the next interview question. It must follow from the dialogue, bear '
               'on the job and the resume, and not repeat an earlier question. Reply with '
               'the question only.')


def answer_question(job: str, resume: str, dialogue: Sequence[Turn], question: str,
                    strategy: str, cases: Sequence[Case] = ()) -> tuple[Message, ...]:
  """Eq 4: the answer, consistent with the resume and the dialogue."""
  sections = [('Job description', job), ('Resume', resume),
              ('Dialogue so far', format_dialogue(dialogue, pending_question=question)),
              ('Answering strategy', strategy)]
  if cases:
    sections.append(('Similar past interviews', _cases(cases, 'Job description')))
  return _chat(_CANDIDATE, ANSWER, sections,
               'Answer the last question as the candidate, consistent with your resume '
               'and what you said before. Reply with the answer only.')


def evaluate_resume(job: str, resume: str) -> tuple[Message, ...]:
  """Eq 5: S_r, the interviewer's fit of the resume to the job description."""
  return _chat(_INTERVIEWER, EVAL_RESUME, [('Job description', job), ('Resume', resume)],
               'Do the skills and experience in this resume meet the requirements of the '
               f'job? Answer {YES} or {NO}.')


def evaluate_interview(job: str, resume: str,
                       dialogue: Sequence[Turn]) -> tuple[Message, ...]:
  """Eq 6: S_q, the interviewer's judgement of the candidate's answers."""
  return _chat(_INTERVIEWER, EVAL_INTERVIEW,
               [('Job description', job), ('Resume', resume),
                ('Interview', format_dialogue(dialogue))],
               'Judging by the answers in the interview, do the candidate\'s skills meet '
               f'the requirements of the job at the level asked? Answer {YES} or {NO}.')


def evaluate_job(job: str, resume: str) -> tuple[Message, ...]:
  """Eq 8: S_j, the candidate's fit of the job to their resume and stated preferences."""
  return _chat(_CANDIDATE, EVAL_JOB, [('Job description', job), ('Resume', resume)],
               'Does this job match the preferences stated in your resume (sector, '
               f'place, pay, contract)? Answer {YES} or {NO}.')


def evaluate_offer(job: str, resume: str, dialogue: Sequence[Turn]) -> tuple[Message, ...]:
  """Eq 9: S_a, the candidate's will to accept an offer after the interview."""
  return _chat(_CANDIDATE, EVAL_OFFER,
               [('Job description', job), ('Resume', resume),
                ('Interview', format_dialogue(dialogue))],
               'After this interview, would you accept an offer for this job, given the '
               f'preferences stated in your resume? Answer {YES} or {NO}.')


def reflect(side: str, job: str, resume: str, dialogue: Sequence[Turn],
            strategy: str) -> tuple[Message, ...]:
  """Eq 12-13: after a match, a refined strategy drawn from this interview."""
  if side == 'interviewer':
    return _chat(_INTERVIEWER, REFLECT_INTERVIEWER,
                 [('Job description', job), ('Resume', resume),
                  ('Interview', format_dialogue(dialogue)),
                  ('Questioning strategy', strategy)],
                 'This interview ended in a match. Rewrite the questioning strategy in at '
                 'most three sentences so that later interviews find out sooner whether a '
                 'candidate has what this job needs. Reply with the strategy only.')
  return _chat(_CANDIDATE, REFLECT_CANDIDATE,
               [('Job description', job), ('Resume', resume),
                ('Interview', format_dialogue(dialogue)),
                ('Answering strategy', strategy)],
               'This interview ended in a match. Rewrite the answering strategy in at most '
               'three sentences so that later answers show your relevant experience more '
               'clearly. Reply with the strategy only.')


# ---------------------------------------------------------------- reading prompts back

_SECTION = re.compile(r'^### (.+?)\n(.*?)(?=^### |\Z)', re.S | re.M)


def behaviour(messages: Sequence[Message]) -> str:
  """The behaviour a prompt asks for, from its system turn."""
  first = messages[0].content.split('\n', 1)[0] if messages else ''
  if not first.startswith('Behaviour: '):
    raise ValueError('not a MockLLM prompt: the system turn names no behaviour')
  name = first[len('Behaviour: '):].strip()
  if name not in BEHAVIOURS:
    raise ValueError(f'unknown behaviour {name!r}')
  return name


def sections(messages: Sequence[Message]) -> dict[str, str]:
  """The `### Title` blocks of the user turn, by title."""
  return {m.group(1).strip(): m.group(2).strip()
          for m in _SECTION.finditer(messages[-1].content)}


def parse_dialogue(text: str) -> tuple[list[Turn], str | None]:
  """(turns, pending question) from `format_dialogue`'s text."""
  turns, question = [], None
  for line in text.splitlines():
    if line.startswith('Interviewer: '):
      question = line[len('Interviewer: '):]
    elif line.startswith('Candidate: ') and question is not None:
      turns.append(Turn(question, line[len('Candidate: '):]))
      question = None
  return turns, question


def clean_reply(text: str) -> str:
  """A generated turn as one line: the first non-empty paragraph, role prefixes removed."""
  text = text.strip()
  for prefix in ('Interviewer:', 'Candidate:', 'Question:', 'Answer:', 'Strategy:', 'Q:',
                 'A:'):
    if text.startswith(prefix):
      text = text[len(prefix):].strip()
  paragraph = next((p for p in re.split(r'\n\s*\n', text) if p.strip()), '')
  return ' '.join(paragraph.split())


_RATING = re.compile(r'\b(10|[0-9])(?:\s*/\s*10)?\b')


def parse_judgement(text: str) -> float | None:
  """A score in [0, 1] from a judge's chat reply: Yes/No, or a 0-10 rating; None when the
  reply holds neither (the caller counts those)."""
  words = text.strip().lower()
  if words.startswith(YES.lower()):
    return 1.0
  if words.startswith(NO.lower()):
    return 0.0
  found = _RATING.search(words)
  return int(found.group(1)) / 10.0 if found else None
