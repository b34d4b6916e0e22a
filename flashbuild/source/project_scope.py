"""What the static evaluator may read beyond the file it scans: the project's other
modules (``from config import DEPS``) and the build's environment (``os.getenv``).

A :class:`ProjectScope` is shared by the scan of every file of a build. It
parses a module the first time a value is followed into it, detects constants
that refer to each other in a circle, and records what the scan of the current
file read, so that a cached result can be checked against the files it depends
on, and the manifest can list the environment variables read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import SourceCodeError, SourceLocation
from .modules import module_name

if TYPE_CHECKING:
    from .static_eval import Evaluator

# Deep enough for any real chain of re-exported constants; a cycle is reported first.
MAX_FOLLOWED = 50


@dataclass
class Reads:
    """What the scan of one file read outside it."""

    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 of its bytes
    environment: set[str] = field(default_factory=set)  # variable names


class ProjectScope:
    """The project's shipped modules and the build's environment, as the evaluator sees them."""

    def __init__(self, sources: Mapping[str, bytes], digests: Mapping[str, str],
                 environ: Mapping[str, str]) -> None:
        """``sources`` and ``digests`` (sha256) by path, of every shipped ``.py`` file."""
        self._sources, self._digests = sources, digests
        self._paths = {module_name(path): path for path in sorted(sources)}
        self._environ = environ
        self._evaluators: dict[str, Evaluator] = {}
        self._following: list[tuple[str, str]] = []
        self.reads = Reads()

    def start_file(self) -> Reads:
        """Begin recording the reads of another file's scan; returns the new record."""
        self.reads = Reads()
        return self.reads

    def has_module(self, name: str) -> bool:
        """Whether ``name`` is a shipped module of the project."""
        return name in self._paths

    def evaluator(self, name: str) -> Evaluator:
        """The evaluator of the project module ``name`` (parsed on first use)."""
        from .namespace import read_namespace
        from .static_eval import Evaluator
        from .syntax import module_statements, parse_with_positions

        path = self._paths[name]
        source = self._sources[path]
        self.reads.files[path] = self._digests[path]
        if name not in self._evaluators:
            tree, positions = parse_with_positions(source, path)
            namespace = read_namespace(list(module_statements(tree.body)), module=name,
                                       is_package=path.endswith("__init__.py"))
            self._evaluators[name] = Evaluator(module=tree, positions=positions, path=path,
                                               namespace=namespace, project=self)
        return self._evaluators[name]

    def getenv(self, name: str) -> str | None:
        """The value of an environment variable of the build (recorded as read)."""
        self.reads.environment.add(name)
        return self._environ.get(name)

    @contextlib.contextmanager
    def following(self, module: str, name: str, usage: SourceLocation) -> Iterator[None]:
        """Follow ``module.name``; a constant that needs its own value is an error."""
        key = (module, name)
        if key in self._following or len(self._following) >= MAX_FOLLOWED:
            chain = " -> ".join(f"{m}.{n}" for m, n in (*self._following, key))
            raise SourceCodeError(
                f"`{name}` cannot be evaluated: its value refers back to itself ({chain}).",
                location=usage,
                hint="Define the value once, in one module, and import it from there.",
            )
        self._following.append(key)
        try:
            yield
        finally:
            self._following.pop()
