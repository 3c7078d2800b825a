"""Artifact store URL -> backend, with an install hint when a package is missing."""

from __future__ import annotations

import os
import re
import uuid
from typing import Any, Final

import anyio.to_thread

from ...errors import ArtifactError, UnsupportedURLError
from ._backend import Backend
from ._local import LocalBackend, absolute
from ._remote import FsspecBackend, InlineAsync
from ._s3 import prepare_session

__all__ = ("make_backend", "split_url")

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://(.*)$", re.DOTALL)
_LOCAL: Final = frozenset({"file", "local"})
#: fsspec protocols that cannot store anything (read-only or views of other stores).
_READ_ONLY: Final = frozenset(
    {
        "http",
        "https",
        "zip",
        "tar",
        "github",
        "git",
        "libarchive",
        "reference",
        "data",
        "jlab",
        "jupyter",
        "blockcache",
        "filecache",
        "simplecache",
        "dir",
    }
)
_INSTALL_HINTS: Final = {
    "s3": "pip install 'flowyml[s3]'",
    "s3a": "pip install 'flowyml[s3]'",
    "gs": "pip install 'flowyml[gcs]'",
    "gcs": "pip install 'flowyml[gcs]'",
    "az": "pip install 'flowyml[azure]'",
    "abfs": "pip install 'flowyml[azure]'",
    "abfss": "pip install 'flowyml[azure]'",
    "adl": "pip install 'flowyml[azure]'",
}


def split_url(url: str) -> tuple[str, str]:
    """Return ``(protocol, rest)``; a plain path is ``("file", path)``."""
    m = _SCHEME.match(url)
    if m is None:
        return "file", url
    return m.group(1).lower(), m.group(2)


def _filesystem_class(url: str, protocol: str) -> Any:
    import fsspec

    try:
        return fsspec.get_filesystem_class(protocol)
    except ValueError as exc:
        raise UnsupportedURLError(
            f"artifact store URL {url!r} has an unknown scheme {protocol!r}; use file://, "
            f"memory://, s3://, gs://, az:// or another fsspec protocol"
        ) from exc
    except ImportError as exc:
        hint = _INSTALL_HINTS.get(protocol)
        how = f"install it with `{hint}`" if hint else f"install its package ({exc})"
        raise ArtifactError(
            f"artifact store URL {url!r} needs an fsspec backend for {protocol!r} that is not "
            f"installed; {how}"
        ) from exc


def _s3_options(options: dict[str, Any]) -> dict[str, Any]:
    # botocore reads keys and region from the standard variables itself; the endpoint is
    # passed explicitly so that AWS_ENDPOINT_URL works with every botocore version.
    if "endpoint_url" not in options and "client_kwargs" not in options:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint_url"] = endpoint
    return options


def make_backend(url: str, storage_options: dict[str, Any], filesystem: Any = None) -> Backend:
    """Build the (not yet opened) backend for ``url``.

    :raises UnsupportedURLError: when the scheme is unknown or cannot store data
    :raises ArtifactError: when the scheme's package is missing or the URL is incomplete
    """
    protocol, rest = split_url(url)
    if protocol in _READ_ONLY:
        raise UnsupportedURLError(
            f"artifact store URL {url!r} uses {protocol!r}, which cannot store artifacts; "
            f"use file://, memory://, s3://, gs://, az:// or another writable fsspec protocol"
        )
    if protocol in _LOCAL:
        root = absolute(rest)
        if filesystem is None:
            return LocalBackend(root)
        return FsspecBackend(
            url=url, protocol="file", root=root, base_uri="file://" + root, fs=_adapt(filesystem)
        )
    if protocol == "memory":
        # fsspec's memory store is one dict shared by every instance: give each store
        # its own root so that stores never see each other's blobs.
        root = "/" + "/".join(p for p in (rest.strip("/"), uuid.uuid4().hex) if p)
        if filesystem is None:
            from fsspec.implementations.memory import MemoryFileSystem

            filesystem = MemoryFileSystem(skip_instance_cache=True)
        return FsspecBackend(
            url=url,
            protocol="memory",
            root=root,
            base_uri="memory://" + root,
            fs=_adapt(filesystem),
        )
    cls = type(filesystem) if filesystem is not None else _filesystem_class(url, protocol)
    root = str(cls._strip_protocol(url)).rstrip("/")
    if not root:
        raise ArtifactError(
            f"artifact store URL {url!r} names no bucket or folder; use e.g. "
            f"{protocol}://my-bucket/flowyml"
        )
    base_uri = url.split("?", 1)[0].rstrip("/")
    if filesystem is not None:
        return FsspecBackend(
            url=url, protocol=protocol, root=root, base_uri=base_uri, fs=_adapt(filesystem)
        )
    options = {**cls._get_kwargs_from_urls(url), **storage_options}
    if protocol in ("s3", "s3a"):
        options = _s3_options(options)

    async def make_fs() -> Any:
        if getattr(cls, "async_impl", False):
            options.setdefault("use_listings_cache", False)
            if protocol in ("s3", "s3a") and "session" not in options:
                options["session"] = await anyio.to_thread.run_sync(prepare_session, options)
            return cls(asynchronous=True, skip_instance_cache=True, **options)
        # A sync filesystem may connect in its constructor (ftp, sftp): off the loop.
        return await anyio.to_thread.run_sync(
            lambda: _adapt(cls(skip_instance_cache=True, **options))
        )

    return FsspecBackend(url=url, protocol=protocol, root=root, base_uri=base_uri, make_fs=make_fs)


def _adapt(fs: Any) -> Any:
    """Give a filesystem instance the async API that :class:`FsspecBackend` drives."""
    from fsspec.implementations.memory import MemoryFileSystem

    if isinstance(fs, MemoryFileSystem):
        return InlineAsync(fs)
    if getattr(fs, "async_impl", False):
        if not getattr(fs, "asynchronous", False):
            raise ArtifactError(
                f"the filesystem {type(fs).__name__} given to the artifact store was created "
                f"for sync use; create it with asynchronous=True"
            )
        return fs
    from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

    return AsyncFileSystemWrapper(fs, asynchronous=True)
