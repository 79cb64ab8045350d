"""A tiny person-job-fit corpus with planted signals, built in memory for the pjf tests.

`job_accepts` is 1 iff the resume's skill is the job's required skill (words of both
texts); `candidate_accepts` is 1 iff the job is in the city the resume asks for, or the
job is one of the 'attractive' ones every candidate accepts (a per-job effect that ids
alone can learn, for NCF). Split by candidate: 2/3 train, 1/6 validation, 1/6 test.
"""

from __future__ import annotations

import numpy as np

from hirenet_jax.pjf.corpus import Corpus
from hirenet_jax.pjf.corpus import Job
from hirenet_jax.pjf.corpus import Pair
from hirenet_jax.pjf.corpus import Resume

SKILLS = ('java', 'python', 'sql', 'excel')
CITIES = ('paris', 'lyon', 'lille')
FILLER = ('team', 'project', 'client', 'report', 'meeting', 'office', 'quality', 'plan',
          'budget', 'review', 'market', 'growth')


def _filler(rng, n):
  return ' '.join(rng.choice(FILLER, n))


def make_corpus(seed: int = 0, num_candidates: int = 48, num_jobs: int = 12,
                pairs_per_candidate: int = 6) -> Corpus:
  rng = np.random.default_rng(seed)
  jobs, skill_of_job, city_of_job = {}, {}, {}
  attractive = set(range(0, num_jobs, 4))
  for j in range(num_jobs):
    skill, city = SKILLS[j % len(SKILLS)], CITIES[(j // len(SKILLS)) % len(CITIES)]
    jid = f'j{j:02d}'
    skill_of_job[jid], city_of_job[jid] = skill, city
    jobs[jid] = Job(jid, f'engineer {_filler(rng, 1)}',
                    f'The office is in {city}. We require strong {skill} skills. '
                    f'{_filler(rng, 6)}. {_filler(rng, 5)}.')
  resumes, pairs = {}, []
  job_ids = sorted(jobs)
  for c in range(num_candidates):
    skill, city = SKILLS[rng.integers(len(SKILLS))], CITIES[rng.integers(len(CITIES))]
    cid = f'c{c:03d}'
    resumes[cid] = Resume(cid, f'I want to work in {city}. {_filler(rng, 4)}. '
                               f'I used {skill} every day for years. {_filler(rng, 6)}.')
    split = 'train' if c % 6 < 4 else ('validation' if c % 6 == 4 else 'test')
    for j in rng.choice(num_jobs, pairs_per_candidate, replace=False):
      jid = job_ids[j]
      pairs.append(Pair(cid, jid, int(skill_of_job[jid] == skill),
                        int(city_of_job[jid] == city or int(j) in attractive), split))
  return Corpus(jobs, resumes, pairs, source=f'tiny(seed={seed})')
