"""Sub-commands of ``edge-gateway``.

Each module here is one sub-command (or a family of them) and exposes::

    def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None

which adds its parser and sets ``func`` (a callable taking the parsed namespace and returning the exit
code) with ``parser.set_defaults(func=...)``. :mod:`gateway.cli` discovers the modules, so adding a
command never means editing a shared table. Modules import their heavy dependencies inside ``func``
so that ``edge-gateway --help`` stays fast on a Raspberry Pi.
"""
