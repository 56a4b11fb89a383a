"""The workbench: a local web app over datasets, fits, evaluations, releases and lineage (extra ``workbench``).

``synthloop serve --data DIR`` runs it; ``synthloop workbench user add`` adds its users. It imports
the library; the library never imports it. See docs/workbench.md.
"""

from __future__ import annotations


def create_app(data, **options):
    """The ASGI app over the data folder ``data`` (see :func:`synthloop.workbench.app.create_app`)."""
    from synthloop.workbench.app import create_app as create

    return create(data, **options)


__all__ = ["create_app"]
