"""Errors the library raises for the user to read."""


class ConfigError(ValueError):
  """A bad configuration or dataset; the message is one line meant for the user."""


def check_choice(name: str, value, choices) -> None:
  """ConfigError naming `name`, the value and the choices when `value` is not one."""
  if value not in choices:
    raise ConfigError(f'unknown {name} {value!r}; expected one of {", ".join(choices)}')


def check_positive(config, fields) -> None:
  """ConfigError naming the first of `config`'s `fields` that is not positive."""
  for field in fields:
    if config[field] <= 0:
      raise ConfigError(f'config.{field} must be positive, got {config[field]}')
