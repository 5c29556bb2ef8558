"""Build hook for the optional C accelerator of the Sparkplug codec (everything else is in pyproject.toml).

``sparkplug/_speedups*.c`` is marked optional: without a C compiler or Python headers the build only
warns and the package installs pure Python (``sparkplug._accel`` then falls back to the upb path).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "sparkplug._speedups",
            sources=["sparkplug/_speedups.c", "sparkplug/_speedups_decode.c", "sparkplug/_speedups_encode.c"],
            depends=["sparkplug/_speedups.h"],
            optional=True,
            # gcc and clang flags: the package targets Linux only (pyproject classifiers)
            extra_compile_args=["-Wall", "-Wextra"],
        )
    ]
)
