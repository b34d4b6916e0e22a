"""Start one endpoint the way the Flash worker image starts it.

``flash preview`` runs this file with the preview runtime's Python, one
process per endpoint::

    python worker_boot.py queue|lb APP_DIR HANDLER_FILE HOST PORT [IMAGE_MODULE ...]

As on a worker (runpod-workers/flash 1.6.0): the unpacked artifact's directory
comes first on ``sys.path`` and is the working directory; the image's own
modules (``constants``, ``logger``, ...) are already imported, here as empty
stand-ins, so a project module of the same name fails as it would there; the
handler file is loaded by its path, never run as ``__main__``:

* queue: as module ``handler_<name>``; its ``handler(job)`` is wrapped so that an
  awaitable result is awaited, and runpod's serverless loop serves the wrapper
  (its local API server, bound to HOST:PORT);
* load-balanced: as module ``user_main``; its ``app`` must be a
  ``fastapi.FastAPI``, ``GET /ping`` is added if missing, and uvicorn serves it.

It imports nothing from flashbuild: it runs where only the runtime is installed.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

IMAGE_DIR = "/app"


def stand_in_image_modules(names: Sequence[str]) -> None:
    """Register empty modules for the image's own, which the worker imported already."""
    for name in names:
        module = types.ModuleType(name, f"the worker image's own {name} module (a stand-in)")
        module.__file__ = f"{IMAGE_DIR}/{name}.py"
        sys.modules.setdefault(name, module)


def load_by_path(module_name: str, path: str) -> types.ModuleType:
    """Import ``path`` under ``module_name``, as the worker's handler loaders do."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def queue_handler(module: types.ModuleType) -> Callable[[dict], Any]:
    """The worker's wrapper of the module's ``handler``: awaitables are awaited."""
    handler = module.handler

    async def wrapper(job: dict) -> Any:
        result = handler(job)
        if inspect.isawaitable(result):
            result = await result
        return result

    return wrapper


def load_balanced_app(module: types.ModuleType) -> Any:
    """The module's ``app``, checked and given ``GET /ping`` as the worker's lb_handler does."""
    import fastapi

    app = getattr(module, "app", None)
    if not isinstance(app, fastapi.FastAPI):
        raise TypeError(f"`app` of {module.__file__} must be a fastapi.FastAPI instance, "
                        f"got {type(app).__name__}")
    has_ping = any(getattr(route, "path", None) == "/ping"
                   and "GET" in (getattr(route, "methods", None) or ()) for route in app.routes)
    if not has_ping:
        app.add_api_route("/ping", lambda: {"status": "healthy"}, methods=["GET"])
    return app


def main(argv: Sequence[str]) -> None:
    mode, app_dir, handler_file, host, port, *image_modules = argv
    sys.path.insert(0, app_dir)
    os.chdir(app_dir)
    stand_in_image_modules(image_modules)
    path = os.path.join(app_dir, handler_file)
    if mode == "lb":
        app = load_balanced_app(load_by_path("user_main", path))
        import uvicorn  # type: ignore[import-not-found]

        uvicorn.run(app, host=host, port=int(port))
        return
    wrapper = queue_handler(load_by_path(handler_file.removesuffix(".py"), path))
    sys.argv = [sys.argv[0], "--rp_serve_api", "--rp_api_host", host, "--rp_api_port", port]
    import runpod  # type: ignore[import-not-found]

    runpod.serverless.start({"handler": wrapper})


if __name__ == "__main__":
    main(sys.argv[1:])
