"""The edge gateway daemon: embedded broker, uplink, store-and-forward, control plane and wiring."""

__version__ = "0.1.0"
