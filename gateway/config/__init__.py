"""Loading and validating the gateway's configuration file, with clear errors.

Public surface:

- :func:`load_config` / :func:`load_config_text` -> :class:`LoadedConfig` (the typed
  :class:`GatewayConfig`, the origin of every value, the text and its SHA-256), or
  :class:`ConfigError` listing every :class:`ConfigProblem` (``file:line: key: reason``);
- the model: :mod:`gateway.config.model` (sections) and :mod:`gateway.config.devices` (devices, tags);
- :func:`demo_config_text`: the built-in demo configuration.
"""

from gateway.config._builder import Origin
from gateway.config._types import Secret
from gateway.config.errors import ConfigError, ConfigProblem
from gateway.config.loader import LoadedConfig, load_config, load_config_text
from gateway.config.model import GatewayConfig

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "GatewayConfig",
    "LoadedConfig",
    "Origin",
    "Secret",
    "load_config",
    "load_config_text",
]
