"""The user's input normalisation: ``--input-range LOW,HIGH`` or ``--mean M --std S`` (CLI and pipeline TOML).

For models whose file does not say how to scale pixels (see ``edge.families`` for the order of evidence).
A value given here overrides what the model says, and ``edge info`` / ``edge run`` print it as given by
the user. Bad values (LOW >= HIGH, std 0, NaN, a wrong count) are ``ConfigError``s naming the option.

    --input-range 0,1        pixels 0..255 -> 0..1     (mean 0, std 255)
    --input-range -1,1       pixels 0..255 -> -1..1    (mean 127.5, std 127.5)
    --input-range 0,255      raw pixels               (mean 0, std 1)
    --mean 123.7,116.3,103.5 --std 58.4,57.1,57.4     per channel, in pixel units

In a pipeline TOML: ``input_range = [-1, 1]`` (or ``"-1,1"``), ``mean = [127.5]``, ``std = 127.5``; in
``--model PATH,k=v`` lists: ``input_range=-1..1``, ``mean=127.5``, ``std=127.5``.
"""

from __future__ import annotations

import argparse
import math

from .errors import ConfigError
from .model_spec import Normalisation

INPUT_KEYS = ("input_range", "mean", "std")


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input normalisation (for models whose file does not say)")
    g.add_argument("--input-range", default=None, metavar="LOW,HIGH",
                   help="the model's input range for pixels 0..255, e.g. 0,1 or -1,1 or 0,255 "
                        "(overrides the model's metadata)")
    g.add_argument("--mean", default=None, metavar="M[,M,M]", help="input = (pixel - mean) / std; with --std")
    g.add_argument("--std", default=None, metavar="S[,S,S]", help="see --mean; every value must be > 0")


def normalisation_from_args(args: argparse.Namespace) -> Normalisation | None:
    return normalisation_from(getattr(args, "input_range", None), getattr(args, "mean", None),
                              getattr(args, "std", None), cli=True)


def normalisation_from(input_range=None, mean=None, std=None, where: str = "", cli: bool = False) -> Normalisation | None:
    """Parse the user's values (strings from the CLI, numbers or lists from TOML); None when none given."""
    flag = (lambda k: "--" + k.replace("_", "-")) if cli else (lambda k: f"{where}: {k}" if where else k)
    if input_range is not None and (mean is not None or std is not None):
        raise ConfigError(f"give either {flag('input_range')} or {flag('mean')}/{flag('std')}, not both")
    if input_range is not None:
        values = _numbers(input_range, flag("input_range"))
        if len(values) != 2:
            raise ConfigError(f"{flag('input_range')} {input_range!r}: expected two numbers LOW,HIGH, e.g. -1,1")
        low, high = values
        if not low < high:
            raise ConfigError(f"{flag('input_range')} {input_range!r}: LOW must be below HIGH, e.g. -1,1")
        return Normalisation.from_range(low, high, 1, f"{flag('input_range')} {low:g},{high:g} given by the user")
    if mean is None and std is None:
        return None
    if mean is None or std is None:
        missing = "std" if std is None else "mean"
        raise ConfigError(f"{flag('mean' if missing == 'std' else 'std')} needs {flag(missing)} as well")
    means, stds = _numbers(mean, flag("mean")), _numbers(std, flag("std"))
    if any(s <= 0 for s in stds):
        raise ConfigError(f"{flag('std')} {std!r}: every value must be greater than 0")
    if len(means) != len(stds) and 1 not in (len(means), len(stds)):
        raise ConfigError(f"{flag('mean')} has {len(means)} values and {flag('std')} {len(stds)}; give 1 or one per "
                          f"channel for each")
    n = max(len(means), len(stds))
    means = means * n if len(means) == 1 else means
    stds = stds * n if len(stds) == 1 else stds
    return Normalisation(tuple(means), tuple(stds), f"{flag('mean')} / {flag('std')} given by the user")


def _numbers(value, name: str) -> list[float]:
    if isinstance(value, bool):
        raise ConfigError(f"{name} {value!r}: expected numbers")
    if isinstance(value, (int, float)):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        text = str(value).strip()
        items = text.split("..") if ".." in text else text.split(",")
    out = []
    for item in items:
        try:
            number = float(str(item).strip()) if not isinstance(item, (int, float)) or isinstance(item, bool) \
                else float(item)
        except ValueError:
            raise ConfigError(f"{name} {value!r}: {item!r} is not a number") from None
        if not math.isfinite(number):
            raise ConfigError(f"{name} {value!r}: {item!r} is not a finite number")
        out.append(number)
    if not out:
        raise ConfigError(f"{name} {value!r}: expected numbers")
    return out
