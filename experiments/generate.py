r"""Prints a language model's answer to one prompt (the embedded SmolLM2 by default).

  python -m experiments.generate --prompt="Why do interviews matter?" [--gguf=PATH] \
      [--system="..."] [--max_new_tokens=128] [--temperature=0.9] [--top_p=0.6] \
      [--repetition_penalty=1.1] [--seed=0]
"""

from __future__ import annotations

from absl import app
from absl import flags

from experiments import common

_PROMPT = flags.DEFINE_string('prompt', None, 'The user message.', required=True)
_SYSTEM = flags.DEFINE_string('system', None, 'A system message; default: the model\'s.')
_GGUF = flags.DEFINE_string('gguf', None, 'A Llama-family .gguf file; default: the '
                            'embedded SmolLM2-135M-Instruct.')
_MAX_NEW_TOKENS = flags.DEFINE_integer('max_new_tokens', 128, 'Longest answer, in tokens.')
_TEMPERATURE = flags.DEFINE_float('temperature', 0.9, '0 decodes greedily.')
_TOP_P = flags.DEFINE_float('top_p', 0.6, 'Nucleus mass.')
_REPETITION_PENALTY = flags.DEFINE_float('repetition_penalty', 1.1, '1 = none.')
_SEED = flags.DEFINE_integer('seed', 0, 'Sampling seed.')


def main():
  from hirenet_jax.llm import engine  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.api import ChatRequest  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.api import Message  # pylint: disable=g-import-not-at-top
  from hirenet_jax.llm.api import SamplingParams  # pylint: disable=g-import-not-at-top
  model = engine.JaxLanguageModel(_GGUF.value, max_batch=1)
  messages = ((Message('system', _SYSTEM.value),) if _SYSTEM.value else ()) + (
      Message('user', _PROMPT.value),)
  params = SamplingParams(max_new_tokens=_MAX_NEW_TOKENS.value, temperature=_TEMPERATURE.value,
                          top_p=_TOP_P.value, repetition_penalty=_REPETITION_PENALTY.value,
                          seed=_SEED.value)
  print(model.chat([ChatRequest(messages, params)])[0])


if __name__ == '__main__':
  app.run(common.entry_point(main, extra_errors=(ValueError,)))
