import multiprocessing
import sqlite3

import numpy as np
import pandas as pd
import pytest

from synthloop.errors import LineageError
from synthloop.io.tables import write_table
from synthloop.lineage import (
    LineageStore,
    fingerprint,
    link_model,
    model_link,
    provenance_of,
    record_fit,
    record_sample,
    register_file,
    sample_provenance,
)


@pytest.fixture
def store(lineage_location):
    """Each store test runs on SQLite and, when a server is configured, on PostgreSQL."""
    return LineageStore(lineage_location)


@pytest.fixture
def small(adult_small):
    return adult_small.head(200).reset_index(drop=True)


# ---------------------------------------------------------------- fingerprint
def test_fingerprint_ignores_row_and_column_order(small):
    shuffled = small.sample(frac=1.0, random_state=1)[list(reversed(small.columns))]
    assert fingerprint(shuffled) == fingerprint(small)


def test_fingerprint_survives_csv_and_parquet_round_trips(small, tmp_path):
    small.to_csv(tmp_path / "a.csv", index=False)
    small.to_parquet(tmp_path / "a.parquet")
    assert fingerprint(pd.read_csv(tmp_path / "a.csv")) == fingerprint(small)
    assert fingerprint(pd.read_parquet(tmp_path / "a.parquet")) == fingerprint(small)


def test_fingerprint_treats_equal_values_in_other_dtypes_as_equal():
    ints = pd.DataFrame({"n": [1, 2, 3], "c": ["a", "b", None]})
    floats = pd.DataFrame({"n": [1.0, 2.0, 3.0], "c": pd.Categorical(["a", "b", None])})
    assert fingerprint(ints) == fingerprint(floats)


def test_fingerprint_changes_with_content(small):
    changed = small.copy()
    changed.loc[0, "age"] = changed.loc[0, "age"] + 1
    duplicated = pd.concat([small, small.head(1)], ignore_index=True)
    ids = {fingerprint(small), fingerprint(changed), fingerprint(duplicated), fingerprint(small.rename(columns={"age": "a"}))}
    assert len(ids) == 4


# ---------------------------------------------------------------- store
def test_depth_and_share_follow_the_generations(store, small):
    real = store.add(small, kind="real", name="adult")
    gen1 = store.add(small.head(150), kind="synthetic", parents=[real.id], synthesizer="independent")
    gen2 = store.add(small.head(120), kind="synthetic", parents=[gen1.id], synthesizer="independent")
    mixed = store.add(small.head(90), kind="mixed", parents={real.id: 30, gen2.id: 60})
    assert (real.depth, gen1.depth, gen2.depth, mixed.depth) == (0, 1, 2, 2)
    assert (real.synthetic_share, gen2.synthetic_share) == (0.0, 1.0)
    assert mixed.synthetic_share == pytest.approx(60 / 90)
    ancestors = [r.id for r in store.ancestors(mixed.id)]
    assert set(ancestors[:2]) == {real.id, gen2.id} and ancestors[2:] == [gen1.id]  # nearest first
    assert store.depth(gen2.id) == 2 and store.synthetic_share(mixed.id) == pytest.approx(2 / 3)
    assert [c.id for c in store.children(gen1.id)] == [gen2.id]


def test_adding_the_same_data_twice_is_idempotent(store, small):
    first = store.add(small, kind="real")
    again = store.add(small.iloc[::-1], kind="real")
    assert first.id == again.id and len(store.records()) == 1


def test_ids_resolve_from_unique_prefixes(store, small):
    record = store.add(small, kind="real")
    assert store.get(record.id[:6]).id == record.id


def test_unknown_id_is_a_clear_error_and_changes_nothing(store, small):
    store.add(small, kind="real")
    before = (store.records(), store.events())
    with pytest.raises(LineageError, match=r"No dataset 'ffffffff'.*lineage audit"):
        store.get("ffffffff")
    with pytest.raises(LineageError, match="not in"):
        store.add(small.head(10), kind="synthetic", parents=["ffffffffffffffff"])
    assert (store.records(), store.events()) == before


