"""The planted-bias flags both synthetic-corpus commands take (docs/fairness.md), defined
once so the HireNet and person-job-fit generators read them the same way."""

from __future__ import annotations

from typing import Callable

from absl import flags

from hirenet_jax.core import counterfactual


def define_bias_flags(*, who: str, label_bias_help: str, proxy_help: str
                      ) -> Callable[[], counterfactual.PlantedBias | None]:
  """Defines --bias_group, --bias_against, --label_bias and --gender_proxy (`who` names
  what gets the attributes: "candidate", "resume") and returns a function that reads them
  into a PlantedBias, or None when none is given (the default corpora: no attributes)."""
  group = flags.DEFINE_enum(
      'bias_group', None, list(counterfactual.GROUP_ATTRIBUTES),
      f'Plant bias (docs/fairness.md): every {who} gets gender and age_band attributes; '
      'the label bias hits this attribute. Default: no attributes, no bias.')
  against = flags.DEFINE_string(
      'bias_against', '', 'The disfavoured value of --bias_group (default: f for gender, '
      '45+ for age_band).')
  label_bias = flags.DEFINE_float('label_bias', 0.0, label_bias_help)
  gender_proxy = flags.DEFINE_bool('gender_proxy', False, proxy_help)

  def planted_bias() -> counterfactual.PlantedBias | None:
    if not (group.value or gender_proxy.value or label_bias.value):
      return None
    return counterfactual.PlantedBias(group=group.value or 'gender', against=against.value,
                                      label_bias=label_bias.value,
                                      gender_proxy=gender_proxy.value)
  return planted_bias
