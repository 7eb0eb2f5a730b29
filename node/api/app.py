"""The aiohttp application of one node: routes, the error middleware, and background
loops as `cleanup_ctx` contexts that cancel and await their tasks on shutdown."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from node.api.routes import SERVICE, error_middleware, routes
from node.api.service import SwarmService

__all__ = ["HEALTH_INTERVAL", "build_app"]

HEALTH_INTERVAL = 5.0


async def _health_loop(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[SERVICE].ctx.peers.watch_health(HEALTH_INTERVAL))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_app(service: SwarmService) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware],
        client_max_size=service.ctx.config.server.max_body_bytes,
    )
    app[SERVICE] = service
    app.add_routes(routes)
    app.cleanup_ctx.append(_health_loop)
    return app
