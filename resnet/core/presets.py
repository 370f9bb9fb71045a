"""Presets: TOML files that fill a SweepConfig, checked key by key and type by type.

Layout of a preset file (every key optional; missing keys take RunConfig's defaults):

    description = "..."
    [sweep]  archs, depths, seeds, experiment, exclude, margin (the verdict's, in points)
    [model]  shortcut
    [data]   dataset, data_dir, val_size, train_subset, image_size, crop_pad, flip
    [train]  iterations, batch_size, lr, ... (see RunConfig)
    [tune]   trials, iterations, pruner, seed
    [tune.space]  the RunConfig fields that --tune tunes, one line each:
             momentum = { low = 0.8, high = 0.95 }, log = true for a log scale
    [launcher] kind ("local" or "slurm"), tasks, partition, gpus_per_task, ... (LauncherConfig)
"""

from __future__ import annotations

import tomllib
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet.core.config import CELL_FIELDS, ConfigError, RunConfig, SweepConfig
from resnet.core.device import device_problem, resolve_device
from resnet.core.launcher_config import LauncherConfig
from resnet.core.precision import AUTO, PRECISIONS, concrete_precision
from resnet.core.settings import key_types, settings_of
from resnet.core.tune_config import RANGE_EXAMPLE, ParamRange, TuneConfig
from resnet.paths import READ_FILE, PathError, checked, shown

if TYPE_CHECKING:  # loaded by resolving the device: bad input is answered before it
    import torch

PRESET_DIR = Path(__file__).parents[1] / "configs"
TOP_LEVEL_KEYS = {"description": str}
LAUNCHER = "launcher"  # [launcher]: read by build_launcher
SPACE = "space"  # [tune.space]: one {low, high, log} table per tuned field
RANGE_KEYS = {"low": float, "high": float, "log": bool}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def preset_path(name_or_path: str) -> Path:
    if name_or_path in preset_names():
        return PRESET_DIR / f"{name_or_path}.toml"
    path = Path(name_or_path)
    if path.suffix == ".toml":
        try:
            return checked(path, READ_FILE, "--preset")
        except PathError as exc:
            raise ConfigError(str(exc)) from None
    allowed = ", ".join(preset_names())
    raise ConfigError(f"unknown preset {name_or_path!r} (allowed: {allowed}, or a .toml file)")


def run_field_types() -> dict[str, dict[str, Any]]:
    """RunConfig's fields by preset section, with their types: {section: {key: type}}."""
    sections = dict.fromkeys(f.metadata["section"] for f in settings_of(RunConfig))
    return {section: key_types(RunConfig, section) for section in sections if section != "cell"}


def tune_field_types() -> dict[str, Any]:
    """The [tune] keys with their types; [tune.space] is read apart (`read_space`)."""
    return {k: v for k, v in key_types(TuneConfig, "tune").items() if k != SPACE}


Section = dict[str, Any]


def read_document(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"preset {shown(path)} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib reads nested arrays and tables by recursion
        raise ConfigError(
            f"preset {shown(path)} nests arrays or tables too deeply to read; a preset holds "
            "flat sections of keys, lists of numbers or names and { low, high } tables"
        ) from None


def read_preset(name_or_path: str) -> tuple[str, Section, Section, Section]:
    """(name, sweep keys, run fields, tune keys) from a preset, every key and type checked
    ([launcher] too, which `build_launcher` reads)."""
    path = preset_path(name_or_path)
    document = read_document(path)
    sections = {"sweep": key_types(SweepConfig, "sweep"), "tune": tune_field_types()}
    sections.update(run_field_types())
    sections[LAUNCHER] = key_types(LauncherConfig, LAUNCHER)
    sweep, run, tune = {}, {}, {}
    for key, value in document.items():
        if key == LAUNCHER and isinstance(value, dict):
            read_section(shown(path.name), key, value, sections[key])
        elif key in TOP_LEVEL_KEYS:
            check_type(f"{shown(path.name)}: {key}", value, TOP_LEVEL_KEYS[key])
        elif key == "tune" and isinstance(value, dict):
            tune.update(read_tune(shown(path.name), value))
        elif key in sections and isinstance(value, dict):
            target = sweep if key == "sweep" else run
            target.update(read_section(shown(path.name), key, value, sections[key]))
        else:
            allowed = ", ".join([*TOP_LEVEL_KEYS, *(f"[{s}]" for s in sections)])
            raise ConfigError(f"{shown(path.name)}: unknown key {key!r} (allowed: {allowed})")
    return path.stem, sweep, run, tune


def read_section(
    file: str, section: str, table: dict[str, Any], types_: dict[str, Any]
) -> dict[str, Any]:
    values = {}
    for key, value in table.items():
        if key not in types_:
            allowed = ", ".join(types_)
            raise ConfigError(f"{file}: unknown key '{section}.{key}' (allowed: {allowed})")
        values[key] = check_type(f"{file}: {section}.{key}", value, types_[key])
    return values


def read_tune(file: str, table: dict[str, Any]) -> dict[str, Any]:
    """The [tune] settings, with [tune.space] as ParamRanges."""
    settings = {key: value for key, value in table.items() if key != SPACE}
    for key in ("lr_min", "lr_max", "weight_decay_min", "weight_decay_max"):
        if key in settings:  # the layout before [tune.space]
            raise ConfigError(
                f"{file}: unknown key 'tune.{key}' (bounds go in [tune.space] now, e.g. "
                f"lr = {RANGE_EXAMPLE})"
            )
    values = read_section(file, "tune", settings, {**tune_field_types(), SPACE: dict})
    if SPACE in table:
        values[SPACE] = read_space(file, table[SPACE])
    return values


def read_space(file: str, table: Any) -> tuple[ParamRange, ...]:
    """[tune.space]: name = { low, high, log } for each tuned field, each checked."""
    if not isinstance(table, dict):
        raise ConfigError(
            f"{file}: tune.space must be a table, e.g. [tune.space] lr = {RANGE_EXAMPLE}"
        )
    ranges = []
    for name, entry in table.items():
        where = f"tune.space.{name}"
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{file}: {where} must be a table like {RANGE_EXAMPLE}, got {entry!r}"
            )
        bounds = read_section(file, where, entry, RANGE_KEYS)
        if "low" not in bounds or "high" not in bounds:
            raise ConfigError(f"{file}: {where} needs low and high, e.g. {name} = {RANGE_EXAMPLE}")
        try:
            ranges.append(ParamRange(name, **bounds))
        except ConfigError as exc:
            raise ConfigError(f"{file}: {exc}") from None
    return tuple(ranges)


