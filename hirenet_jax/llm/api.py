"""The one interface every language-model backend implements (embedded JAX, HTTP server).

Requests are plain frozen data so that they can key a response cache and travel between
processes; a backend answers a whole list at once, so it can batch or run them concurrently.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, Sequence


@dataclasses.dataclass(frozen=True)
class Message:
  """One chat turn; role is 'system', 'user' or 'assistant'."""
  role: str
  content: str


@dataclasses.dataclass(frozen=True)
class SamplingParams:
  """Decoding settings; the defaults are the MockLLM paper's (temperature 0.9, top_p 0.6,
  repetition penalty 1.1). temperature=0 decodes greedily."""
  max_new_tokens: int = 128
  temperature: float = 0.9
  top_p: float = 0.6
  repetition_penalty: float = 1.1
  stop: tuple[str, ...] = ()
  seed: int = 0


@dataclasses.dataclass(frozen=True)
class ChatRequest:
  """A chat to continue with one assistant turn."""
  messages: tuple[Message, ...]
  params: SamplingParams = SamplingParams()


@dataclasses.dataclass(frozen=True)
class ScoreRequest:
  """Log-probability of `continuation` as the start of the assistant turn after `messages`."""
  messages: tuple[Message, ...]
  continuation: str


class LanguageModel(Protocol):
  """What the mock-interview loop drives; `name` labels every output it produces."""

  name: str

  def chat(self, requests: Sequence[ChatRequest]) -> list[str]:
    """The assistant's reply to each request, in order."""
    ...

  def score(self, requests: Sequence[ScoreRequest]) -> list[float | None]:
    """Natural-log probability of each continuation; None where the backend has none."""
    ...
