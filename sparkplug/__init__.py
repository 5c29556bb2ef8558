"""Sparkplug B 3.0: schema, typed metric model, topic namespace, and the edge-node lifecycle core."""
