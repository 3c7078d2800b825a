"""Compile: a pipeline's definition -> an immutable :class:`Dag` (every problem at once)."""

from ._compiler import build_dag as build_dag
from ._compiler import compile_dag as compile_dag
from ._dag import Dag as Dag
from ._groups import StepGroup as StepGroup

__all__ = ("Dag", "StepGroup", "build_dag", "compile_dag")
