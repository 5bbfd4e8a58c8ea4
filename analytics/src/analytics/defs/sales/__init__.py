"""The sales domain of analytics: summaries, their checks, the daily job and its schedule."""
