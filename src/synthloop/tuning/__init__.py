"""Automated generator search under a wall-clock budget: ``synthloop.search(...)``, ``synthloop search``
(extra ``search``). The package is called ``tuning`` so that ``synthloop.search`` stays the function.

Optuna is imported only when a search runs, so importing this package stays light.
"""

from synthloop.tuning.run import SearchFailed, SearchResult, parse_budget, search

__all__ = ["SearchFailed", "SearchResult", "parse_budget", "search"]
