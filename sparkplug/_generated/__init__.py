"""Generated protobuf code for Sparkplug B; see regenerate.py. Never imported outside sparkplug._codec."""
