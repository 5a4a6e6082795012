"""`construct serve`: the provider the config describes, as an Infinity provider process.

The socket path goes alone on the first stdout line (the daemon reads it); everything
else, logs included, goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ..errors import ConfigError

__all__ = ["run_serve"]


def run_serve(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..factory import create_provider_from_config
    from ..remote.catalog import offers_from_config
    from ..remote.server import serve_provider

    config = load_config(args.config)
    provider = create_provider_from_config(config)
    models = offers_from_config(config.models) if config.models else None
    # A provider process's log is its stderr: INFO and up, one line each.
    logger = logging.getLogger("construct")
    logger.setLevel(logging.INFO)
    for handler in logger.handlers:
        handler.setFormatter(logging.Formatter("construct serve: %(message)s"))
    try:
        serve_provider(provider, models, args.protocol, announce=sys.stdout)
    except ConfigError:
        raise
    return 0
