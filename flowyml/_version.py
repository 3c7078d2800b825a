"""The version of flowyml (read by the build backend and by ``flowyml.__version__``)."""

__version__ = "3.0.0a1"
