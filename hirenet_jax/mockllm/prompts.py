"""Every prompt of MockLLM's two roles, in one place (the paper's are in Chinese and not
given in full; these are ours, docs/mockllm.md).

Each prompt is a chat: one system turn, the same for every behaviour of both roles, and
a user turn made of `### Section` blocks in a fixed order: the job description, the
resume, what belongs to one role (its strategy, retrieved cases), the interview so far,
then the instruction, which names the behaviour and the role. What changes least comes
first so that a backend with a prefix cache computes it once: the job description for
all of a job's pairs, job and resume for all the prompts of a pair, and a role's
strategy and cases once per interview, each turn then adding only the newest exchange. Any backend sees
exactly this text; the scripted test double parses the same sections, and nothing else.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Sequence

from hirenet_jax.llm.api import Message
from hirenet_jax.pjf.corpus import Turn

# Behaviour names, first line of every instruction ("Behaviour: ...").
ASK = 'ask_question'            # eq 3
ANSWER = 'answer_question'      # eq 4
EVAL_RESUME = 'evaluate_resume'        # eq 5, S_r
EVAL_INTERVIEW = 'evaluate_interview'  # eq 6, S_q
EVAL_JOB = 'evaluate_job'              # eq 8, S_j
EVAL_OFFER = 'evaluate_offer'          # eq 9, S_a
REFLECT_INTERVIEWER = 'reflect_interviewer'  # eq 12
REFLECT_CANDIDATE = 'reflect_candidate'      # eq 14
CHOOSE_CASE = 'choose_case'            # eq 16-17 with retrieval='llm'
BEHAVIOURS = (ASK, ANSWER, EVAL_RESUME, EVAL_INTERVIEW, EVAL_JOB, EVAL_OFFER,
              REFLECT_INTERVIEWER, REFLECT_CANDIDATE, CHOOSE_CASE)

# The judge's continuation: log P("Yes") against log P("No") gives the score.
YES, NO = 'Yes', 'No'

# m_0^i and m_0^c: the strategies every interviewer and candidate start from.
INITIAL_QUESTIONING = ('Ask one clear question at a time about a requirement of the job '
                       'that the dialogue has not covered yet.')
INITIAL_ANSWERING = ('Answer briefly and truthfully from your resume; say so when your '
                     'resume shows no such experience.')

SYSTEM = ('This is a mock job interview between the recruiter of the job described '
          'below and the candidate whose resume is below. Play the role that the '
          'instruction at the end names, and stay in it.')
_INTERVIEWER = 'You are the recruiter of this job, interviewing this candidate.'
_CANDIDATE = 'You are the candidate whose resume this is, interviewed for this job.'

JOB, RESUME, INTERVIEW = 'Job description', 'Resume', 'Interview'
NO_QUESTIONS = '(no questions yet)'
MAX_CHOICES = 9  # Cases offered to the model to choose from: one digit each.


@dataclasses.dataclass(frozen=True)
class Case:
  """A remembered successful interview: the other side's document, the dialogue and the
  strategy the reflection wrote from it (eq 13, 15)."""
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
  return '\n'.join(lines) if lines else NO_QUESTIONS


def _cases(cases: Sequence[Case], document_title: str) -> str:
  blocks = []
  for i, case in enumerate(cases, 1):
    blocks.append(f'Case {i}. {document_title}: {case.document.strip()}\n'
                  f'Dialogue:\n{format_dialogue(case.dialogue)}\n'
                  f'Strategy that worked: {case.strategy.strip()}')
  return '\n\n'.join(blocks)


def _chat(behaviour: str, role: str, job: str, resume: str,
          sections: Sequence[tuple[str, str]], instruction: str) -> tuple[Message, ...]:
  """The shared system turn; job, resume, then `sections` in order, then the instruction."""
  body = _section(JOB, job) + _section(RESUME, resume)
  body += ''.join(_section(title, text) for title, text in sections if text is not None)
  return (Message('system', SYSTEM),
          Message('user', f'{body}### Instruction\nBehaviour: {behaviour}\n{role} '
                          f'{instruction}'))


def ask_question(job: str, resume: str, dialogue: Sequence[Turn], strategy: str,
                 cases: Sequence[Case] = ()) -> tuple[Message, ...]:
  """Eq 3: the next question, coherent with the dialogue, relevant to the resume and the
  job, not a repeat; guided by the current strategy and the retrieved cases (none until
  this interviewer has a match of its own)."""
  sections = [('Questioning strategy', strategy)]
  if cases:
    sections.append(('Similar past interviews', _cases(cases, RESUME)))
  sections.append((INTERVIEW, format_dialogue(dialogue)))
  return _chat(ASK, _INTERVIEWER, job, resume, sections,
               'Ask the next interview question. It must follow from the dialogue, bear '
               'on the job and the resume, and not repeat an earlier question. Reply with '
               'the question only.')


def answer_question(job: str, resume: str, dialogue: Sequence[Turn], question: str,
                    strategy: str, cases: Sequence[Case] = ()) -> tuple[Message, ...]:
  """Eq 4: the answer, consistent with the resume and the dialogue."""
  sections = [('Answering strategy', strategy)]
  if cases:
    sections.append(('Similar past interviews', _cases(cases, JOB)))
  sections.append((INTERVIEW, format_dialogue(dialogue, pending_question=question)))
  return _chat(ANSWER, _CANDIDATE, job, resume, sections,
               'Answer the last question as the candidate, consistent with your resume '
               'and what you said before. Reply with the answer only.')


def evaluate_resume(job: str, resume: str) -> tuple[Message, ...]:
  """Eq 5: S_r, the interviewer's fit of the resume's skills and experience to the job's
  requirements."""
  return _chat(EVAL_RESUME, _INTERVIEWER, job, resume, [],
               'Do the skills and experience in this resume meet the requirements of the '
               f'job? Answer {YES} or {NO}.')


def evaluate_interview(job: str, resume: str,
                       dialogue: Sequence[Turn]) -> tuple[Message, ...]:
  """Eq 6: S_q, the interviewer's judgement of the answers: do they match the resume's
  story and meet the job's requirements."""
  return _chat(EVAL_INTERVIEW, _INTERVIEWER, job, resume,
               [(INTERVIEW, format_dialogue(dialogue))],
               'Judging by the answers in the interview, which must agree with the '
               'resume, do the candidate\'s skills meet the requirements of the job at the '
               f'level asked? Answer {YES} or {NO}.')


