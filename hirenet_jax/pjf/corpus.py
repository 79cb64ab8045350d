"""A person-job-fit corpus in memory: jobs, resumes and labelled (candidate, job) pairs.

`data_prep.pjf.corpus` reads and validates the files (docs/pjf_format.md) into these
types; everything in the library takes them and never reads the raw files itself.
"""

from __future__ import annotations

import collections
import dataclasses

SPLITS = ('train', 'validation', 'test')


@dataclasses.dataclass(frozen=True)
class Job:
  job_id: str
  title: str
  description: str


@dataclasses.dataclass(frozen=True)
class Resume:
  candidate_id: str
  text: str
  # Group attributes for bias audits (docs/fairness.md); no judge or model reads them.
  attributes: dict = dataclasses.field(default_factory=dict, hash=False)


@dataclasses.dataclass(frozen=True)
class Turn:
  """One question of a real or generated interview, with its answer."""
  question: str
  answer: str


@dataclasses.dataclass(frozen=True)
class Pair:
  """A candidate applying to a job, with both sides' decisions (1 = accepts)."""
  candidate_id: str
  job_id: str
  job_accepts: int
  candidate_accepts: int
  split: str
  dialogue: tuple[Turn, ...] = ()

  @property
  def match(self) -> int:
    """The ground-truth handshake: both sides accept."""
    return int(self.job_accepts and self.candidate_accepts)


@dataclasses.dataclass
class Corpus:
  """Jobs and resumes by id, pairs in file order (each with its split)."""
  jobs: dict[str, Job]
  resumes: dict[str, Resume]
  pairs: list[Pair]
  source: str = ''

  def split(self, name: str) -> list[Pair]:
    if name not in SPLITS:
      raise ValueError(f'unknown split {name!r}; expected one of {SPLITS}')
    return [p for p in self.pairs if p.split == name]

  def by_candidate(self, pairs: list[Pair] | None = None) -> dict[str, list[Pair]]:
    groups = collections.defaultdict(list)
    for p in self.pairs if pairs is None else pairs:
      groups[p.candidate_id].append(p)
    return dict(groups)

  def by_job(self, pairs: list[Pair] | None = None) -> dict[str, list[Pair]]:
    groups = collections.defaultdict(list)
    for p in self.pairs if pairs is None else pairs:
      groups[p.job_id].append(p)
    return dict(groups)
