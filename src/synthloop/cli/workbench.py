"""``synthloop serve`` (the workbench web app) and ``synthloop workbench user add|list|remove``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from synthloop.cli._common import console

app = typer.Typer(help="Manage the workbench (the web app `synthloop serve` runs).", no_args_is_help=True)
users_app = typer.Typer(help="The workbench's users and their roles.", no_args_is_help=True)
app.add_typer(users_app, name="user")

DataOption = Annotated[Path, typer.Option("--data", "-d", metavar="DIR",
                                          help="The workbench's data folder (tables, models, reports, users).")]


def serve(data: DataOption,
          host: Annotated[str, typer.Option("--host", metavar="ADDRESS",
                                            help="Address to listen on; anything but loopback needs "
                                                 "--behind-proxy and configured users.")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port", metavar="PORT")] = 8765,
          lineage: Annotated[str | None, typer.Option("--lineage", metavar="STORE",
                                                      help="Lineage store: a file, or postgresql://... for a "
                                                           "team's server (default DIR/lineage.db).")] = None,
          jobs: Annotated[int, typer.Option("--jobs", metavar="N", help="Jobs that run at once.")] = 1,
          behind_proxy: Annotated[bool, typer.Option("--behind-proxy",
                                                     help="A TLS-terminating reverse proxy is in front: "
                                                          "Secure cookies, trust its forwarded headers.")] = False,
          ) -> None:
    """Run the workbench web app over DIR (http://127.0.0.1:8765 by default)."""
    from synthloop.workbench.serve import serve as run
    from synthloop.workbench.serve import state_of

    if not state_of(data).users():
        console.print("No users yet; add one with: synthloop workbench user add NAME --role admin "
                      f"--data {data}", highlight=False)
    run(data, host=host, port=port, lineage=lineage, threads=jobs, behind_proxy=behind_proxy)


@users_app.command("add")
def user_add(name: Annotated[str, typer.Argument(metavar="NAME")], data: DataOption,
             role: Annotated[list[str], typer.Option("--role", "-r", metavar="ROLE",
                                                     help="expert, qa, privacy or admin; repeatable.")],
             password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                          help="Read the password from standard input.")] = False,
             ) -> None:
    """Add a user with one or more roles (the password is asked for, or read from stdin)."""
    from synthloop.workbench.auth import add_user
    from synthloop.workbench.serve import state_of

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    add_user(state_of(data), name, password, role)
    console.print(f"Added {name} ({', '.join(role)}).", highlight=False)


@users_app.command("list")
def user_list(data: DataOption) -> None:
    """The users and their roles."""
    from synthloop.workbench.serve import state_of

    for user in state_of(data).users():
        console.print(f"{user['name']}\t{', '.join(user['roles'])}", highlight=False)


@users_app.command("remove")
def user_remove(name: Annotated[str, typer.Argument(metavar="NAME")], data: DataOption) -> None:
    """Remove a user (their past decisions stay in the records)."""
    from synthloop.errors import ConfigError
    from synthloop.workbench.serve import state_of

    if not state_of(data).remove_user(name):
        raise ConfigError(f"No user '{name}' in {data}.")
    console.print(f"Removed {name}.", highlight=False)
