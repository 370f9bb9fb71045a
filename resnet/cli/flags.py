"""Flags made from config fields: a field's name, type, help line, range and flag, written once
on the field (`resnet.core.settings.setting`), give its flag, so a new setting of any section
has its flag with no edit here.

A flag's value reaches its config in three hops: argparse turns the text into the field's type
(`flag_options`), `overrides` collects the flags given, and the preset reader
(`resnet.core.presets`) lays them over the preset into the config.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from resnet.command_line import comma_list
from resnet.core.config import RunConfig
from resnet.core.settings import flag_of, range_text, settings_of

GRID = ("cell",)  # RunConfig's arch, depth and seed: the sweep's --archs, --depths, --seeds


def destination(f: dataclasses.Field) -> str:
    """Where argparse keeps a field's flag: its flag's name (--slurm-logs: slurm_logs)."""
    return flag_of(f).removeprefix("--").replace("-", "_")


def flagged(config_class: type, skip: tuple[str, ...] = ()) -> list[dataclasses.Field]:
    """The settings of `config_class` that have a flag, but those of the sections in `skip`."""
    return [
        f
        for f in settings_of(config_class)
        if flag_of(f) is not None and f.metadata["section"] not in skip
    ]


def run_fields(config_class: type = RunConfig) -> list[dataclasses.Field]:
    """The training fields that get a flag: all but the grid's (arch, depth, seed)."""
    return flagged(config_class, GRID)


def add_flags(group, config_class: type, skip: tuple[str, ...] = ()) -> None:
    """One flag per setting of `config_class` (but the sections in `skip`), each overriding
    the preset."""
    hints = typing.get_type_hints(config_class)
    for f in flagged(config_class, skip):
        group.add_argument(flag_of(f), dest=destination(f), **flag_options(f, hints[f.name]))


def add_run_flags(parser: argparse.ArgumentParser, config_class: type = RunConfig) -> None:
    """One flag per training field of `config_class`, each overriding the preset."""
    group = parser.add_argument_group(
        "training (each overrides the preset; one flag per field of RunConfig)"
    )
    add_flags(group, config_class, GRID)


def flag_options(f: dataclasses.Field, hint: Any) -> dict[str, Any]:
    """argparse's options for the field: its parser (or a --flag/--no-flag pair) and help."""
    help_line = f.metadata["help"]
    if range_text(f) is not None:
        help_line += f"; {range_text(f)}"
    options: dict[str, Any] = {"help": help_line.replace("%", "%%"), "default": None}
    base = value_type(hint)
    if base is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(base) is tuple and f.metadata.get("repeated"):
        options["action"] = "append"  # one value a flag: the values may hold commas
        options["metavar"] = f.metadata.get("metavar") or "VALUE"
    elif typing.get_origin(base) is tuple:
        item = typing.get_args(base)[0]
        options["type"] = comma_list(item, flag_of(f))
        options["metavar"] = f"{item.__name__.upper()},..."
    else:
        options["type"] = base
        options["metavar"] = "NAME" if base is str else base.__name__.upper()
    return options


def value_type(hint: Any) -> Any:
    """The type a flag parses: `int | None` takes an int (None is the preset's to give)."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def overrides(
    args: argparse.Namespace, config_class: type, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The flags given of `config_class`'s settings, by field name, in the field's type (lists
    become tuples)."""
    given = {f.name: getattr(args, destination(f)) for f in flagged(config_class, skip)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}


def given_flags(args: argparse.Namespace, config_class: type) -> list[str]:
    """The flags of `config_class`'s settings that the command line gave."""
    return [flag_of(f) for f in flagged(config_class) if getattr(args, destination(f)) is not None]


def run_overrides(args: argparse.Namespace, config_class: type = RunConfig) -> dict[str, Any]:
    """The training flags given, by field name, in the field's type (lists become tuples)."""
    return overrides(args, config_class, GRID)
