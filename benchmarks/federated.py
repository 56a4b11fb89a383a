"""Federated TVAE on Adult: federated vs central (pooled rows) vs each party alone, on the held-out split.

Adult's training split (39,073 rows) is divided into parties (``--split iid``, ``label`` on income
with Dirichlet(``--alpha``) class shares, or ``column`` by the values of ``--column``); every model is
judged on Adult's test split (9,769 rows no model saw) with ``synthloop.metrics``: detection AUC
(synthetic vs held-out real), TSTR AUC on income, DCR share (chance a synthetic row is closer to the
training rows than a held-out row; 0.5 = like new data) and, per party, membership-inference AUC
(party rows vs held-out rows against the federated sample; with ``--split column``, held-out rows with
the party's values of the column). All three arms train each row for the
same number of epochs (rounds × local epochs); the federated parties use batch_size / n_parties rows
per step, so the averaged update of one step covers as many rows as a central step.

    PYTHONPATH=src python benchmarks/federated.py --parties 3 --split iid --rounds 25 --local-epochs 4
    PYTHONPATH=src python benchmarks/federated.py --parties 3 --split label --alpha 0.5 --strategy fedprox
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import synthloop as sl
from synthloop.federated import FederatedSettings, simulate, split
from synthloop.metrics import get_metric


def judge(synthetic: pd.DataFrame, train: pd.DataFrame, test: pd.DataFrame, schema: sl.Schema) -> dict[str, float]:
    detection = get_metric("detection_auc").function(test, synthetic, schema, rng=np.random.default_rng(0)).value
    tstr = get_metric("tstr_auc").function(train, synthetic, schema, holdout=test, rng=np.random.default_rng(0))
    dcr = get_metric("dcr_share").function(train, synthetic, schema, holdout=test, rng=np.random.default_rng(0))
    return {"detection_auc": round(detection, 4), "tstr_auc": round(tstr.value, 4),
            "tstr_auc_real": round(tstr.baseline, 4), "dcr_share": round(dcr.value, 4)}


def central(train: pd.DataFrame, schema: sl.Schema, epochs: int, params: dict, seed: int) -> tuple[pd.DataFrame, float]:
    start = time.perf_counter()
    model = sl.synthesizers.get("tvae", **params, epochs=epochs, seed=seed, progress=False).fit(train, schema)
    return model.sample(len(train), seed=seed, privacy="off"), time.perf_counter() - start


def federated(train: pd.DataFrame, test: pd.DataFrame, schema: sl.Schema, parts: list[pd.DataFrame],
              settings: FederatedSettings, args: argparse.Namespace) -> dict[str, object]:
    column = args.column if args.split != "iid" else None
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        # simulate() splits the same way with the same seed: the parties hold exactly `parts`.
        out = simulate(train, Path(tmp) / "model", n_parties=args.parties, how=args.split, column=column,
                       alpha=args.alpha, settings=settings, schema=schema)
        seconds = time.perf_counter() - start
        provenance = json.loads((out / "federated.json").read_text())
        model = sl.synthesizers.base.Synthesizer.load(out)
        synthetic = model.sample(len(train), seed=args.seed, privacy="off")
    mia = get_metric("membership_inference_auc").function
    per_party = [round(mia(p, synthetic, schema, holdout=_holdout_like(p, test, column),
                           rng=np.random.default_rng(0)).value, 4) for p in parts]
    return {**judge(synthetic, train, test, schema), "seconds": round(seconds, 1),
            "bytes_per_round": provenance["rounds"][-1]["bytes_sent"], "mia_auc_per_party": per_party}


def _holdout_like(party: pd.DataFrame, test: pd.DataFrame, column: str | None) -> pd.DataFrame:
    """Non-members for a party's membership test: held-out rows from the same population. With a split by a
    column's values, held-out rows with the party's values (else a minority party's rows would look like
    non-members merely for being unlike the mostly-other held-out rows: AUC far below 0.5)."""
    pool = test if column is None else test[test[column].astype(str).isin(party[column].astype(str).unique())]
    return pool.sample(min(len(party), len(pool)), random_state=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=3)
    parser.add_argument("--split", default="iid", choices=["iid", "label", "column"])
    parser.add_argument("--column", default="income")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--local-epochs", type=int, default=4)
    parser.add_argument("--strategy", default="fedavg", choices=["fedavg", "fedprox"])
    parser.add_argument("--mu", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=500, help="Central batch; parties use batch / parties.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="Comma-separated arms to skip: federated, central, alone.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    train, test = sl.datasets.load("adult", split="train"), sl.datasets.load("adult", split="test")
    schema = sl.Schema.infer(train, target="income")
    epochs = args.rounds * args.local_epochs
    column = args.column if args.split != "iid" else None
    parts = split(train, args.parties, how=args.split, column=column, alpha=args.alpha, seed=args.seed)
    results: dict[str, object] = {"setup": {**vars(args), "json": None, "party_rows": [len(p) for p in parts],
                                            "epochs_per_row": epochs}}
    skip = set(filter(None, args.skip.split(",")))

    settings = FederatedSettings(rounds=args.rounds, local_epochs=args.local_epochs, strategy=args.strategy,
                                 proximal_mu=args.mu, seed=args.seed, target="income",
                                 params={"batch_size": max(args.batch_size // args.parties, 1)})
    if "federated" not in skip:
        results["federated"] = federated(train, test, schema, parts, settings, args)
        print("federated", results["federated"], flush=True)
    if "central" not in skip:
        synthetic, seconds = central(train, schema, epochs, {"batch_size": args.batch_size}, args.seed)
        results["central"] = {**judge(synthetic, train, test, schema), "seconds": round(seconds, 1)}
        print("central", results["central"], flush=True)
    if "alone" not in skip:
        alone = []
        for index, part in enumerate(parts):
            synthetic, seconds = central(part, schema, epochs, {"batch_size": max(args.batch_size // args.parties, 1)},
                                         args.seed)
            alone.append({**judge(synthetic, train, test, schema), "party_rows": len(part), "seconds": round(seconds, 1)})
            print("alone", index, alone[-1], flush=True)
        results["alone"] = alone
        results["alone_median"] = {key: float(np.median([a[key] for a in alone]))
                                   for key in ("detection_auc", "tstr_auc", "dcr_share")}
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
