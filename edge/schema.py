"""Declarative checks of user input: one table of ``Field`` rows per surface, one function that applies it.

Every surface a user types into (a TOML table, a URI's ``?key=value`` options, parsed command-line options,
metadata read from a model) declares its keys once:

    FIELDS = (
        Field("score", float, min=0.0, max=1.0, doc="minimum detection score"),
        Field("max_boxes", int, min=1, max=100),
        Field("seg_view", str, choices=("overlay", "side-by-side")),
        Field("path", str, required=True),
    )
    values = check_mapping(table, FIELDS, where="pipeline.toml: model 2")

``check_mapping`` returns the mapping unchanged when every key is known and every value has the declared
type, lies in the declared range or choices and passes the field's own ``check``; otherwise it raises the
given error (``ConfigError`` by default) with one line naming where, the key, the value and what was
expected, e.g. ``pipeline.toml: model 2: score = 'high': expected a number in 0..1``. Unknown keys are
errors that suggest the closest known key. With ``from_text=True`` (URI options, which are all strings)
values are converted to the field's type first and the converted mapping is returned.

Other modules reuse it for their own tables (e.g. a ``[tracker]`` section): declare a tuple of ``Field``
and call ``check_mapping``; ``close_match`` gives the "did you mean" hint for values checked elsewhere.
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from .errors import ConfigError

# Interpreter threads beyond this are refused: more threads than a few per core only cost memory and
# contention, and very large counts crash the runtime (100000 threads ends in a segfault).
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))

_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "a list",
               dict: "a table"}


@dataclass(frozen=True)
class Field:
    """One key of a surface: its type, whether it is required, and the values it accepts.

    ``type``: int, float (an int is accepted and becomes a float), str, bool, list or dict.
    ``items``: the type of every element, for lists. ``min``/``max``: an inclusive range for numbers (and for
    the length of strings and lists). ``above``: an exclusive lower bound (``above=0`` means "more than 0").
    ``choices``: the allowed values. ``check(value) -> str | None``: any further rule; it returns what was
    expected when the value breaks it. ``doc``: what the key is, used in messages about it.
    """

    name: str
    type: type = str
    required: bool = False
    min: float | None = None
    max: float | None = None
    above: float | None = None
    choices: tuple | None = None
    items: type | None = None
    check: Callable[[Any], str | None] | None = None
    doc: str = ""
    also: tuple = ()  # further accepted types, e.g. (str,) for "a list of strings or one string"
    expect: str = ""  # what a message says is expected, when the type and range alone do not say it well

    def expected(self) -> str:
        """'a number in 0..1', 'one of overlay, side-by-side', 'an integer >= 1', ..."""
        if self.expect:
            return self.expect
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        word = _TYPE_WORDS.get(self.type, self.type.__name__)
        if self.type is list and self.items is not None:
            word = f"a list of {_TYPE_WORDS.get(self.items, self.items.__name__).split(' ', 1)[1]}s"
        for extra in self.also:
            word += f" or {_TYPE_WORDS.get(extra, extra.__name__)}"
        lo = self.min if self.min is not None else None
        if self.type in (int, float):
            if lo is not None and self.max is not None:
                word += f" in {_num(lo)}..{_num(self.max)}"
            elif lo is not None:
                word += f" >= {_num(lo)}"
            elif self.above is not None:
                word += f" > {_num(self.above)}"
            elif self.max is not None:
                word += f" <= {_num(self.max)}"
        elif self.type in (str, list) and lo:
            word += " that is not empty" if lo == 1 else f" of at least {_num(lo)} items"
        return word

    def validate(self, value: Any) -> Any:
        """The value, checked (ints become floats for float fields); raises ValueError(expected) if bad."""
        if self.also and _is_type(value, self.also):
            return value
        if not _is_type(value, (self.type,)):
            raise ValueError(self.expected())
        if self.type is float:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(self.expected() + " (finite)")
        if self.type is list and self.items is not None and not all(_is_type(v, (self.items,)) for v in value):
            raise ValueError(self.expected())
        size = len(value) if self.type in (str, list) else value
        if self.type in (int, float, str, list):
            if (self.min is not None and size < self.min) or (self.max is not None and size > self.max) or (
                    self.above is not None and size <= self.above):
                raise ValueError(self.expected())
        if self.choices is not None and value not in self.choices:
            hint = close_match(value, self.choices) if isinstance(value, str) else ""
            raise ValueError(self.expected() + hint)
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ValueError(problem)
        return value

    def from_text(self, text: str) -> Any:
        """A value typed as text (URI option, ``key=value``) converted to the field's type, or ValueError."""
        if self.type is str:
            return text
        if self.type is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(self.expected())
        try:
            return self.type(text)
        except (TypeError, ValueError):
            raise ValueError(self.expected()) from None


