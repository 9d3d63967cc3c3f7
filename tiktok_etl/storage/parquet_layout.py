"""The one-off rename of Parquet folders ``account=<key>`` (earlier releases) to
``account_key=<key>``, the column's name in PostgreSQL.

Run by :func:`~tiktok_etl.runtime.open_runtime` on every start: after the first it finds
nothing to do at the cost of one listing per table. The rename goes file by file, on a local
disk or an object store alike (pyarrow's ``move``: a rename locally, a copy and a delete on
S3). A file already present under the new name was written by the current release and is
newer, so it wins and the old one is deleted. Interrupted, the next start finishes the job;
the dataset is never half lost, but run it with the writers stopped (README: "Where
everything lives"), as a writer of the same partition could race a move.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

import pyarrow.fs as pafs

from tiktok_etl.storage.mentions_table import MENTIONS
from tiktok_etl.storage.parquet import ACCOUNT_FOLDER
from tiktok_etl.storage.tables import RAW_TABLES
from tiktok_etl.storage.whole_files import StoreKind, open_store

_log = logging.getLogger(__name__)

LEGACY_FOLDER = "account"
# the tables with a Parquet copy
PARQUET_TABLES: tuple[str, ...] = (*(spec.name for spec in RAW_TABLES), MENTIONS.name)


def _listing(filesystem: pafs.FileSystem, path: str, *, recursive: bool) -> list[pafs.FileInfo]:
    selector = pafs.FileSelector(path, allow_not_found=True, recursive=recursive)
    return list(filesystem.get_file_info(selector))


def rename_account_folders(root: str, tables: Iterable[str] = PARQUET_TABLES) -> int:
    """Move every file under ``<root>/<table>/account=<key>/`` to ``account_key=<key>/``;
    returns the files moved (0 once done)."""
    store = open_store(root)
    filesystem = store.filesystem
    moved = 0
    prefix = f"{LEGACY_FOLDER}="
    for table in tables:
        table_dir = f"{store.base.rstrip('/')}/{table}"
        for folder in _listing(filesystem, table_dir, recursive=False):
            if folder.type != pafs.FileType.Directory or not folder.base_name.startswith(prefix):
                continue
            key = folder.base_name[len(prefix) :]
            target_dir = f"{table_dir}/{ACCOUNT_FOLDER}={key}"
            for entry in _listing(filesystem, folder.path, recursive=True):
                # temporary dot files are leftovers of interrupted writes: not data
                if entry.type != pafs.FileType.File or entry.base_name.startswith("."):
                    continue
                target = target_dir + entry.path[len(folder.path) :]
                if filesystem.get_file_info(target).type == pafs.FileType.File:
                    filesystem.delete_file(entry.path)
                else:
                    if store.kind is StoreKind.LOCAL:  # an object store has no folders
                        filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
                    filesystem.move(entry.path, target)
                moved += 1
            # an object store's "folder" may have gone with its last object
            with contextlib.suppress(FileNotFoundError):
                filesystem.delete_dir(folder.path)
            _log.info("renamed Parquet folder %s to %s", folder.path, target_dir)
    return moved
