"""depth_sweep.py's training flags, made from RunConfig's fields: a field's name, type, help
line and range, written once on the field (`resnet.core.config.setting`), give its flag, so a
new field has its flag with no edit here.

A flag's value reaches the run config in three hops: argparse turns the text into the field's
type (`flag_options`), `run_overrides` collects the flags given, and `build_sweep` lays them
over the preset into the sweep whose cells are the RunConfigs.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from resnet.command_line import comma_list
from resnet.core.config import RunConfig, range_text


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def run_fields(config_class: type = RunConfig) -> list[dataclasses.Field]:
    """The fields that get a flag: all but the grid's (arch, depth, seed), which the sweep's
    own flags (--archs, --depths, --seeds) set."""
    return [f for f in dataclasses.fields(config_class) if f.metadata["section"] != "cell"]


def add_run_flags(parser: argparse.ArgumentParser, config_class: type = RunConfig) -> None:
    """One flag per training field of `config_class`, each overriding the preset."""
    group = parser.add_argument_group(
        "training (each overrides the preset; one flag per field of RunConfig)"
    )
    hints = typing.get_type_hints(config_class)
    for f in run_fields(config_class):
        group.add_argument(flag_name(f.name), dest=f.name, **flag_options(f, hints[f.name]))


def flag_options(f: dataclasses.Field, hint: Any) -> dict[str, Any]:
    """argparse's options for the field: its parser (or a --flag/--no-flag pair) and help."""
    help_line = f.metadata["help"]
    if range_text(f) is not None:
        help_line += f"; {range_text(f)}"
    options: dict[str, Any] = {"help": help_line.replace("%", "%%"), "default": None}
    base = value_type(hint)
    if base is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif typing.get_origin(base) is tuple:
        item = typing.get_args(base)[0]
        options["type"] = comma_list(item, flag_name(f.name))
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


def run_overrides(args: argparse.Namespace, config_class: type = RunConfig) -> dict[str, Any]:
    """The training flags given, by field name, in the field's type (lists become tuples)."""
    given = {f.name: getattr(args, f.name) for f in run_fields(config_class)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None}