def check_mapping(mapping: Mapping[str, Any], fields: Iterable[Field], where: str, *, error: type = ConfigError,
                  from_text: bool = False, allow_unknown: bool = False, key_prefix: str = "",
                  word: str = "key") -> dict:
    """Check every key of ``mapping`` against ``fields``; raise ``error`` naming the first bad one.

    ``key_prefix`` is how the surface writes a key in messages ("--" for options), ``word`` what it calls
    one ("key", "option"). Returns a new dict with
    the values as checked (converted from text when ``from_text``)."""
    fields = {f.name: f for f in fields}
    if not isinstance(mapping, Mapping):
        raise error(f"{where}: expected a table of keys, got {_show(mapping)}")
    out = dict(mapping)
    unknown = [k for k in mapping if k not in fields]
    if unknown and not allow_unknown:
        keys = sorted(unknown, key=str)
        hints = "".join(close_match(str(k), fields, key_prefix) for k in keys)
        raise error(f"{where}: unknown {word}(s) {', '.join(key_prefix + str(k) for k in keys)}{hints}; "
                    f"allowed: {', '.join(key_prefix + k for k in sorted(fields))}")
    for name, f in fields.items():
        if name not in mapping or mapping[name] is None:
            if f.required:
                raise error(f"{where}: {key_prefix}{name} is required" + (f" ({f.doc})" if f.doc else "")
                            + f"; expected {f.expected()}")
            continue
        value = mapping[name]
        try:
            if from_text and isinstance(value, str):
                value = f.from_text(value)
            out[name] = f.validate(value)
        except ValueError as exc:
            raise error(f"{where}: {key_prefix}{name} = {_show(mapping[name])}: expected {exc}") from None
    return out


def check_value(value: Any, f: Field, where: str, *, error: type = ConfigError, key_prefix: str = "") -> Any:
    """One value against one field (for options checked outside a mapping)."""
    return check_mapping({f.name: value}, (f,), where, error=error, key_prefix=key_prefix)[f.name]


def check_args(args: Any, fields: Iterable[Field], where: str = "") -> None:
    """Parsed command-line options (an argparse Namespace) against ``fields``; ``max_frames`` is shown as
    ``--max-frames``. Options left at None are not checked. Raises ConfigError naming the option."""
    for f in fields:
        value = getattr(args, f.name, None)
        if value is None:
            continue
        option = "--" + f.name.replace("_", "-")
        try:
            f.validate(value)
        except ValueError as exc:
            raise ConfigError(f"{where + ': ' if where else ''}{option} {value}: expected {exc}") from None


def close_match(word: str, candidates: Iterable, prefix: str = "") -> str:
    """'; did you mean person?' when ``word`` is close to one of ``candidates``, else ''."""
    names = [str(c) for c in candidates]
    match = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f" (did you mean {prefix}{match[0]}?)" if match else ""


def threads_field(name: str = "threads") -> Field:
    return Field(name, int, min=1, max=MAX_THREADS, doc="interpreter threads",
                 expect=f"an integer in 1..{MAX_THREADS} (the bound is 4 per CPU, at least 64; this machine "
                        f"has {os.cpu_count()} CPUs, and more threads only add contention)")


def _is_type(value: Any, types: tuple) -> bool:
    for t in types:
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return True
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t not in (int, float) and isinstance(value, t):
            return True
    return False


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
