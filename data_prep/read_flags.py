"""The flags data_prep.build, data_prep.validate and experiments.train share for reading a
raw HireNet corpus (extra decision words, media outside the corpus directory), and the
build options data_prep.build and experiments.train share (`define_build_flags`)."""

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


def define_build_flags(on_error_default: str | None = 'fail'):
  """Defines `--on_error`, `--embeddings`, `--representation` and `--gguf`; returns their
  holders. experiments.train passes None as the default: unset flags leave its config's
  fields alone."""
  on_error = flags.DEFINE_enum(
      'on_error', on_error_default, ['fail', 'skip'],
      'fail: stop at the first bad record; skip: drop it and list it in '
      'excluded_manifest.csv.')
  embeddings = flags.DEFINE_string(
      'embeddings', None, 'Pretrained word vectors: word2vec binary or text, fastText '
      '.vec/.bin or GloVe text (format read from the file; .gz too); default: train 200-d '
      'word2vec on the training split. The same as --representation=vectors:PATH.')
  representation = flags.DEFINE_string(
      'representation', None, 'Text representation: word2vec (trained on the training '
      'split; the default), vectors:PATH (a pretrained vector file, as --embeddings), llm '
      'or llm:LAYER (the embedded SmolLM2\'s hidden states of that layer, 0 = token '
      'embeddings, -1 = final norm, llm = 16, pooled onto words; computed once, '
      'docs/llm.md).')
  gguf = flags.DEFINE_string(
      'gguf', None, 'With --representation=llm: another Llama-architecture GGUF model to '
      'read the states of (default: the embedded SmolLM2-135M).')
  return on_error, embeddings, representation, gguf


def decision_words() -> tuple[list[str], list[str]]:
  """The extra (hirable, not-hirable) decision words given on the command line."""
  return list(_HIRABLE.value), list(_NOT_HIRABLE.value)


def external_media() -> bool:
  return _EXTERNAL_MEDIA.value


def read_options() -> dict:
  """The `decisions` and `allow_external_media` keyword arguments of read_corpus."""
  decisions = corpus_lib.DEFAULT_DECISIONS.extended(_HIRABLE.value, _NOT_HIRABLE.value)
  return dict(decisions=decisions, allow_external_media=_EXTERNAL_MEDIA.value)
