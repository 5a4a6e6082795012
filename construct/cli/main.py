"""`construct`: the parser, the dispatch, and every failure as one line and an exit code.

Exit codes: 0 success; 1 a provider call failed (or `config check` found problems);
2 a usage or configuration error; 130 interrupted; 141 the reader of stdout went away.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import ConfigError, ConstructError
from .common import UsageError, one_line

__all__ = ["build_parser", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

Command = Callable[[argparse.Namespace], int]


def _providers_list(args: argparse.Namespace) -> int:
    from .providers import run_list

    return run_list(args)


def _providers_show(args: argparse.Namespace) -> int:
    from .providers import run_show

    return run_show(args)


def _chat(args: argparse.Namespace) -> int:
    from .chat import run_chat

    return run_chat(args)


def _config_init(args: argparse.Namespace) -> int:
    from .config_cmd import run_init

    return run_init(args)


def _config_check(args: argparse.Namespace) -> int:
    from .config_cmd import run_check

    return run_check(args)


def _route_explain(args: argparse.Namespace) -> int:
    from .route import run_explain

    return run_explain(args)


def _processes_list(args: argparse.Namespace) -> int:
    from .processes import run_list

    return run_list(args)


def _processes_add(args: argparse.Namespace) -> int:
    from .processes import run_add

    return run_add(args)


def _processes_remove(args: argparse.Namespace) -> int:
    from .processes import run_remove

    return run_remove(args)


def _processes_update(args: argparse.Namespace) -> int:
    from .processes import run_update

    return run_update(args)


def _serve(args: argparse.Namespace) -> int:
    from .serve import run_serve

    return run_serve(args)


def _models_list(args: argparse.Namespace) -> int:
    from .models import run_models_list

    return run_models_list(args)


def _auth_login(args: argparse.Namespace) -> int:
    from .auth_cmd import run_login

    return run_login(args)


def _auth_logout(args: argparse.Namespace) -> int:
    from .auth_cmd import run_logout

    return run_logout(args)


def _auth_status(args: argparse.Namespace) -> int:
    from .auth_cmd import run_status

    return run_status(args)


def _temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    from ..errors import ConfigError
    from ..options import check_temperature

    try:
        return check_temperature(value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def build_parser() -> argparse.ArgumentParser:
    # `--config` is accepted before the command and after it; the later one wins
    # (SUPPRESS keeps a subcommand from resetting what the main parser read).
    config_flag = argparse.ArgumentParser(add_help=False)
    config_flag.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (beats CONSTRUCT_CONFIG, ./config.toml, ~/.construct/config.toml)",
    )
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print JSON instead of a table")

    parser = argparse.ArgumentParser(
        prog="construct",
        description="One interface over every LLM backend: list providers, chat, check config.",
        epilog="Run 'construct COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"construct {__version__}")
    parser.add_argument("--config", metavar="PATH", default=None, help="config file to read")
    parser.add_argument(
        "--debug", action="store_true", help="show a traceback for unexpected errors"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    providers = commands.add_parser(
        "providers",
        help="list providers or show one",
        description="The providers construct can reach, and how each one is resolved.",
        parents=[config_flag, json_flag],
    )
    providers.set_defaults(func=_providers_list)
    provider_cmds = providers.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    p_list = provider_cmds.add_parser(
        "list",
        help="every provider, its key variable and whether it is set (the default)",
        description="Every provider: ID, name, aliases, key variable, availability.",
        parents=[config_flag, json_flag],
    )
    p_list.set_defaults(func=_providers_list)
    p_show = provider_cmds.add_parser(
        "show",
        help="how one name resolves: URL, auth, key variables, capabilities",
        description="How NAME resolves (a slug, an alias, a family name or a custom: URL).",
        parents=[config_flag, json_flag],
    )
    p_show.add_argument("name", metavar="NAME", help="e.g. groq, grok, qwen-intl, custom:URL")
    p_show.set_defaults(func=_providers_show)

    chat = commands.add_parser(
        "chat",
        help="send one prompt and print the answer",
        description=(
            "Send PROMPT (or stdin, when PROMPT is '-' or absent) and stream the answer to "
            "stdout. Provider and model default to the config's."
        ),
        parents=[config_flag],
    )
    chat.add_argument("-p", "--provider", metavar="PROVIDER", help="provider name or custom:URL")
    chat.add_argument("-m", "--model", metavar="MODEL", help="model id")
    chat.add_argument("--system", metavar="TEXT", help="system prompt")
    chat.add_argument(
        "--temperature", type=_temperature, metavar="T", help="sampling temperature, 0 to 2"
    )
    chat.add_argument(
        "--no-stream", action="store_true", help="wait for the whole answer, then print it"
    )
    chat.add_argument("prompt", nargs="?", metavar="PROMPT", help="the prompt; '-' reads stdin")
    chat.set_defaults(func=_chat)

    config = commands.add_parser(
        "config",
        help="write a starter config or check one",
        description="Write a starter config.toml, or check one for problems.",
    )
    config_cmds = config.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    c_init = config_cmds.add_parser(
        "init",
        help="write a commented starter config (never overwrites)",
        description=(
            "Write a commented starter config to PATH (default: CONSTRUCT_CONFIG, else "
            "~/.construct/config.toml). An existing file is never overwritten."
        ),
        parents=[config_flag],
    )
    c_init.add_argument("path", nargs="?", metavar="PATH", help="where to write it")
    c_init.set_defaults(func=_config_init)
    c_check = config_cmds.add_parser(
        "check",
        help="report every problem of a config, with its key path",
        description="Load the config and report every problem; exit 1 if there is any.",
        parents=[config_flag],
    )
    c_check.set_defaults(func=_config_check)
    config.set_defaults(func=None, help_parser=config)

    route = commands.add_parser(
        "route",
        help="explain where a request for a model would go",
        description="How the config's routes and fallbacks would handle a request.",
    )
    route_cmds = route.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    r_explain = route_cmds.add_parser(
        "explain",
        help="provider, model, key (masked) and fallback chain for MODEL; sends nothing",
        description=(
            "Which provider, model and key (masked) a request for MODEL would use, and the "
            "fallback chain behind it. MODEL may be hint:NAME; without it, default_model. "
            "Nothing is sent."
        ),
        parents=[config_flag, json_flag],
    )
    r_explain.add_argument("model", nargs="?", metavar="MODEL", help="a model id or hint:NAME")
    r_explain.set_defaults(func=_route_explain)
    route.set_defaults(func=None, help_parser=route)

    _add_processes(commands, json_flag)

    serve = commands.add_parser(
        "serve",
        help="serve the configured provider as an Infinity provider process",
        description=(
            "Serve the provider the config describes (routes, retries, fallbacks) as an "
            "Infinity-style provider process: the Unix socket path is printed alone on the "
            "first stdout line; logs go to stderr. Stops on SIGTERM or SIGINT."
        ),
        parents=[config_flag],
    )
    serve.add_argument(
        "--protocol",
        choices=("v1", "v2", "v3"),
        default="v3",
        help="wire generation of the answers (default v3; a v1 request is answered in v1)",
    )
    serve.set_defaults(func=_serve)

    models = commands.add_parser(
        "models",
        help="list the models of the configured providers",
        description="The models each configured provider offers.",
    )
    model_cmds = models.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    m_list = model_cmds.add_parser(
        "list",
        help="every configured provider's models, context windows and image support",
        description=(
            "Ask every provider the config names (default, fallbacks, routes, processes) for "
            "its models. The default provider and model are marked with *."
        ),
        parents=[config_flag, json_flag],
    )
    m_list.add_argument(
        "-p", "--provider", metavar="PROVIDER", help="only this provider (a name or process:ID)"
    )
    m_list.set_defaults(func=_models_list)
    models.set_defaults(func=None, help_parser=models)

    _add_auth(commands)
    return parser


def _add_auth(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    auth = commands.add_parser(
        "auth",
        help="sign in to a provider, sign out, or show the sign-ins",
        description=(
            "Sign-ins to providers that take one instead of an API key (GitHub Copilot). "
            "They are kept in $CONSTRUCT_HOME/auth (default ~/.construct/auth), readable by "
            "you alone; no token is ever printed."
        ),
    )
    auth_cmds = auth.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    provider_help = "e.g. copilot, or copilot:work for a second sign-in"
    a_login = auth_cmds.add_parser(
        "login",
        help="sign in to PROVIDER in the terminal (GitHub's device flow for copilot)",
        description=(
            "Sign in to PROVIDER: construct prints a URL and a code, you enter the code "
            "there, and the sign-in is stored. Ctrl-C cancels; nothing is stored then."
        ),
    )
    a_login.add_argument("provider", nargs="?", metavar="PROVIDER", help=provider_help)
    a_login.set_defaults(func=_auth_login)
    a_logout = auth_cmds.add_parser(
        "logout",
        help="remove the stored sign-in of PROVIDER (of every provider without one)",
        description="Remove a stored sign-in; without PROVIDER, every stored sign-in.",
    )
    a_logout.add_argument("provider", nargs="?", metavar="PROVIDER", help=provider_help)
    a_logout.set_defaults(func=_auth_logout)
    a_status = auth_cmds.add_parser(
        "status",
        help="who is signed in, until when, and where the credential comes from",
        description=(
            "For PROVIDER (default: every provider with a sign-in): the account, when the "
            "credential expires and where it comes from. Exit 1 when there is none."
        ),
    )
    a_status.add_argument("provider", nargs="?", metavar="PROVIDER", help=provider_help)
    a_status.set_defaults(func=_auth_status)
    auth.set_defaults(func=None, help_parser=auth)


def _add_processes(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    json_flag: argparse.ArgumentParser,
) -> None:
    # Like --config: accepted before the subcommand and after it, the later one wins.
    file_flag = argparse.ArgumentParser(add_help=False)
    file_flag.add_argument(
        "--file",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="providers.json to use (beats CONSTRUCT_PROCESSES_FILE, ~/.infinity/providers.json)",
    )
    processes = commands.add_parser(
        "processes",
        help="list, add, remove or update provider processes (providers.json)",
        description=(
            "Provider processes: programs that print a Unix socket path and serve models on "
            "it, started in the order of providers.json (Infinity's file)."
        ),
        parents=[file_flag, json_flag],
    )
    processes.set_defaults(func=_processes_list)
    process_cmds = processes.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    p_list = process_cmds.add_parser(
        "list",
        help="every provider process, in start order (the default)",
        description="Every provider process of providers.json: ID, command, package or crate.",
        parents=[file_flag, json_flag],
    )
    p_list.set_defaults(func=_processes_list)
    p_add = process_cmds.add_parser(
        "add",
        help="add a provider process, or replace one keeping its position",
        description=(
            "Add ID, started by COMMAND, to providers.json; an existing ID is replaced in "
            "place. --package names the Python package `processes update` reinstalls."
        ),
        usage="construct processes add ID [--package PKG] [--file PATH] -- COMMAND [ARGS...]",
        parents=[file_flag],
    )
    p_add.add_argument("--package", metavar="PKG", help="the pip package that provides COMMAND")
    # ID, its options and the command are read apart at `--` (construct/cli/processes.py).
    p_add.add_argument("words", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p_add.set_defaults(func=_processes_add)
    p_remove = process_cmds.add_parser(
        "remove",
        help="remove a provider process",
        description="Remove ID from providers.json; the others keep their order.",
        parents=[file_flag],
    )
    p_remove.add_argument("id", metavar="ID")
    p_remove.set_defaults(func=_processes_remove)
    p_update = process_cmds.add_parser(
        "update",
        help="reinstall the packages of provider processes with pip",
        description=(
            "Run pip install --upgrade PACKAGE for each provider process (or each ID given) "
            "that has a package; exit 1 if any fails. CONSTRUCT_PIP replaces `python -m pip` "
            "(e.g. 'uv pip')."
        ),
        parents=[file_flag],
    )
    p_update.add_argument("ids", nargs="*", metavar="ID", help="only these (default: all)")
    p_update.set_defaults(func=_processes_update)


def _setup_logging() -> None:
    # The library warns through `logging` (plain http:// to a remote host, skipped
    # fallbacks); on the command line those read as warnings, not log records.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("construct: warning: %(message)s"))
    logger = logging.getLogger("construct")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def _error(message: str) -> None:
    print(f"construct: error: {one_line(message)}", file=sys.stderr)


def _failure(exc: ConstructError) -> str:
    """The message of a failed call. A chain that made one attempt (a missing key, a 401
    not worth retrying) failed for that attempt's reason: its attempt list adds nothing."""
    attempts = getattr(exc, "attempts", None)
    if attempts is not None and len(attempts) == 1 and attempts[0].reason != "rate_limited":
        return attempts[0].error
    return exc.message


def _quiet_broken_pipe() -> int:
    # Python's recipe: point stdout at /dev/null so the flush at exit cannot fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        (getattr(args, "help_parser", None) or parser).print_help(sys.stderr)
        return EXIT_USAGE
    _setup_logging()
    try:
        return func(args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except ConfigError as exc:
        _error(exc.message)
        return EXIT_USAGE
    except ConstructError as exc:
        _error(_failure(exc))
        return EXIT_FAILED
    except OSError as exc:
        _error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_FAILED
    except Exception as exc:
        if args.debug:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (run with --debug for a traceback)")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
