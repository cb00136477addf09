"""The lock files pin every dependency with hashes, cover everything pyproject.toml declares, and are
what is installed (issue 16, item 1). No network: the lock files and the running environment only."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "locks"
# Which extras each lock is compiled with (scripts/install-python-deps.sh, `make lock`).
LOCK_EXTRAS = {"cpu": ("cpu", "test"), "gpu": ("gpu", "test")}


def normalise(name: str) -> str:
    """PEP 503: case-insensitive, runs of -_. are one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # normalised
    specifier: str  # e.g. "==2.21.0"
    hashes: tuple[str, ...]


def read_lock(path: Path) -> dict[str, Pin]:
    """A requirements file as `uv pip compile --generate-hashes` writes it: one entry per
    distribution, continued over lines ending in a backslash, with `# via` comment lines."""
    entries: list[str] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        current += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            entries.append(current.strip())
            current = ""
    assert not current, f"{path.name} ends in a continuation line"
    pins: dict[str, Pin] = {}
    for entry in entries:
        requirement, *options = entry.split()
        req = Requirement(requirement)
        hashes = tuple(o.removeprefix("--hash=") for o in options if o.startswith("--hash="))
        assert len(hashes) == len(options), f"{path.name}: unexpected options in {entry!r}"
        name = normalise(req.name)
        assert name not in pins, f"{path.name} lists {name} twice"
        pins[name] = Pin(name, str(req.specifier), hashes)
    return pins


def pinned_version(pin: Pin) -> str:
    return pin.specifier.removeprefix("==")


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize("lock", ["cpu.txt", "gpu.txt", "assets.txt", "uv.txt"])
def test_every_distribution_is_pinned_exactly_with_a_sha256_hash(lock: str) -> None:
    pins = read_lock(LOCKS / lock)
    assert pins, f"{lock} is empty"
    for pin in pins.values():
        assert re.fullmatch(r"==[^,*=<>!~]+", pin.specifier), f"{lock}: {pin.name}{pin.specifier}"
        assert pin.hashes, f"{lock}: {pin.name} has no hash"
        for digest in pin.hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{lock}: {pin.name} {digest}"


@pytest.mark.parametrize("flavour", sorted(LOCK_EXTRAS))
def test_every_declared_dependency_is_locked_at_a_version_it_allows(flavour: str) -> None:
    pins = read_lock(LOCKS / f"{flavour}.txt")
    for req in declared(LOCK_EXTRAS[flavour]):
        name = normalise(req.name)
        assert name in pins, f"{req} (pyproject.toml) is not in locks/{flavour}.txt: run `make lock`"
        version = pinned_version(pins[name])
        assert req.specifier.contains(version, prereleases=True), (
            f"locks/{flavour}.txt pins {name}=={version}, pyproject.toml asks {req}: run `make lock`"
        )


def test_the_assets_lock_pins_what_assets_in_asks() -> None:
    asked = {}
    for line in (LOCKS / "assets.in").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            asked[normalise(req.name)] = str(req.specifier)
    locked = {name: pin.specifier for name, pin in read_lock(LOCKS / "assets.txt").items()}
    assert locked == asked


def installed_flavour() -> str:
    """The lock this environment was set up from: `make setup` (cpu) installs tensorflow-cpu,
    `make setup EXTRA=gpu` installs tensorflow."""
    try:
        importlib.metadata.version("tensorflow-cpu")
        return "cpu"
    except importlib.metadata.PackageNotFoundError:
        return "gpu"


def test_the_installed_environment_is_the_locked_one() -> None:
    flavour = installed_flavour()
    pins = {**read_lock(LOCKS / f"{flavour}.txt"), **read_lock(LOCKS / "assets.txt")}
    wrong = {}
    for pin in pins.values():
        try:
            installed = importlib.metadata.version(pin.name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is None or Version(installed) != Version(pinned_version(pin)):
            wrong[pin.name] = (pinned_version(pin), installed)
    assert not wrong, f"installed ≠ locks/{flavour}.txt (locked, installed): {wrong}; run `make setup`"
