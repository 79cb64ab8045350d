"""Errors the library raises for the user to read."""


class ConfigError(ValueError):
  """A bad configuration or dataset; the message is one line meant for the user."""
