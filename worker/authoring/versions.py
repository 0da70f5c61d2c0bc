"""Sequence versions: the content hash of a sequence with every template it can render.

A version is the SHA-256 of the sequence file's text and of every template file it can render:
for each template a step or variant names, every ``templates/<template>.*.j2`` (text, HTML,
any language), and every template those extend, include or import (layouts), transitively.
Old versions are read back from the database (``sequence_versions``) so that a lead finishing
one is rendered from its own templates. Step ids: ``worker.authoring.step_ids``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from jinja2 import Environment, TemplateSyntaxError, meta

from worker.authoring.schema import SequenceSpec, StepSpec
from worker.authoring.sequences import Catalog
from worker.authoring.step_ids import step_ids
from worker.authoring.templates import TemplateRenderer
from worker.errors import NotFoundError

_MAX_TEMPLATE_FILES = 500


def step_templates(step: StepSpec) -> set[str]:
    """The templates a step can render: its own and its A/B variants'."""
    names = {step.template} if step.template else set()
    return names | {v.template for v in step.variants or () if v.template}


def template_files(spec: SequenceSpec, templates_dir: Path) -> dict[str, str]:
    """Every template file ``spec`` can render, by path relative to ``templates_dir``: each
    named template's files side by side (``<name>.*.j2``: text, HTML, every language), and
    the same for every template they extend, include or import, transitively."""
    bases = sorted({t for step in spec.steps for t in step_templates(step)})
    seen: set[str] = set()
    files: dict[str, str] = {}
    parser = Environment(autoescape=False)  # noqa: S701 (parsed for references, never rendered)
    while bases and len(files) < _MAX_TEMPLATE_FILES:
        base = bases.pop()
        if base in seen:
            continue
        seen.add(base)
        for name in _siblings(templates_dir, base):
            try:
                text = (templates_dir / name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            files[name] = text
            try:
                referenced = meta.find_referenced_templates(parser.parse(text))
            except TemplateSyntaxError:
                continue
            bases.extend(_base_of(r) for r in referenced if r is not None)
    return dict(sorted(files.items()))


def _base_of(name: str) -> str:
    """``layouts/base.txt.j2`` → ``layouts/base``."""
    folder, _, file = name.rpartition("/")
    stem = file.split(".", 1)[0]
    return f"{folder}/{stem}" if folder else stem


def _siblings(templates_dir: Path, base: str) -> list[str]:
    """The files of template ``base`` (``<base>.*.j2``), relative to ``templates_dir``."""
    path = templates_dir / base
    if ".." in Path(base).parts or not path.parent.is_dir():
        return []
    prefix = path.name + "."
    return [
        (path.parent / entry.name).relative_to(templates_dir).as_posix()
        for entry in sorted(path.parent.iterdir(), key=lambda e: e.name)
        if entry.name.startswith(prefix) and entry.name.endswith(".j2") and entry.is_file()
    ]


def materialize(version: SequenceVersion, root: Path) -> Path:
    """Write ``version``'s templates under ``root/<version>/`` (once; content-addressed, so
    processes sharing ``root`` agree) and return that folder, a templates folder to render
    the old version from."""
    folder = root / version.version
    for name, text in version.templates.items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise NotFoundError(f"Stored version {version.short} has a bad template path {name!r}.")
        target = folder / relative
        if target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def content_hash(source: str, templates: dict[str, str]) -> str:
    """The version: SHA-256 (hex) of the sequence text and its templates."""
    document = json.dumps({"sequence": source, "templates": templates}, sort_keys=True)
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=8)
def git_commit(folder: Path) -> str | None:
    """The commit checked out in ``folder`` (``git rev-parse HEAD``, local only), or None."""
    try:
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(folder), "rev-parse", "--verify", "--quiet", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


@dataclass(frozen=True)
class SequenceVersion:
    """One version of a sequence: its hash, YAML text, template files and git commit."""

    name: str
    version: str
    source: str
    templates: dict[str, str] = field(hash=False)
    git_commit: str | None = None

    @property
    def short(self) -> str:
        """The first 12 hex digits, as shown to people."""
        return self.version[:12]


