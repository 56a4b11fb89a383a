"""``synthloop federated``: train one synthesizer across parties that never share rows (extra: federated)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from synthloop.cli._common import console, err_console, split_pair

app = typer.Typer(help="Federated synthetic data: parties keep their rows; one model is trained across them.",
                  no_args_is_help=True)

RoundsOption = Annotated[int | None, typer.Option("--rounds", help="Communication rounds (default: the config's / 20).")]
LocalOption = Annotated[int | None, typer.Option("--local-epochs", help="Epochs per party per round.")]
StrategyOption = Annotated[str | None, typer.Option("--strategy", metavar="fedavg|fedprox", help="Aggregation.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Replace OUT when it already holds a model.")]


def _on_round(total: int):
    def show(entry: dict[str, Any]) -> None:
        dropped = f", dropped {', '.join(entry['dropped'])}" if entry["dropped"] else ""
        loss = f", loss {entry['loss']:.4g}" if "loss" in entry else ""
        seconds = f", {entry['seconds']:.1f} s" if "seconds" in entry else ""
        err_console.print(f"round {entry['round']}/{total}: {len(entry['parties'])} parties{dropped}{loss}, "
                          f"{entry['bytes_sent'] / 2**20:.2f} MiB{seconds}", highlight=False)
    return show


def _on_exchange(entry: dict[str, Any]) -> None:
    dropped = f", dropped {', '.join(entry['dropped'])}" if entry["dropped"] else ""
    err_console.print(f"exchange {entry['round']}/3 ({entry['exchange']}): {len(entry['parties'])} parties{dropped}, "
                      f"{entry['bytes_sent'] / 2**10:.1f} KiB", highlight=False)


def _done(out: Path) -> None:
    console.print(f"Saved the federated model to {out} (provenance: {out / 'federated.json'}). "
                  f"Sample it with: synthloop sample {out} -n 1000 -o synthetic.csv", highlight=False)


@app.command("simulate")
def simulate(config: Annotated[Path, typer.Argument(metavar="CONFIG.toml",
                                                    help="Simulation config, e.g. examples/federated_adult.toml.")],
             out: Annotated[Path | None, typer.Option("--out", "-o", help="Model folder (default: the config's).")] = None,
             rounds: RoundsOption = None, local_epochs: LocalOption = None, strategy: StrategyOption = None,
             how: Annotated[str | None, typer.Option("--how", metavar="iid|label|column",
                                                     help="How the table is split into parties.")] = None,
             engine: Annotated[str | None, typer.Option("--engine", metavar="inprocess|ray",
                                                        help="Parties in this process (fast) or as Flower ClientApps "
                                                             "on Flower's simulation engine (Ray).")] = None,
             secure_aggregation: Annotated[bool | None, typer.Option(
                 "--secure-aggregation/--no-secure-aggregation",
                 help="Training rounds under Flower's SecAgg+ (with --engine ray).")] = None,
             force: ForceOption = False) -> None:
    """Split one table into parties and train federatedly (a rehearsal of a deployment)."""
    from synthloop.federated.config import SimulationConfig

    loaded = SimulationConfig.load(config)
    split = loaded.split
    column = split.column if (how or split.how) != "iid" else None
    target = out if out is not None else Path(loaded.out)
    common = {"n_parties": split.parties, "how": how or split.how, "column": column, "alpha": split.alpha,
              "drop": loaded.drop, "lineage": loaded.lineage, "overwrite": force}
    if loaded.train.model != "tvae" and (engine == "ray" or secure_aggregation):
        raise typer.BadParameter(f"the federated {loaded.train.model} runs in this process (no Ray, no SecAgg+ yet)",
                                 param_hint="--engine / --secure-aggregation")
    if loaded.train.model == "dp_mst":
        from synthloop.federated.marginal import simulate_marginal

        _done(simulate_marginal(loaded.table(), target, schema=loaded.schema(), settings=loaded.settings(),
                                on_round=_on_exchange, **common))
        return
    if loaded.train.model == "dp_vae":
        from synthloop.federated.dp_sgd import simulate_dp_sgd

        dp_settings = loaded.settings()
        _done(simulate_dp_sgd(loaded.table(), target, schema=loaded.schema(), settings=dp_settings,
                              on_round=_on_round(dp_settings.rounds), **common))
        return
    from synthloop.federated.simulation import simulate as run

    settings = loaded.settings(rounds=rounds, local_epochs=local_epochs, strategy=strategy)
    saved = run(loaded.table(), target, settings=settings, schema=loaded.schema(),
                checkpoint_dir=loaded.checkpoint_dir, on_round=_on_round(settings.rounds),
                engine=engine or loaded.train.engine,
                secure_aggregation=loaded.train.secure_aggregation if secure_aggregation is None else secure_aggregation,
                **common)
    _done(saved)


@app.command("server")
def server(parties: Annotated[int, typer.Option("--parties", help="Parties to wait for before the join.")],
           out: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")],
           address: Annotated[str, typer.Option("--address", help="host:port to listen on.")] = "127.0.0.1:8080",
           rounds: RoundsOption = None, local_epochs: LocalOption = None, strategy: StrategyOption = None,
           proximal_mu: Annotated[float | None, typer.Option("--proximal-mu", help="FedProx strength.")] = None,
           min_parties: Annotated[int | None, typer.Option("--min-parties",
                                                            help="Fewest answering parties a round needs.")] = None,
           target: Annotated[str | None, typer.Option("--target", help="Target column of the common schema.")] = None,
           schema: Annotated[Path | None, typer.Option("--schema", help="A shared schema every party must match.")] = None,
           param: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE",
                                                           help="TVAE parameter, value as JSON; repeatable.")] = None,
           seed: Annotated[int, typer.Option("--seed")] = 0,
           checkpoint_dir: Annotated[Path | None, typer.Option("--checkpoint-dir",
                                                               help="Per-round checkpoints; a re-run resumes.")] = None,
           lineage: Annotated[Path | None, typer.Option("--lineage", help="Lineage store to record the fit in.")] = None,
           round_timeout: Annotated[float, typer.Option("--round-timeout", help="Seconds a round waits.")] = 600.0,
           join_timeout: Annotated[float, typer.Option("--join-timeout",
                                                       help="Seconds to wait for every party.")] = 120.0,
           force: ForceOption = False) -> None:
    """Coordinate a federation over the network: wait for the parties, join, train, save the model."""
    from synthloop.federated.coordinator import Coordinator, FederatedSettings
    from synthloop.federated.flower import serve
    from synthloop.federated.model import new_model
    from synthloop.schema import Schema
    from synthloop.synthesizers import get_class
    from synthloop.synthesizers.params import check_params

    raw = dict(split_pair(pair, "--param") for pair in param or [])
    params = check_params(get_class("tvae"), raw, text=True) if raw else {}
    overrides = {"rounds": rounds, "local_epochs": local_epochs, "strategy": strategy, "proximal_mu": proximal_mu,
                 "min_parties": min_parties, "target": target}
    settings = FederatedSettings(**{k: v for k, v in overrides.items() if v is not None}, params=params, seed=seed)
    new_model(settings.model, settings.params)
    shared = Schema.from_json(schema.read_text()) if schema is not None else None
    coordinator = Coordinator(settings, out, checkpoint_dir=checkpoint_dir, schema=shared, lineage=lineage,
                              overwrite=force, on_round=_on_round(settings.rounds))
    err_console.print(f"Listening on {address} for {parties} parties…", style="dim", highlight=False)
    _done(serve(coordinator, n_parties=parties, address=address, round_timeout=round_timeout,
                join_timeout=join_timeout))


@app.command("party")
def party(data: Annotated[Path, typer.Argument(metavar="DATA", help="This party's table (CSV or Parquet); it stays here.")],
          name: Annotated[str, typer.Option("--name", help="This party's name (logs, provenance, lineage).")],
          server_address: Annotated[str, typer.Option("--server", help="The server's host:port.")] = "127.0.0.1:8080",
          schema: Annotated[Path | None, typer.Option("--schema", help="The shared schema, when the server uses one.")] = None,
          target: Annotated[str | None, typer.Option("--target", help="Target column (for schema inference).")] = None,
          timeout: Annotated[float, typer.Option("--timeout", help="Seconds to keep trying to reach the server.")] = 120.0,
          ) -> None:
    """Join a federation with this party's table: only summaries and weights leave this process."""
    from synthloop.federated.flower import connect
    from synthloop.federated.party import Party
    from synthloop.io import read_table
    from synthloop.schema import Schema

    shared = Schema.from_json(schema.read_text()) if schema is not None else None
    member = Party(name, read_table(data), schema=shared, target=target)
    err_console.print(f"Party {name}: connecting to {server_address} with {len(member.data):,} rows…",
                      style="dim", highlight=False)
    if not connect(member, address=server_address, timeout=timeout):
        err_console.print(f"Party {name}: the federation ended before training finished (or the server was not "
                          f"reachable at {server_address}); the server's output says why.", highlight=False)
        raise typer.Exit(1)
    console.print(f"Party {name}: done; the server saved the model.", highlight=False)
