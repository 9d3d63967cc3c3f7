"""Publishing a file so that readers see it whole or not at all, on a local disk or an object store.

There are two kinds of store, told apart by pyarrow (``FileSystem.from_uri(root)`` and the
filesystem's ``type_name``), and one code path for each:

- **Local disk** (``local``). The bytes go to a temporary name next to the final path, a
  dot name ending in ``.tmp`` that no reader globbing ``*.parquet`` (and no pyarrow dataset
  discovery) picks up. The file is fsynced, ``os.replace``d over the final path (an atomic
  rename on POSIX), and then the directory is fsynced so the rename itself survives a power
  loss. A crash leaves the previous file or the new one, never a mix, and at worst a
  stray temporary file.
- **Object store** (any other type: ``s3``, ``gcs``, ``abfs``). There is no rename on an object
  store. pyarrow's ``move`` copies and then deletes: that is two writes, a window in which
  both objects exist, a stray temporary object after a crash, and S3's 5 GB limit on a
  single copy. So each object is written once, to its final key. An S3 PUT (or the completion
  of a multipart upload) is atomic: the object appears whole or not at all, and readers
  see the previous version until then. pyarrow's output streams complete their upload
  whenever they are closed, even after an error and even from their destructor. So the
  store's stream must not be opened before every byte exists. The file is first written to a
  local spool file (in the system temporary directory, ``TMPDIR``), so a large file never sits
  in memory whole. It is then copied to the final key in one native call
  (``pyarrow.fs.copy_files``), which Python cannot interrupt part-way. Any failure while the
  file is being produced never reaches the store. A kill or a network failure during the
  copy leaves no object: at most an incomplete multipart upload, which the bucket's
  ``AbortIncompleteMultipartUpload`` lifecycle rule clears. The previous object stays in place.
  No directory marker objects are written: object stores have no directories.

What this module must not do: know about tables or Parquet. It moves bytes, and it leaves the
filesystem's configuration (credentials, endpoint, region) to pyarrow, which reads the standard
AWS environment.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa
import pyarrow.fs as pafs


class StoreKind(StrEnum):
    LOCAL = "local"
    OBJECT_STORE = "object store"


@dataclass(frozen=True)
class Store:
    """A root resolved to its filesystem: ``base`` is the root's path on ``filesystem``."""

    filesystem: pafs.FileSystem
    base: str
    kind: StoreKind


def open_store(root: str) -> Store:
    """The store behind ``root``: a local path, or a URL pyarrow understands (``s3://...``)."""
    if "://" not in root:
        return Store(pafs.LocalFileSystem(), os.path.abspath(root), StoreKind.LOCAL)
    filesystem, base = pafs.FileSystem.from_uri(root)
    kind = StoreKind.LOCAL if filesystem.type_name == "local" else StoreKind.OBJECT_STORE
    return Store(filesystem, base, kind)


@contextlib.contextmanager
def writing_whole(store: Store, path: str) -> Iterator[pa.NativeFile]:
    """A stream for a file's bytes. When the block ends cleanly, the file appears at ``path``
    whole, replacing what was there. When the block raises, ``path`` keeps what it held and
    nothing is left behind."""
    if store.kind is StoreKind.LOCAL:
        with _local_whole(path) as stream:
            yield stream
    else:
        with _object_whole(store.filesystem, path) as stream:
            yield stream


@contextlib.contextmanager
def _local_whole(path: str) -> Iterator[pa.NativeFile]:
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with pa.OSFile(temporary, mode="wb") as stream:
            yield stream
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    if os.name == "nt":  # Windows cannot open a directory to flush it
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _object_whole(filesystem: pafs.FileSystem, path: str) -> Iterator[pa.NativeFile]:
    fd, spool = tempfile.mkstemp(prefix="tiktok-etl-", suffix=".spool")
    os.close(fd)
    try:
        with pa.OSFile(spool, mode="wb") as stream:
            yield stream
        pafs.copy_files(
            spool,
            path,
            source_filesystem=pafs.LocalFileSystem(),
            destination_filesystem=filesystem,
        )
    finally:
        with contextlib.suppress(OSError):
            os.unlink(spool)
