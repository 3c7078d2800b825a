"""S3 specifics on top of an async ``s3fs.S3FileSystem``.

Streamed uploads (:func:`stage_stream`) use a multipart upload to a temporary key
``<prefix>/tmp/<uuid>``: parts of at least :data:`PART_SIZE` are hashed (in a worker
thread) and uploaded one at a time, so memory stays around two parts whatever the
size.  S3 makes a multipart upload visible only when it completes, and an aborted or
abandoned one is never visible.  The content hash is known only at the end, so the
completed temporary object is then copied server-side to its content key and deleted
(a copy is atomic too).  A stream shorter than one part is kept in memory and written
with a single PUT straight to its content key.  If the process dies between the
completion and the delete, an orphan is left under ``tmp/`` (never under ``blobs/``);
a bucket lifecycle rule on ``tmp/`` cleans those up.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, Final

import anyio

from ...errors import ArtifactError
from ._backend import TMP_DIR, Digest, Staged, rechunk

__all__ = (
    "CONDITIONAL_PUT_LIMIT",
    "PART_SIZE",
    "check_bucket",
    "close",
    "prepare_session",
    "put_if_absent",
    "stage_stream",
    "stream_object",
)

#: Up to this size a blob is written with one conditional PUT (``If-None-Match: *``)
#: rather than HEAD + PUT: re-sending it when it exists costs less than a round trip.
CONDITIONAL_PUT_LIMIT: Final = 1 << 20
#: Size of multipart-upload parts (S3 needs >= 5 MiB for all but the last one).
PART_SIZE: Final = 8 << 20
_CLEANUP_TIMEOUT: Final = 30.0


def prepare_session(options: dict[str, Any]) -> Any:
    """Return an aiobotocore session with its files already read (call in a worker thread).

    Creating the first client of a session reads botocore's config files and data
    files (service model, endpoints): ~0.1-0.3 s of blocking file I/O.  Doing it once
    here, in a throwaway event loop of this worker thread, leaves the session's caches
    warm, so the real client is then created on the caller's loop without file I/O.
    """
    import asyncio
    import importlib

    aiobotocore_session = importlib.import_module("aiobotocore.session")
    session = aiobotocore_session.AioSession(profile=options.get("profile"))
    init = {
        "endpoint_url": options.get("endpoint_url"),
        "aws_access_key_id": options.get("key"),
        "aws_secret_access_key": options.get("secret"),
        "aws_session_token": options.get("token"),
    }
    kwargs = {k: v for k, v in init.items() if v is not None}
    kwargs.update(options.get("client_kwargs") or {})

    async def warm() -> None:
        async with session.create_client("s3", **kwargs):
            pass

    asyncio.run(warm())
    return session


async def put_if_absent(fs: Any, path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` with one PUT that S3 refuses if ``path`` exists."""
    try:
        await fs._pipe_file(path, data, mode="create")
    except FileExistsError:
        return
    except Exception:
        # An S3-compatible server without conditional writes: the bytes at a content
        # address are always the same, so a plain PUT is just as correct.
        if await fs._exists(path):
            return
        await fs._pipe_file(path, data)


async def check_bucket(fs: Any, bucket: str, url: str) -> None:
    """Raise :class:`ArtifactError` unless ``bucket`` exists and can be reached."""
    try:
        await fs._call_s3("head_bucket", Bucket=bucket)
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"S3 bucket {bucket!r} (artifact store {url!r}) does not exist; create it first "
            f"(e.g. `aws s3 mb s3://{bucket}`) or fix the URL; flowyml never creates buckets"
        ) from exc
    except PermissionError as exc:
        raise ArtifactError(
            f"access to S3 bucket {bucket!r} (artifact store {url!r}) was denied; check the "
            f"credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or storage options)"
        ) from exc
    except Exception as exc:
        endpoint = getattr(fs, "endpoint_url", None) or "the default AWS endpoint"
        raise ArtifactError(
            f"cannot reach S3 bucket {bucket!r} (artifact store {url!r}) at {endpoint}: "
            f"{exc}; check AWS_ENDPOINT_URL and the network"
        ) from exc


async def close(fs: Any) -> None:
    """Close the aiobotocore client that ``fs.set_session()`` opened."""
    client = getattr(fs, "_s3", None)
    if client is not None:
        fs._s3 = None
        await client.close()


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.partition("/")
    return bucket, key


async def stream_object(fs: Any, path: str, chunk_size: int) -> AsyncGenerator[bytes, None]:
    """Yield an object's bytes from one GET, without buffering the whole body."""
    bucket, key = _split(path)
    resp = await fs._call_s3("get_object", Bucket=bucket, Key=key)
    async with resp["Body"] as body:
        async for chunk in body.iter_chunks(chunk_size):
            if chunk:
                yield chunk


async def stage_stream(fs: Any, root: str, chunks: AsyncIterator[bytes], digest: Digest) -> Staged:
    """Upload ``chunks`` to a temporary key (multipart) or keep them if under one part."""
    async with aclosing(rechunk(chunks, PART_SIZE)) as parts:
        first = await anext(parts, None)
        if first is None or len(first) < PART_SIZE:
            # Small stream: nothing can follow a piece shorter than PART_SIZE.
            data = first or b""
            await digest.aupdate(data)
            return Staged(data=data)
        tmp_key = f"{TMP_DIR}/{uuid.uuid4().hex}"
        pending = [first]
        del first  # so that only _multipart holds the part and can drop it
        await _multipart(fs, f"{root}/{tmp_key}", pending, parts, digest)
    return Staged(key=tmp_key)


async def _multipart(
    fs: Any, path: str, pending: list[bytes], parts: AsyncIterator[bytes], digest: Digest
) -> None:
    bucket, key = _split(path)
    upload = await fs._call_s3("create_multipart_upload", Bucket=bucket, Key=key)
    upload_id = upload["UploadId"]
    done: list[dict[str, Any]] = []
    try:
        part: bytes | None = pending.pop()
        while part is not None:
            await digest.aupdate(part)
            number = len(done) + 1
            out = await fs._call_s3(
                "upload_part",
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=part,
            )
            done.append({"PartNumber": number, "ETag": out["ETag"]})
            part = None  # drop the reference before reading the next part
            part = await anext(parts, None)
        await fs._call_s3(
            "complete_multipart_upload",
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
        )
    except BaseException:
        with anyio.move_on_after(_CLEANUP_TIMEOUT, shield=True):
            with contextlib.suppress(Exception):  # the original error matters more
                await fs._call_s3(
                    "abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload_id
                )
        raise
