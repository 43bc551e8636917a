"""Reading TOML on Python 3.10 to 3.13: the standard library's ``tomllib`` (3.11+), else ``tomli``.

``tomli`` is the same parser published for older Pythons (JetPack 6 ships Python 3.10); the ``edge``
extras pull it in only where ``python_version < "3.11"``, and Debian/Ubuntu have it as ``python3-tomli``.
"""

from __future__ import annotations

try:
    import tomllib as _toml
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as _toml
    except ModuleNotFoundError:
        _toml = None

if _toml is not None:
    TOMLDecodeError = _toml.TOMLDecodeError
else:
    class TOMLDecodeError(ValueError):
        """Stands in for the parser's error where no parser is installed (never raised)."""


def loads(text: str) -> dict:
    """Parse TOML text; ImportError naming the package to install when this Python has no TOML parser."""
    if _toml is None:
        raise ImportError("reading TOML needs Python 3.11+ (tomllib) or the tomli package on older Pythons: "
                          "pip install tomli, or apt-get install python3-tomli")
    return _toml.loads(text)
