"""What each architecture name means, and which (arch, depth, shortcut) this project builds:
plain data and checks, without torch, so that a command line can refuse a bad net at once.
`resnet.core.models` builds the nets from these specs.
"""

from __future__ import annotations

from dataclasses import dataclass

SHORTCUTS = ("A", "B")
MAX_DEPTH = 1202  # He et al. 2016's deepest CIFAR net


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture name means: block kind and, for fixed-depth nets, the stage layout."""

    residual: bool
    stem_width: int
    widths: tuple[int, ...]
    blocks: tuple[int, ...] | None = None  # None: n blocks per stage from depth = 6n + 2

    @property
    def fixed_depth(self) -> int | None:
        return None if self.blocks is None else 2 * sum(self.blocks) + 2


_CIFAR_WIDTHS = (16, 32, 64)
_IMAGENET_WIDTHS = (64, 128, 256, 512)

ARCHS: dict[str, ArchSpec] = {
    "plain": ArchSpec(residual=False, stem_width=16, widths=_CIFAR_WIDTHS),
    "residual": ArchSpec(residual=True, stem_width=16, widths=_CIFAR_WIDTHS),
    "plain18": ArchSpec(False, 64, _IMAGENET_WIDTHS, (2, 2, 2, 2)),
    "plain34": ArchSpec(False, 64, _IMAGENET_WIDTHS, (3, 4, 6, 3)),
    "resnet18": ArchSpec(True, 64, _IMAGENET_WIDTHS, (2, 2, 2, 2)),
    "resnet34": ArchSpec(True, 64, _IMAGENET_WIDTHS, (3, 4, 6, 3)),
}


def arch_problem(arch: str) -> str | None:
    return None if arch in ARCHS else f"unknown arch {arch!r} (allowed: {', '.join(ARCHS)})"


def is_plain(arch: str) -> bool:
    """A registered net without shortcuts (an unknown name is neither kind)."""
    return arch in ARCHS and not ARCHS[arch].residual


def arch_spec(arch: str) -> ArchSpec:
    problem = arch_problem(arch)
    if problem:
        raise ValueError(problem)
    return ARCHS[arch]


def depth_error(arch: str, depth: int) -> str | None:
    """Why `depth` is not valid for `arch`, or None when it is."""
    spec = arch_spec(arch)
    if spec.fixed_depth is not None:
        if depth != spec.fixed_depth:
            return f"arch {arch} has depth {spec.fixed_depth}, not {depth}"
        return None
    if depth > MAX_DEPTH:
        return f"depth {depth} is above {MAX_DEPTH}, the deepest net of the paper"
    if depth >= 8 and (depth - 2) % 6 == 0:
        return None
    below = max(8, depth - (depth - 2) % 6)
    above = below + 6 if depth > below else below
    near = f"{below}, {above}" if below != above else f"{below}"
    return f"depth {depth} is not 6n+2 for arch {arch} (nearest valid: {near})"


def shortcut_problem(shortcut: str, plain_allowed: bool) -> str | None:
    """Why `shortcut` is not a shortcut option, or None. "none" is allowed where
    `plain_allowed` (a plain net's own config), never as the option a sweep gives its
    residual nets."""
    if shortcut in SHORTCUTS or (plain_allowed and shortcut == "none"):
        return None
    none = "; none for plain nets" if plain_allowed else ""
    return f"unknown shortcut {shortcut!r} (allowed: {', '.join(SHORTCUTS)}{none})"


def net_problem(arch: str, depth: int, shortcut: str) -> str | None:
    """Why (arch, depth, shortcut) is not a net this project builds, or None."""
    if arch_problem(arch):
        return arch_problem(arch)
    return shortcut_problem(shortcut, not ARCHS[arch].residual) or depth_error(arch, depth)
