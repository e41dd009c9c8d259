"""Configuration: strict schema, YAML loading with line numbers, compilation and hot reload."""

from proxy.config.errors import ConfigError, Problem
from proxy.config.loader import Loaded, load
from proxy.config.schema import ProxyConfig

__all__ = ["ConfigError", "Loaded", "Problem", "ProxyConfig", "load"]
