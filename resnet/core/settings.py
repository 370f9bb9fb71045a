"""One declaration per setting, for every config class (RunConfig, SweepConfig, TuneConfig,
LauncherConfig): a field's preset section, help line, allowed range and flag are written once
on the field with `setting`. The preset reader (`key_types`), the command line
(`resnet/cli/flags.py`) and the range check (`bound_problems`) read them from there, so a new
setting of any section is one edit.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import MISSING, field
from typing import Any

from resnet.core.bounds import Bounds

NO_FLAG = ""  # a setting that only a preset sets (the command line sets it some other way)


def setting(
    section: str,
    default: Any = MISSING,
    help: str = "",
    bounds: Bounds | None = None,
    *,
    flag: str | None = None,
    repeated: bool = False,
    metavar: str | None = None,
) -> Any:
    """A config field with what the preset files and the command line need to know of it: its
    preset section, its help line, its allowed range (None: any value of its type) and its flag
    (None: --the-field-name; NO_FLAG: none). A list setting's flag takes comma-separated values,
    or with `repeated` one value each time it is given (values that may hold commas)."""
    metadata = {
        "section": section,
        "help": help,
        "bounds": bounds,
        "flag": flag,
        "repeated": repeated,
        "metavar": metavar,
    }
    return field(default=default, metadata=metadata)


def settings_of(config_class: type, section: str | None = None) -> list[dataclasses.Field]:
    """The fields of `config_class` declared with `setting` (in `section`, if given)."""
    return [
        f
        for f in dataclasses.fields(config_class)
        if "section" in f.metadata and section in (None, f.metadata["section"])
    ]


def key_types(config_class: type, section: str) -> dict[str, Any]:
    """A preset section's keys, the fields of `section`, with their types."""
    hints = typing.get_type_hints(config_class)
    return {f.name: hints[f.name] for f in settings_of(config_class, section)}


def flag_of(f: dataclasses.Field) -> str | None:
    """A setting's flag, or None for one that only a preset sets."""
    flag = f.metadata.get("flag")
    if flag == NO_FLAG:
        return None
    return flag or "--" + f.name.replace("_", "-")


def range_text(f: dataclasses.Field) -> str | None:
    """A field's range as its error and its flag's help word it ("positive and finite"), or
    None for a field without one."""
    bounds = f.metadata.get("bounds")
    return None if bounds is None else bounds.describe(real="float" in str(f.type))


def bound_problems(config: Any, prefix: str = "") -> list[str]:
    """Each field of `config` outside its setting's range, as one line ("lr must be positive
    and finite, got 0.0"; `prefix` names the section, e.g. "tune.")."""
    problems = []
    for f in settings_of(type(config)):
        bounds, value = f.metadata["bounds"], getattr(config, f.name)
        if bounds is not None and value is not None and not bounds.allows(value):
            problems.append(f"{prefix}{f.name} must be {range_text(f)}, got {value}")
    return problems
