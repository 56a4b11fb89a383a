"""Lineage: which data is real, which is synthetic, from what, and how many generations deep."""

from synthloop.lineage.fingerprint import fingerprint
from synthloop.lineage.record import (
    link_model,
    model_link,
    provenance_of,
    record_fit,
    record_sample,
    register_file,
    register_table,
    sample_provenance,
    training_record,
)
from synthloop.lineage.store import DatasetRecord, LineageStore

__all__ = ["DatasetRecord", "LineageStore", "fingerprint", "link_model", "model_link", "provenance_of",
           "record_fit", "record_sample", "register_file", "register_table", "sample_provenance", "training_record"]
