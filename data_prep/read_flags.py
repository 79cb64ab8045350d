"""The flags data_prep.build and data_prep.validate share for reading a raw HireNet
corpus: extra decision words and media outside the corpus directory."""

from __future__ import annotations

from absl import flags

from data_prep.hirenet import corpus as corpus_lib

_HIRABLE = flags.DEFINE_list(
    'hirable_decisions', [], 'Decision words counted as hirable votes besides '
    f'{",".join(sorted(corpus_lib.HIRABLE_DECISIONS))}.')
_NOT_HIRABLE = flags.DEFINE_list(
    'not_hirable_decisions', [], 'Decision words counted as not-hirable votes besides '
    f'{",".join(sorted(corpus_lib.NOT_HIRABLE_DECISIONS))} (e.g. comment,rate: other '
    'recruiter actions).')
_EXTERNAL_MEDIA = flags.DEFINE_bool('allow_external_media', False, 'Accept audio/video '
                                    'paths that resolve outside the corpus directory.')


def read_options() -> dict:
  """The `decisions` and `allow_external_media` keyword arguments of read_corpus."""
  decisions = corpus_lib.DEFAULT_DECISIONS.extended(_HIRABLE.value, _NOT_HIRABLE.value)
  return dict(decisions=decisions, allow_external_media=_EXTERNAL_MEDIA.value)
