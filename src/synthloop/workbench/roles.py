"""Who may do what: the roles of the people a workbench serves, and the action each write route needs.

One table (:data:`PERMISSIONS`) decides every write; ``tests/test_workbench.py`` checks that each
POST route names an action from it and refuses every role outside it. A user may hold several roles,
but a release is never decided by the user who requested it (four eyes), whatever roles they hold.
"""

from __future__ import annotations

ROLES: dict[str, str] = {
    "expert": "domain expert",
    "qa": "QA specialist",
    "privacy": "privacy officer",
    "admin": "administrator",
}

PERMISSIONS: dict[str, tuple[str, ...]] = {
    "upload": ("expert", "qa"),             # put a table into the data folder
    "schema": ("expert",),                  # column kinds, target, constraints
    "fit": ("expert", "qa"),                # fit a synthesizer (a background job)
    "sample": ("expert", "qa"),             # draw rows from a fitted model
    "evaluate": ("qa",),                    # score a sample against its training data and holdout
    "lab": ("qa",),                         # a collapse-lab run: refits on own output under policies
    "monitor": ("qa",),                     # compare uploaded windows with a reference (drift timeline)
    "release-request": ("qa",),             # bundle a sample with its evaluation for a tier
    "release-decide": ("privacy",),         # approve or refuse a requested release
    "users": ("admin",),                    # add or remove users
}


def allowed(roles: frozenset[str] | set[str] | tuple[str, ...], action: str) -> bool:
    """True when one of ``roles`` may perform ``action`` (an unknown action is never allowed)."""
    return any(role in PERMISSIONS.get(action, ()) for role in roles)
