"""The HTML report renders the right words, in order, shaded by attention."""

import html.parser
import re

from hirenet_jax.hirenet.analysis import html as html_report


def _labels(page):
  """(the candidate's label, each section's decision), read from their own elements."""
  return (re.findall(r'<br>Label: ([^<]*)</p>', page),
          re.findall(r'</b> \(([^)]*) at threshold [0-9.]+\)</p>', page))


class _Words(html.parser.HTMLParser):
  """Collects (text, style) of every word span."""

  def __init__(self):
    super().__init__()
    self.words, self._style = [], None

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if tag == 'span' and attrs.get('class') == 'w':
      self._style = attrs['style']

  def handle_data(self, data):
    if self._style is not None:
      self.words.append((data, float(self._style.split(':')[1])))
      self._style = None


def test_html_renders_words_in_order_with_their_shading():
  answers = [
      html_report.AnswerView('Présentez-vous.', 0.8, ['je', 'suis', '<vendeur>'],
                             [0.1, 0.2, 0.7]),
      html_report.AnswerView('Pourquoi nous ?', 0.2, ['parce', 'que'], [0.5, 0.5]),
      html_report.AnswerView('Et ensuite ?', 0.0, available=False),
  ]
  page = html_report.render_candidate('c1', 0.73, answers, job_title='Vendeur', label=1)
  parser = _Words()
  parser.feed(page)
  assert [w for w, _ in parser.words] == ['je', 'suis', '<vendeur>', 'parce', 'que']
  shades = [s for _, s in parser.words]
  assert shades[2] == max(shades[:3]) and shades[0] < shades[1] < shades[2]
  assert '&lt;vendeur&gt;' in page  # Escaped, not injected.
  assert 'Présentez-vous.' in page and 'No features for this answer' in page
  assert page.index('Présentez-vous.') < page.index('Pourquoi nous') < page.index('Et ensuite')
  assert '0.730' in page
  assert _labels(page) == (['hirable'], ['hirable'])
  assert _labels(html_report.render_candidate('c1', 0.3, answers, label=0)) == (
      ['not hirable'], ['not hirable'])
  assert _labels(html_report.render_candidate('c1', 0.3, answers, threshold=0.2)) == (
      [], ['hirable'])  # No label given: none shown.


def test_one_page_holds_every_modality_in_order():
  text = html_report.Section('text (hirenet)', 0.8, [
      html_report.AnswerView('Q?', 1.0, ['bonjour', 'client'], [0.3, 0.7])])
  audio = html_report.Section('audio (hirenet)', 0.2, [
      html_report.AnswerView('Q?', 1.0, plot_png='iVBORw0KGgo=')])
  page = html_report.render_page('c7', [text, audio], job_title='Vendeur', label=0)
  assert page.count('<html>') == 1 and page.count('<h1>') == 1 and page.count('<hr>') == 1
  assert page.index('text (hirenet)') < page.index('bonjour') < page.index('audio (hirenet)')
  assert page.index('audio (hirenet)') < page.index('data:image/png;base64,iVBORw0KGgo=')
  assert '0.800' in page and '0.200' in page
  assert _labels(page) == (['not hirable'], ['hirable', 'not hirable'])
