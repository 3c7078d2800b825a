"""The artifact store factory: a URL in, a store (not yet opened) out."""

from __future__ import annotations

from typing import Any

from ._fsspec import FsspecArtifactStore

__all__ = ("open_artifact_store",)


def open_artifact_store(url: str, **storage_options: Any) -> FsspecArtifactStore:
    """Return the artifact store for ``url``; ``await store.open()`` before use.

    ``file:///abs/path`` or a plain path is the local default; ``memory://name`` keeps
    blobs in this process (per store); ``s3://bucket/prefix`` needs ``flowyml[s3]``;
    any other writable fsspec protocol works when its package is installed.

    :param url: where the blobs live
    :param storage_options: passed to the fsspec filesystem (e.g. S3 ``key``/``secret``/
        ``endpoint_url``; by default the standard ``AWS_*`` variables are used)
    :raises UnsupportedURLError: when the scheme is unknown or cannot store data
    :raises ArtifactError: when the scheme's package is not installed (with the
        ``pip install`` command)
    """
    return FsspecArtifactStore(url, **storage_options)
