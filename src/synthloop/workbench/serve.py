"""Running the workbench: the bind rule, and uvicorn.

By default the app listens on 127.0.0.1 only. Another address exposes it to a network, which is
refused unless (a) ``behind_proxy`` says a TLS-terminating reverse proxy sits in front (cookies are
then ``Secure`` and the proxy's forwarded headers are trusted from ``forwarded_allow``), and
(b) users exist, so nothing is reachable before someone can sign in.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from synthloop.errors import ConfigError, require
from synthloop.workbench.folders import Folders
from synthloop.workbench.state import State


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, behind_proxy: bool, n_users: int) -> None:
    """Refuse a non-loopback bind without a TLS proxy and users (see the module docstring)."""
    if is_loopback(host):
        return
    problems = []
    if not behind_proxy:
        problems.append("it is not behind a TLS-terminating proxy (pass --behind-proxy once one is in front)")
    if n_users == 0:
        problems.append("no users are configured (add one with: synthloop workbench user add NAME --role admin)")
    if problems:
        raise ConfigError(f"Refusing to listen on {host}, reachable from other machines: " + "; ".join(problems)
                          + ". Use --host 127.0.0.1 to serve this machine only.")


def state_of(data: str | Path) -> State:
    """The users/jobs/releases records of a data folder (created when missing)."""
    return State(Folders.create(data).private / "workbench.db")


def serve(data: str | Path, *, host: str = "127.0.0.1", port: int = 8765, lineage: str | None = None,
          threads: int = 1, behind_proxy: bool = False, forwarded_allow: str = "127.0.0.1") -> None:
    """Check the bind, build the app and run it until interrupted."""
    uvicorn = require("uvicorn", "workbench", "The workbench server")
    check_bind(host, behind_proxy=behind_proxy, n_users=len(state_of(data).users()))
    from synthloop.workbench.app import create_app

    app = create_app(data, lineage=lineage, threads=threads, secure_cookies=behind_proxy)
    uvicorn.run(app, host=host, port=port, proxy_headers=behind_proxy, forwarded_allow_ips=forwarded_allow,
                log_level="info", server_header=False)
