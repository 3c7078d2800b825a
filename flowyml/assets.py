"""Typed assets: outputs that carry meaning beyond "a value".

A step returns ``Dataset(frame)``, ``Model(estimator)`` or ``Metrics({"mse": 0.1})``
like any value.  The asset is stored through the materializer of the value it wraps, and
its metadata (row count, schema, framework, parameter count, metric values, plus anything
you pass) is recorded with the artifact, where the server, the dashboard and
:meth:`flowyml.Client.metrics` can read it without loading the value.

A downstream parameter annotated with an asset type receives the asset; any other
parameter receives the wrapped value.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

__all__ = ("Asset", "Dataset", "Metrics", "Model")

T = TypeVar("T")


class Asset(Generic[T]):
    """A value with metadata.  Subclass it for your own kinds (set ``kind``).

    :param value: the wrapped value
    :param name: an optional display name
    :param metadata: extra JSON-able metadata recorded with the artifact
    """

    kind: ClassVar[str] = "asset"
    __slots__ = ("metadata", "name", "value")

    def __init__(
        self, value: T, *, name: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> None:
        self.value = value
        self.name = name
        self.metadata: dict[str, Any] = dict(metadata or {})

    @classmethod
    def create(
        cls,
        data: Any = None,
        *,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        **more: Any,
    ) -> Self:
        """Build an asset the keyword way: ``Dataset.create(data=rows, name="train", split=0.8)``.

        :param data: the wrapped value (the constructor's ``value``)
        :param name: an optional display name
        :param properties: metadata recorded with the artifact
        :param more: more metadata, by keyword (merged over ``properties``)
        """
        return cls(data, name=name, metadata={**(properties or {}), **more})

    @property
    def data(self) -> T:
        """The wrapped value (the same object as :attr:`value`)."""
        return self.value

    @property
    def properties(self) -> dict[str, Any]:
        """The user metadata recorded with the artifact (the same dict as :attr:`metadata`)."""
        return self.metadata

    def describe(self) -> dict[str, Any]:
        """Metadata derived from the value (override in subclasses)."""
        return {}

    def info(self) -> dict[str, Any]:
        """Everything recorded with the artifact: kind, derived and user metadata."""
        info: dict[str, Any] = {"asset": self.kind, "asset_class": _qualname(type(self))}
        if self.name:
            info["asset_name"] = self.name
        with contextlib.suppress(Exception):  # describing is a nicety: never fail a step
            info.update(self.describe())
        info.update(self.metadata)
        return info

    def __eq__(self, other: object) -> bool:
        """Assets are equal when they are of one class and hold equal values, names and
        metadata (values whose ``==`` is not a plain truth value, such as arrays, are
        compared by identity)."""
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Asset)
        if self.name != other.name or self.metadata != other.metadata:
            return False
        if self.value is other.value:
            return True
        try:
            return bool(self.value == other.value)
        except (TypeError, ValueError):  # e.g. "the truth value of an array is ambiguous"
            return False

    # Equality follows the wrapped value and the metadata dict, both mutable: like a list,
    # an asset is unhashable (a hash must never change while the object lives).
    __hash__: ClassVar[None] = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class Dataset(Asset[T]):
    """Tabular or array data: records row count, shape and schema where the value allows."""

    kind = "dataset"
    __slots__ = ()

    def describe(self) -> dict[str, Any]:
        """Rows, shape and columns/dtypes for DataFrames, arrays, and lists of records."""
        v: Any = self.value
        shape = getattr(v, "shape", None)
        if shape is not None and hasattr(v, "dtypes") and hasattr(v, "columns"):
            return {
                "rows": int(shape[0]),
                "shape": [int(x) for x in shape],
                "schema": {str(c): str(t) for c, t in v.dtypes.items()},
            }
        if shape is not None and hasattr(v, "dtype"):
            return {
                "rows": int(shape[0]) if shape else 1,
                "shape": [int(x) for x in shape],
                "dtype": str(v.dtype),
            }
        if isinstance(v, list | tuple):
            out: dict[str, Any] = {"rows": len(v)}
            if v and isinstance(v[0], Mapping):
                out["schema"] = {str(k): type(x).__name__ for k, x in v[0].items()}
            return out
        if isinstance(v, Mapping):
            return {"rows": len(v)}
        return {}


class Model(Asset[T]):
    """A trained model: records its framework and parameter count where known."""

    kind = "model"
    __slots__ = ()

    @classmethod
    def create(
        cls,
        data: Any = None,
        *,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        trained_on: Asset[Any] | str | None = None,
        **more: Any,
    ) -> Self:
        """Build a model asset; ``trained_on`` (a dataset asset or its name) is recorded
        as the ``trained_on`` metadata entry.

        The recorded lineage of a run comes from its artifacts (which step read what);
        ``trained_on`` is a label shown with the model, not a link the engine follows.

        :raises TypeError: when ``trained_on`` is neither an asset nor a string
        """
        extra = dict(more)
        if trained_on is not None:
            extra["trained_on"] = _label(trained_on)
        return super().create(data, name=name, properties=properties, **extra)

    def describe(self) -> dict[str, Any]:
        """``framework`` (the value's top-level package) and ``parameters`` when countable."""
        v: Any = self.value
        out: dict[str, Any] = {"framework": type(v).__module__.split(".")[0]}
        count = _count_parameters(v)
        if count is not None:
            out["parameters"] = count
        return out


class Metrics(Asset[dict[str, float]]):
    """A flat mapping of metric name -> number, chartable across runs."""

    kind = "metrics"
    __slots__ = ()

    def __init__(
        self,
        value: Mapping[str, float],
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(
                f"Metrics needs a mapping of name -> number, got {type(value).__name__}"
            )
        clean: dict[str, float] = {}
        for k, x in value.items():
            if not isinstance(k, str) or isinstance(x, bool) or not isinstance(x, numbers.Real):
                raise TypeError(
                    f"Metrics values must be numbers keyed by str; {k!r} is {type(x).__name__}"
                )
            clean[k] = float(x) if not isinstance(x, int) else x
        super().__init__(clean, name=name, metadata=metadata)

    @classmethod
    def create(
        cls,
        data: Mapping[str, float] | None = None,
        *,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **values: float,
    ) -> Self:
        """Build metrics from a mapping and/or keywords: ``Metrics.create(accuracy=0.93)``.

        :param data: metric name -> number
        :param metrics: more metrics (the same as ``data``)
        :param values: more metrics, by keyword
        :param properties: metadata recorded with the artifact (``metadata`` is merged in)
        :raises TypeError: naming the metric whose value is not a number
        """
        merged: dict[str, float] = {**(data or {}), **(metrics or {}), **values}
        return cls(merged, name=name, metadata={**(properties or {}), **(metadata or {})})

    def describe(self) -> dict[str, Any]:
        """The metrics themselves."""
        return {"metrics": dict(self.value)}

    def __getitem__(self, key: str) -> float:
        return self.value[key]


def _label(asset: object) -> str:
    """How ``trained_on`` is recorded: an asset's name (else its kind), or the string."""
    if isinstance(asset, Asset):
        return asset.name or asset.kind
    if isinstance(asset, str):
        return asset
    raise TypeError(
        f"Model.create: trained_on must be an asset or a name, got {type(asset).__name__}"
    )


def _qualname(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _count_parameters(v: Any) -> int | None:
    params = getattr(v, "parameters", None)
    if callable(params):  # torch.nn.Module and friends
        try:
            return int(sum(p.numel() for p in params()))
        except Exception:
            return None
    sizes = (
        [
            int(getattr(a, "size", 0))
            for name, a in vars(v).items()
            if name.endswith("_") and not name.startswith("_") and hasattr(a, "size")
        ]
        if hasattr(v, "__dict__")
        else []
    )
    if sizes:  # scikit-learn: fitted arrays end with "_"
        return sum(sizes)
    if isinstance(v, Mapping) and all(isinstance(x, numbers.Real) for x in v.values()):
        return len(v)
    return None
