"""Artifact storage: content-addressed blobs, materializers and value (de)serialisation."""

from __future__ import annotations

from ._fsspec import FsspecArtifactStore as FsspecArtifactStore
from ._materializers import BytesMaterializer as BytesMaterializer
from ._materializers import JsonMaterializer as JsonMaterializer
from ._materializers import MaterializerRegistry as MaterializerRegistry
from ._materializers import NumpyMaterializer as NumpyMaterializer
from ._materializers import PandasMaterializer as PandasMaterializer
from ._materializers import PickleMaterializer as PickleMaterializer
from ._materializers import StrMaterializer as StrMaterializer
from ._materializers import default_registry as default_registry
from ._open import open_artifact_store as open_artifact_store
from ._values import artifact_id as artifact_id
from ._values import load_value as load_value
from ._values import save_value as save_value

__all__ = (
    "BytesMaterializer",
    "FsspecArtifactStore",
    "JsonMaterializer",
    "MaterializerRegistry",
    "NumpyMaterializer",
    "PandasMaterializer",
    "PickleMaterializer",
    "StrMaterializer",
    "artifact_id",
    "default_registry",
    "load_value",
    "open_artifact_store",
    "save_value",
)
