"""Attention analysis of a scored HireNet run: the paper's attention statistics and
figures, agreement with a synthetic corpus's planted cues, and per-candidate HTML
reports."""