def check_type(where: str, value: Any, hint: Any) -> Any:
    """The value converted to the field's type (lists to tuples), or a ConfigError naming it."""
    ok, converted = _convert(value, hint)
    if not ok:
        raise ConfigError(f"{where} must be {_type_name(hint)}, got {value!r}")
    return converted


def _convert(value: Any, hint: Any) -> tuple[bool, Any]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        for arg in args:
            ok, converted = _convert(value, arg)
            if ok:
                return True, converted
        return False, None
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            return False, None
        items = [_convert(v, args[0]) for v in value]
        if not all(ok for ok, _ in items):
            return False, None
        converted = [v for _, v in items]
        return True, tuple(converted) if origin is tuple else converted
    if hint is type(None):
        return value is None, None
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, hint), value


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin in (tuple, list):
        return f"a list of {_type_name(args[0])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        hint, str(hint)
    )


def build_sweep(
    preset: str, sweep_overrides: dict[str, Any], run_overrides: dict[str, Any]
) -> SweepConfig:
    """A SweepConfig from a preset plus command-line overrides (None values are ignored)."""
    name, sweep, run, _ = read_preset(preset)
    sweep.update({k: v for k, v in sweep_overrides.items() if v is not None})
    run.update({k: v for k, v in run_overrides.items() if v is not None})
    assert not set(run) & set(CELL_FIELDS)
    if run.get("precision") != AUTO:
        return sweep_config(name, sweep, run)
    # Every other check first, with a stand-in precision: "auto" is made concrete from the
    # device's features, which loads torch, and bad input is answered before that.
    sweep_config(name, sweep, {**run, "precision": PRECISIONS[0]})
    run["precision"] = concrete_precision(AUTO, device_of(run))  # runs record the concrete one
    return sweep_config(name, sweep, run)


def sweep_config(name: str, sweep: Section, run: Section) -> SweepConfig:
    return SweepConfig(preset=name, base=RunConfig(**run), **sweep)


def device_of(run: Section) -> torch.device:
    name = run.get("device", "auto")
    problem = device_problem(name)
    if problem:
        raise ConfigError(problem)
    return resolve_device(name)


def build_tune(preset: str, overrides: dict[str, Any]) -> TuneConfig:
    """The preset's [tune] section plus command-line overrides (None values are ignored)."""
    tune = read_preset(preset)[3]
    tune.update({k: v for k, v in overrides.items() if v is not None})
    return TuneConfig(**tune)


def build_launcher(preset: str, overrides: dict[str, Any]) -> LauncherConfig:
    """The preset's [launcher] section plus command-line overrides (None values are ignored)."""
    path = preset_path(preset)
    table = read_document(path).get(LAUNCHER, {})
    launcher = read_section(shown(path.name), LAUNCHER, table, key_types(LauncherConfig, LAUNCHER))
    launcher.update({k: v for k, v in overrides.items() if v is not None})
    return LauncherConfig(**launcher)