def test_real_data_cannot_descend_from_synthetic_data(store, small):
    real = store.add(small, kind="real")
    synthetic = store.add(small.head(50), kind="synthetic", parents=[real.id])
    with pytest.raises(LineageError, match="mixed"):
        store.add(small.head(20), kind="real", parents=[synthetic.id])


def test_a_file_that_is_not_a_store_is_refused_and_left_untouched(tmp_path):
    text = tmp_path / "notes.db"
    text.write_bytes(b"these are my notes, not a database\n" * 10)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE things (x INTEGER)")
    before = {path: path.read_bytes() for path in (text, other)}
    for path in (text, other):
        with pytest.raises(LineageError, match=r"not a synthloop lineage store.*untouched"):
            LineageStore(path)
        assert path.read_bytes() == before[path]
    with pytest.raises(LineageError, match="No lineage store"):
        LineageStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A store of 41 records spread over several pages, built once; tests damage copies of it."""
    path = tmp_path_factory.mktemp("filled") / "lineage.db"
    store = LineageStore(path)
    real = store.add(pd.DataFrame({"x": np.arange(50.0)}), kind="real")
    synthetic = [store.add(pd.DataFrame({"x": np.arange(10.0) + i}), kind="synthetic", parents=[real.id],
                           synthesizer="independent", params={"i": i, "pad": "p" * 1000}) for i in range(40)]
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, [real, *synthetic]


def _copy(filled, tmp_path):
    path = tmp_path / "lineage.db"
    path.write_bytes(filled[0].read_bytes())
    return path, filled[1]


def _use_everything(store: LineageStore, records) -> None:
    store.records()
    store.get(records[-1].id)
    store.ancestors(records[-1].id)
    store.events()
    store.add(pd.DataFrame({"x": np.arange(3.0)}), kind="synthetic", parents=[records[0].id])


@pytest.mark.parametrize("damage", [
    "UPDATE meta SET value = 'one' WHERE key = 'version'",
    "UPDATE datasets SET params = 'not json {'",
    "UPDATE events SET detail = '[1, 2'",
    "PRAGMA ignore_check_constraints = 1; UPDATE datasets SET kind = 'alien'",
    "UPDATE datasets SET n_rows = 'many'",
    "DROP TABLE datasets",
    "DROP TABLE edges; CREATE TABLE edges (child TEXT)",
], ids=["version-text", "params-not-json", "detail-not-json", "unknown-kind", "rows-as-text", "dropped-table",
        "missing-columns"])
def test_a_damaged_store_is_one_clear_error_and_left_as_it_is(filled, tmp_path, damage):
    path, records = _copy(filled, tmp_path)
    with sqlite3.connect(path) as db:
        db.executescript(damage)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    with pytest.raises(LineageError, match="lineage store"):
        _use_everything(LineageStore(path), records)
    assert path.read_bytes() == before                   # never "repaired" by recreating empty tables


def test_a_store_with_malformed_pages_is_one_clear_error(filled, tmp_path):
    path, records = _copy(filled, tmp_path)
    content = bytearray(path.read_bytes())
    page = 4096
    for start in range(len(content) // page // 2 * page, len(content), page):   # the later half of the pages
        content[start:start + page] = b"\xab" * page
    path.write_bytes(bytes(content))
    with pytest.raises(LineageError, match=r"is damaged \(database disk image is malformed\)"):
        _use_everything(LineageStore(path), records)


def _write_many(path: str, worker: int, n_records: int) -> None:
    store = LineageStore(path)
    real = store.add(pd.DataFrame({"x": np.arange(50.0)}), kind="real")  # the same real data in every worker
    for i in range(n_records):
        data = pd.DataFrame({"x": np.arange(10.0) + 1000 * worker + i})
        store.add(data, kind="synthetic", parents=[real.id], synthesizer="independent", params={"worker": worker})


def test_concurrent_writers_neither_corrupt_nor_lose_records(tmp_path):
    path = str(tmp_path / "shared.db")
    n_workers, n_records = 4, 25
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(path, w, n_records)) for w in range(n_workers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * n_workers
    store = LineageStore(path)
    records = store.records()
    assert len(records) == 1 + n_workers * n_records
    assert sum(r.kind == "synthetic" and r.depth == 1 for r in records) == n_workers * n_records
    assert len(store.events()) == n_workers * (n_records + 1)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------- provenance and recording
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_synthetic_file_is_recognised_when_registered_again(store, small, tmp_path, suffix):
    real = store.add(small, kind="real")
    gen1 = store.add(small.head(100), kind="synthetic", parents=[real.id], synthesizer="independent")
    gen2 = store.add(small.head(80), kind="synthetic", parents=[gen1.id], synthesizer="independent")
    path = write_table(small.head(80), tmp_path / f"synthetic{suffix}", metadata=gen2.provenance())
    assert provenance_of(path)["kind"] == "synthetic"
    elsewhere = LineageStore(tmp_path / "other.db")
    again = register_file(elsewhere, path)
    assert (again.id, again.kind, again.depth, again.synthetic_share) == (gen2.id, "synthetic", 2, 1.0)
    with pytest.raises(LineageError, match="cannot be registered as real"):
        register_file(LineageStore(tmp_path / "third.db"), path, kind="real")


def test_record_fit_and_sample_link_a_model_to_its_training_data(store, small, tmp_path):
    training = record_fit(store, small, synthesizer="independent", params={"seed": 0})
    link_model(tmp_path / "model", training, store)
    link = model_link(tmp_path / "model")
    assert (link.training_id, link.depth) == (training.id, 0)
    synthetic = record_sample(store, small.head(60), training_id=link.training_id, synthesizer="independent")
    assert synthetic.parents == (training.id,) and synthetic.depth == 1
    assert [e["action"] for e in store.events(training.id)] == ["fit", "fit"]
    assert store.events(synthetic.id)[0]["action"] == "sample"


def test_sample_provenance_carries_depth_with_or_without_a_store(store, small, tmp_path):
    gen1 = store.add(small, kind="synthetic", synthesizer="independent")  # depth 1, unknown parent
    link_model(tmp_path / "model", gen1, store)
    alone = sample_provenance(small.head(40), tmp_path / "model", synthesizer="independent")["lineage"]
    assert (alone["kind"], alone["depth"], alone["parents"]) == ("synthetic", 2, [gen1.id])
    recorded = sample_provenance(small.head(40), tmp_path / "model", synthesizer="independent", store=store)
    assert store.get(recorded["lineage"]["id"]).depth == 2
    elsewhere = LineageStore(tmp_path / "elsewhere.db")
    moved = sample_provenance(small.head(30), tmp_path / "model", synthesizer="independent", store=elsewhere)
    assert elsewhere.get(moved["lineage"]["id"]).depth == 2


# ---------------------------------------------------------------- PostgreSQL backend
def test_a_postgres_store_hides_its_password_and_reopens_in_workers(lineage_location, small):
    if not str(lineage_location).startswith("postgresql://"):
        pytest.skip("PostgreSQL only")
    import pickle

    store = LineageStore(lineage_location)
    record = store.add(small.head(30), kind="real")
    again = pickle.loads(pickle.dumps(store))        # what a worker process receives
    assert again.get(record.id) == record and len(again.events()) == 1
    from synthloop.lineage.postgres import safe_dsn

    assert safe_dsn("postgresql://ann:secret@db.example/lineage") == "postgresql://ann:***@db.example/lineage"


def test_concurrent_postgres_writers_lose_nothing(lineage_location):
    if not str(lineage_location).startswith("postgresql://"):
        pytest.skip("PostgreSQL only")
    n_workers, n_records = 3, 10
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(lineage_location, w, n_records)) for w in range(n_workers)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * n_workers
    records = LineageStore(lineage_location).records()
    assert len(records) == 1 + n_workers * n_records
