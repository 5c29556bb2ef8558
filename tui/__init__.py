"""The technician's terminal UI (Textual). Talks to the daemon only through the control plane."""
