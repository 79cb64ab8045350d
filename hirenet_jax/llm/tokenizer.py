"""The tokenizer and chat template of a GGUF model, built from its own metadata.

Byte-level BPE over `tokenizer.ggml.tokens`/`merges` with `tokenizers`; the pre-tokenizer
follows llama.cpp's `tokenizer.ggml.pre` (SmolLM and StarCoder split digits one by one
before the GPT-2 regex). Control tokens (`token_type` 3) are matched as whole special
tokens. Chat templates are rendered for the ChatML family, the one SmolLM2/Qwen use.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from tokenizers import AddedToken
from tokenizers import Tokenizer
from tokenizers import decoders
from tokenizers import models
from tokenizers import pre_tokenizers

from hirenet_jax.llm.api import Message

_DIGIT_SPLITTING_PRE = ('smollm', 'starcoder', 'refact', 'command-r', 'codeshell', 'exaone',
                        'minerva')
_GPT2_PRE = ('gpt2', 'default', 'mpt', 'olmo', 'jais')
_CONTROL = 3
_CHATML_TURN = "'<|im_start|>' + message['role'] +"
_DEFAULT_SYSTEM = re.compile(
    r"\{% if loop\.first and messages\[0\]\['role'\] != 'system' %\}\{\{ '(.*?)' \}\}"
    r"\{% endif %\}", re.S)


class GGUFTokenizer:
  """Text <-> ids for one GGUF model, and its chat template."""

  def __init__(self, reader: Any, path: str = '<gguf>'):
    fields = reader.fields

    def get(key, default=None):
      return fields[key].contents() if key in fields else default

    model = get('tokenizer.ggml.model')
    if model != 'gpt2':
      raise ValueError(f'{path}: tokenizer.ggml.model {model!r} is not supported '
                       '(only byte-level BPE, "gpt2")')
    tokens = get('tokenizer.ggml.tokens')
    types = get('tokenizer.ggml.token_type', [1] * len(tokens))
    merges = [tuple(m.split(' ', 1)) for m in get('tokenizer.ggml.merges')]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False))
    pre = get('tokenizer.ggml.pre', 'default')
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in _DIGIT_SPLITTING_PRE:
      tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
          [pre_tokenizers.Digits(individual_digits=True), byte_level])
    elif pre in _GPT2_PRE:
      tokenizer.pre_tokenizer = byte_level
    else:
      raise ValueError(f'{path}: tokenizer.ggml.pre {pre!r} is not supported '
                       f'(supported: {", ".join(_DIGIT_SPLITTING_PRE + _GPT2_PRE)})')
    tokenizer.decoder = decoders.ByteLevel()
    self.special_tokens = [tok for tok, t in zip(tokens, types) if t == _CONTROL]
    tokenizer.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in self.special_tokens])
    self._tokenizer = tokenizer
    self.vocab = vocab
    self.bos_id = get('tokenizer.ggml.bos_token_id')
    self.eos_id = get('tokenizer.ggml.eos_token_id')
    self.add_bos = bool(get('tokenizer.ggml.add_bos_token', False))
    self.chat_template = get('tokenizer.chat_template', '')
    self.is_chatml = (_CHATML_TURN in self.chat_template
                      and '<|im_end|>' in self.chat_template)
    found = _DEFAULT_SYSTEM.search(self.chat_template)
    self._default_system_text = (found.group(1).replace('\\n', '\n')
                                 if found else '')
    self.path = path
    # Generation ends at EOS or at the end of the assistant's turn.
    self.stop_ids = sorted({i for i in (self.eos_id, vocab.get('<|im_end|>'),
                                        vocab.get('<|endoftext|>')) if i is not None})

  def encode(self, text: str) -> list[int]:
    """Token ids of `text`, special tokens recognised, no BOS added."""
    return self._tokenizer.encode(text, add_special_tokens=False).ids

  def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """`encode`'s ids and each token's (start, end) character span in `text`; a token's
    span includes the space it starts with, and the byte tokens of one character share
    that character's span."""
    encoding = self._tokenizer.encode(text, add_special_tokens=False)
    return encoding.ids, [tuple(o) for o in encoding.offsets]

  def decode(self, ids: Sequence[int], skip_special: bool = True) -> str:
    return self._tokenizer.decode(list(ids), skip_special_tokens=skip_special)

  def render_chat(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
    """The template's text for `messages`, ending with the opening of the assistant turn.

    Only ChatML templates are rendered (with the template's default system turn when the
    chat has none); others raise, since jinja2 is not a dependency.
    """
    if not self.is_chatml:
      raise ValueError(f'{self.path}: the chat template is not ChatML; only ChatML templates '
                       'are supported')
    parts = []
    if messages and messages[0].role != 'system' and self._default_system_text:
      parts.append(self._default_system_text)
    for m in messages:
      parts.append(f'<|im_start|>{m.role}\n{m.content}<|im_end|>\n')
    if add_generation_prompt:
      parts.append('<|im_start|>assistant\n')
    text = ''.join(parts)
    return (self.decode([self.bos_id], skip_special=False) + text) if self.add_bos else text
