"""Reliatic Appliance: on-premises reliability and integrity data API."""

from importlib.metadata import PackageNotFoundError, version

try:
    # One source: pyproject.toml's `version`, as installed. SPEC §3: it is what OpenAPI and
    # `reliatic --version` report, and a copy kept here would drift from it.
    __version__ = version("reliatic-appliance")
except PackageNotFoundError:  # a source tree put on sys.path without installing it
    __version__ = "0+unknown"