def evaluate_job(job: str, resume: str) -> tuple[Message, ...]:
  """Eq 8: S_j, the candidate's basic fitting score between their own resume and the
  requirements in the job description (the paper's definition: not their wishes)."""
  return _chat(EVAL_JOB, _CANDIDATE, job, resume, [],
               'Compare your own resume with the requirements in the job description. Do '
               'your skills and experience meet what this job requires? '
               f'Answer {YES} or {NO}.')


def evaluate_offer(job: str, resume: str, dialogue: Sequence[Turn]) -> tuple[Message, ...]:
  """Eq 9: S_a, the candidate's estimate, after the interview, of the opportunity of
  obtaining the offer for the position (the paper's score; not "would you accept")."""
  return _chat(EVAL_OFFER, _CANDIDATE, job, resume,
               [(INTERVIEW, format_dialogue(dialogue))],
               'Judging by how you answered in this interview, and by your resume against '
               'the requirements of the job, is there a good chance that you obtain the '
               f'offer for this position? Answer {YES} or {NO}.')


def reflect(side: str, job: str, resume: str, dialogue: Sequence[Turn],
            strategy: str) -> tuple[Message, ...]:
  """Eq 12 and 14: after a match, a refined strategy drawn from this interview."""
  interview = (INTERVIEW, format_dialogue(dialogue))
  if side == 'interviewer':
    return _chat(REFLECT_INTERVIEWER, _INTERVIEWER, job, resume,
                 [('Questioning strategy', strategy), interview],
                 'This interview ended in a match. Rewrite the questioning strategy in at '
                 'most three sentences so that later interviews find out sooner whether a '
                 'candidate has what this job needs. Reply with the strategy only.')
  return _chat(REFLECT_CANDIDATE, _CANDIDATE, job, resume,
               [('Answering strategy', strategy), interview],
               'This interview ended in a match. Rewrite the answering strategy in at most '
               'three sentences so that later answers show your relevant experience more '
               'clearly. Reply with the strategy only.')


def choose_case(side: str, job: str, resume: str,
                documents: Sequence[str]) -> tuple[Message, ...]:
  """Eq 16-17 with retrieval='llm': which of the owner's past matched interviews bears
  most on the new one. The interviewer (`job` is its own) compares the new `resume` with
  the resumes of its past matches; the candidate (`resume` is its own) compares the new
  `job` with the job descriptions of its past matches. The answer's first token is the
  case's number (at most MAX_CHOICES cases), so the score interface ranks them."""
  if not 0 < len(documents) <= MAX_CHOICES:
    raise ValueError(f'choose_case takes 1 to {MAX_CHOICES} cases, got {len(documents)}')
  title = RESUME if side == 'interviewer' else JOB
  listing = '\n'.join(f'Case {i}: {" ".join(d.split())}' for i, d in enumerate(documents, 1))
  if side == 'interviewer':
    role, ask = _INTERVIEWER, ('Which past case\'s candidate is most like this candidate '
                               'in skills and experience?')
  else:
    role, ask = _CANDIDATE, 'Which past case\'s job is most like this job?'
  return _chat(CHOOSE_CASE, role, job, resume, [(f'Past matched interviews ({title})',
                                                 listing)],
               f'{ask} List the case numbers from most to least similar, separated by '
               'commas, and nothing else.')


# ---------------------------------------------------------------- reading prompts back

_SECTION = re.compile(r'^### (.+?)\n(.*?)(?=^### |\Z)', re.S | re.M)
_BEHAVIOUR = re.compile(r'^### Instruction\nBehaviour: (\S+)$', re.M)
_CASE_LINE = re.compile(r'^Case (\d+): (.*)$', re.M)


def behaviour(messages: Sequence[Message]) -> str:
  """The behaviour a prompt asks for, from its instruction."""
  found = _BEHAVIOUR.search(messages[-1].content) if messages else None
  if not found:
    raise ValueError('not a MockLLM prompt: its instruction names no behaviour')
  if found.group(1) not in BEHAVIOURS:
    raise ValueError(f'unknown behaviour {found.group(1)!r}')
  return found.group(1)


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


def parse_case_listing(text: str) -> list[str]:
  """The documents of `choose_case`'s listing, in order."""
  return [m.group(2) for m in _CASE_LINE.finditer(text)]


def parse_case_numbers(text: str, num_cases: int) -> list[int]:
  """0-based indices of the cases a reply names, in its order, each once (out-of-range
  numbers dropped)."""
  out = []
  for number in re.findall(r'\d+', text):
    i = int(number) - 1
    if 0 <= i < num_cases and i not in out:
      out.append(i)
  return out


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
