"""Reading and writing tables and model artifacts, atomically and with clear errors."""

from synthloop.io.atomic import atomic_dir, atomic_write
from synthloop.io.tables import read_table, write_table

__all__ = ["atomic_dir", "atomic_write", "read_table", "write_table"]