def spec_from_source(version: SequenceVersion) -> SequenceSpec:
    """The sequence of a stored version (its YAML was valid when it was first used)."""
    try:
        return SequenceSpec.model_validate(yaml.safe_load(version.source))
    except Exception as exc:
        raise NotFoundError(
            f"Stored version {version.short} of sequence {version.name!r} no longer loads ({exc})"
            " — its leads wait; resolve them in 'outreach review list'."
        ) from None


class VersionBook:
    """The versions one process knows: the files' current ones and stored old ones.

    ``load`` reads a stored version by its hash (from the database), or returns None.
    """

    def __init__(
        self,
        catalog: Catalog,
        templates_dir: Path,
        renderer: Callable[[], TemplateRenderer],
        load: Callable[[str], SequenceVersion | None],
        *,
        make_renderer: Callable[[Path], TemplateRenderer],
        cache_dir: Path,
        home: Path | None = None,
    ) -> None:
        self.catalog = catalog
        self.templates_dir = templates_dir
        self.home = home
        self._renderer = renderer
        self._make_renderer = make_renderer
        self._cache_dir = cache_dir
        self._load = load
        self._current: dict[str, SequenceVersion] = {}
        self._old: dict[str, tuple[SequenceVersion, SequenceSpec, TemplateRenderer]] = {}
        self._lock = threading.Lock()

    def current(self, name: str) -> SequenceVersion:
        """The version of sequence ``name`` in the files (NotFoundError when it is not valid)."""
        with self._lock:
            found = self._current.get(name)
            if found is None:
                loaded = self.catalog.sequences.get(name)
                if loaded is None:
                    self.catalog.get(name)  # raises the catalog's explanation
                    raise NotFoundError(f"No sequence named {name!r}.")
                source = loaded.path.read_text(encoding="utf-8")
                templates = template_files(loaded.spec, self.templates_dir)
                found = SequenceVersion(
                    name=name,
                    version=content_hash(source, templates),
                    source=source,
                    templates=templates,
                    git_commit=git_commit(self.home) if self.home is not None else None,
                )
                self._current[name] = found
            return found

    def all_current(self) -> list[SequenceVersion]:
        """The current version of every valid sequence, in name order."""
        return [self.current(name) for name in self.catalog.names()]

    def is_current(self, name: str, version: str | None) -> bool:
        """True when ``version`` is None (not pinned yet) or the files' version of ``name``."""
        return version is None or (name in self.catalog and self.current(name).version == version)

    def spec(self, name: str, version: str | None) -> SequenceSpec:
        """The sequence as it was in ``version`` (the files' one when current or None)."""
        if self.is_current(name, version):
            return self.catalog.get(name)
        return self._stored(name, version)[1]

    def renderer(self, name: str, version: str | None) -> TemplateRenderer:
        """A renderer over ``version``'s templates (the files' renderer when current)."""
        if self.is_current(name, version):
            return self._renderer()
        return self._stored(name, version)[2]

    def ids(self, name: str, version: str | None) -> list[str]:
        """The step ids of ``version`` of sequence ``name``."""
        return step_ids(self.spec(name, version))

    def _stored(
        self, name: str, version: str | None
    ) -> tuple[SequenceVersion, SequenceSpec, TemplateRenderer]:
        assert version is not None
        with self._lock:
            found = self._old.get(version)
        if found is not None:
            return found
        stored = self._load(version)
        if stored is None:
            raise NotFoundError(
                f"Version {version[:12]} of sequence {name!r} is not stored — its leads wait; "
                "run 'outreach sequences plan'."
            )
        renderer = self._make_renderer(materialize(stored, self._cache_dir))
        found = (stored, spec_from_source(stored), renderer)
        with self._lock:
            self._old[version] = found
        return found


def short(version: str | None) -> str:
    """A version as shown to people (12 hex digits, or ``-``)."""
    return version[:12] if version else "-"


def unique(items: Iterable[str]) -> list[str]:
    """``items`` without repeats, in order."""
    return list(dict.fromkeys(items))


__all__ = [
    "SequenceVersion",
    "VersionBook",
    "content_hash",
    "git_commit",
    "materialize",
    "short",
    "spec_from_source",
    "step_templates",
    "template_files",
    "unique",
]
