r"""Checks a raw interview corpus and lists every problem with file, record and reason
(check_corpus); the command is `python -m data_prep.validate`.

Checks: malformed JSON, missing fields, bad labels/decisions, duplicate candidate ids,
missing or unreadable media, empty audio, malformed OpenFace CSVs, NaN/inf features,
empty transcripts and interviews left with no usable answer for a modality.
--on_error=fail (default) lists the problems and exits 1 if there is any;
--on_error=skip writes `{output_dir}/excluded_manifest.csv` and exits 0.
Raw audio is only decoded (openSMILE runs in data_prep.hirenet.build) unless --deep.
"""

from __future__ import annotations

import os
from typing import Sequence

from absl import logging
import numpy as np

from hirenet_jax.hirenet import dataset_spec
from data_prep.hirenet import corpus as corpus_lib
from data_prep.errors import FeatureError
from data_prep.errors import Problem

MANIFEST = 'excluded_manifest.csv'


def _check_audio(path: str, deep: bool) -> None:
  from data_prep.hirenet import audio  # pylint: disable=g-import-not-at-top
  if deep or path.endswith(('.npy', '.csv')):
    audio.extract_lld(path)
  else:
    audio.load_audio(path)


def _check_video(path: str, deep: bool) -> None:
  del deep  # Reading the CSV is the full extraction.
  from data_prep.hirenet import video  # pylint: disable=g-import-not-at-top
  x = video.load_openface(path)
  if x.shape[0] == 0:
    raise FeatureError(path, 'no feature window')
  if not np.all(np.isfinite(x)):
    raise FeatureError(path, 'NaN or infinite feature values')


_CHECKS = {'audio': _check_audio, 'video': _check_video}


def _present_modalities(interviews) -> list[str]:
  present = []
  for modality in dataset_spec.MODALITIES:
    if any(a.source(modality) is not None for i in interviews for a in i.answers):
      present.append(modality)
  return present


def check_corpus(corpus_dir: str, *, modalities: Sequence[str] | None = None,
                 deep: bool = False,
                 decisions: corpus_lib.Decisions = corpus_lib.DEFAULT_DECISIONS,
                 allow_external_media: bool = False) -> tuple[list[Problem], dict]:
  """Every problem of the corpus and counts (read/kept/excluded per modality).

  `modalities` None checks those the corpus uses; `decisions` and
  `allow_external_media` as in corpus.read_corpus. Raises CorpusError only when
  interviews.jsonl itself cannot be read.
  """
  corpus_dir = os.path.abspath(corpus_dir)
  interviews, problems = corpus_lib.read_corpus(
      corpus_dir, decisions=decisions, allow_external_media=allow_external_media)
  if modalities is None:
    modalities = _present_modalities(interviews)
  for m in modalities:
    if m not in dataset_spec.MODALITIES:
      raise ValueError(f'unknown modality {m!r} (expected {dataset_spec.MODALITIES})')
  counts = {'candidates_read': len(interviews) + sum(p.record != '-' for p in problems),
            'candidates_valid_json': len(interviews)}
  problems = list(problems)
  problems += corpus_lib.missing_files(interviews, corpus_dir, modalities)
  bad = {(p.candidate_id, p.answer_index, p.modality) for p in problems}
  excluded_candidates = set()
  for modality in modalities:
    kept_answers = excluded_answers = 0
    for interview in interviews:
      usable = 0
      for answer in interview.answers:
        source = answer.source(modality)
        key = (interview.candidate_id, answer.index, modality)
        if source is None:
          continue
        if key in bad:
          excluded_answers += 1
          continue
        reason = None
        if dataset_spec.modality(modality).words:
          from data_prep.hirenet import text  # pylint: disable=g-import-not-at-top
          if not text.tokenize(source):
            reason, source = 'transcript has no word', None
        else:
          try:
            _CHECKS[modality](source, deep)
          except FeatureError as e:
            reason = e.reason
          except Exception as e:  # pylint: disable=broad-except
            logging.exception('Unexpected error checking %s', source)
            reason = f'{type(e).__name__}: {e}'
        if reason:
          problems.append(corpus_lib.answer_problem(
              interview, answer, modality, source, corpus_dir, reason))
          excluded_answers += 1
        else:
          usable += 1
      kept_answers += usable
      if not usable:
        problems.append(corpus_lib.no_usable_answer(interview, modality))
        excluded_candidates.add(interview.candidate_id)
    counts[f'{modality}_answers_kept'] = kept_answers
    counts[f'{modality}_answers_excluded'] = excluded_answers
  counts['candidates_kept'] = len(interviews) - len(excluded_candidates)
  counts['candidates_excluded'] = counts['candidates_read'] - counts['candidates_kept']
  counts['modalities'] = list(modalities)
  return problems, counts


def validate_corpus(corpus_dir: str, *, modalities: Sequence[str] | None = None,
                    **read_options) -> list[Problem]:
  """Every problem of the corpus (empty list: the corpus is clean); `read_options` are
  check_corpus's `decisions` and `allow_external_media`."""
  return check_corpus(corpus_dir, modalities=modalities, **read_options)[0]


def format_counts(counts: dict) -> str:
  lines = [f'Candidates: {counts["candidates_read"]} read, {counts["candidates_kept"]} '
           f'kept in every modality, {counts["candidates_excluded"]} excluded.']
  for m in counts['modalities']:
    lines.append(f'Answers ({m}): {counts[f"{m}_answers_kept"]} kept, '
                 f'{counts[f"{m}_answers_excluded"]} excluded.')
  return '\n'.join(lines)
