"""``freezer-agent``: run one backup, restore, info, admin or exec action.

Every option is generated from :data:`freezer_core.options.OPTIONS`, so the
spelling, short flags and defaults are upstream freezer-agent's and cannot drift
from the library.  Two deliberate differences from upstream: flags on the
command line override the ``--config`` file (upstream lets the file win), and
every failure is one line on stderr with a meaningful exit code instead of a
traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn, Self

import click
from click.core import ParameterSource

import freezer_core
from freezer_core.config import load_config
from freezer_core.errors import FreezerError, Interrupted, ValidationError
from freezer_core.models import Action
from freezer_core.options import BY_DEST, DEFAULT_LOG_FILE, OPTIONS, Option, mask
from freezer_core.validation import validate

PROG = "freezer-agent"
LOG = logging.getLogger("freezer_cli.agent")
_NEG = "neg__"


# ---------------------------------------------------------------- the command


def _help(opt: Option) -> str:
    text = opt.help
    shown = opt.shown_default()
    if shown:
        text += f"  [default: {shown}]"
    if opt.env:
        text += f"  [env: {opt.env}]"
    return text


def _metavar(opt: Option) -> str:
    if opt.choices:
        return "[" + "|".join(c for c in opt.choices) + "]"
    return {"int": "INT", "float": "NUMBER", "size": "SIZE", "date": "DATE"}.get(opt.type, "TEXT")


def _params(opt: Option) -> list[click.Parameter]:
    """click parameters for one option; defaults stay None so we can tell what was given."""
    shorts = [opt.short] if opt.short else []
    if opt.type == "bool" and not opt.takes_value:
        longs = list(opt.flags)
        if opt.negatable:
            longs = [f"{f}/{n}" for f, n in zip(opt.flags, opt.negations, strict=True)]
        return [click.Option([opt.dest, *longs, *shorts], is_flag=True, default=None, help=_help(opt))]
    if opt.type == "bool":
        params: list[click.Parameter] = [
            click.Option([opt.dest, *opt.flags, *shorts], is_flag=False, flag_value="true", default=None,
                         metavar="[true|false]", help=_help(opt))]
        if opt.negatable:
            params.append(click.Option([_NEG + opt.dest, *opt.negations], is_flag=True, default=None,
                                       help=f"Same as {opt.flag} false."))
        return params
    return [click.Option([opt.dest, *opt.flags, *shorts], default=None, metavar=_metavar(opt),
                         help=_help(opt))]


class AgentCommand(click.Command):
    """The agent command: unique-prefix long options, and one-line errors with exit codes."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._expand_prefixes(args))

    def _expand_prefixes(self, args: list[str]) -> list[str]:
        # Upstream parses with argparse, which accepts unique prefixes (tempest uses --compress).
        takes_value: dict[str, bool] = {}
        for param in self.get_params(click.Context(self)):
            if isinstance(param, click.Option):
                opt = BY_DEST.get(param.name or "")
                for name in (*param.opts, *param.secondary_opts):
                    # booleans never consume the next word as a value when it starts with "--"
                    takes_value[name] = opt is not None and opt.type != "bool"
        out: list[str] = []
        expect_value = False
        for index, arg in enumerate(args):
            if arg == "--":
                return out + args[index:]
            if expect_value or not arg.startswith("--"):
                out.append(arg)
                expect_value = False
                continue
            name, eq, value = arg.partition("=")
            if name not in takes_value:
                matches = sorted(n for n in takes_value if n.startswith(name))
                if len(matches) > 1:
                    raise click.UsageError(f"option {name} is ambiguous: it could be "
                                           + ", ".join(matches))
                if len(matches) == 1:
                    name = matches[0]
            out.append(name + eq + value)
            expect_value = takes_value.get(name, False) and not eq
        return out

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            code = super().main(args, prog_name or PROG, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            code = _fail(exc.format_message(), 2)
        except click.Abort:
            code = _fail("interrupted", Interrupted.exit_code)
        except FreezerError as exc:
            code = _fail(exc.message, exc.exit_code)
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _fail(message: str, code: int) -> int:
    click.echo(f"{PROG}: error: {' '.join(str(message).split())}", err=True)
    return code


@click.pass_context
def _callback(ctx: click.Context, **values: Any) -> int:
    action = build_action(ctx, values)
    with _Logging(action) as logs:
        try:
            return _execute(action)
        except FreezerError as exc:
            LOG.error("%s", exc.message)
            return _fail(exc.message, exc.exit_code)
        except KeyboardInterrupt:
            message = "interrupted; an unfinished backup is never used by a restore"
            LOG.error("%s", message)
            return _fail(message, Interrupted.exit_code)
        except Exception as exc:  # a bug: one line here, the traceback in the log
            LOG.error("unexpected failure", exc_info=logs.to_file)
            where = f"; the traceback is in {logs.path}" if logs.to_file else ""
            return _fail(f"unexpected failure: {type(exc).__name__}: {exc}{where} (please report it)", 1)


def _all_params() -> list[click.Parameter]:
    params = [p for opt in OPTIONS for p in _params(opt)]
    params.append(click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                               callback=_print_version, help="Show the version and exit."))
    return params


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        click.echo(f"{PROG} {freezer_core.__version__}")
        ctx.exit(0)


cli = AgentCommand(
    PROG, params=_all_params(), callback=_callback,
    help="Run one Freezer action: backup (default), restore, info, admin or exec.\n\n"
         "Options are upstream freezer-agent's; flags on the command line override --config.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)


def main() -> NoReturn:
    """Console-script entry point."""
    from freezer_core.pipeline import pin_malloc_thresholds

    pin_malloc_thresholds()  # before any data flows: see its docstring (peak RSS of a backup)
    cli.main(prog_name=PROG)
    raise SystemExit(0)  # pragma: no cover - cli.main always exits


# ---------------------------------------------------------------- building the action


def parse_action(argv: Sequence[str]) -> Action:
    """The Action a freezer-agent command line means, without running or validating it.

    :raises click.UsageError: unknown options; :raises FreezerError: bad values or config file.
    """
    with cli.make_context(PROG, list(argv)) as ctx:
        return build_action(ctx, dict(ctx.params))


def build_action(ctx: click.Context, values: dict[str, Any]) -> Action:
    """The action from defaults, environment, ``--config`` file and command line, in that order.

    :raises FreezerError: a bad config file or a value that does not fit its option.
    """
    given: dict[str, Any] = {}
    for name, value in values.items():
        if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        if name.startswith(_NEG):
            given[name[len(_NEG):]] = False
        else:
            given[name] = value
    merged: dict[str, Any] = {o.dest: os.environ[o.env] for o in OPTIONS if o.env and os.environ.get(o.env)}
    if given.get("config"):
        from_file, storages = load_config(given["config"])
        from_file.pop("config", None)
        merged.update(from_file)
        if storages:
            merged["storages"] = storages
    merged.update(given)
    return Action.from_dict(merged)


# ---------------------------------------------------------------- running


def _execute(action: Action) -> int:
    LOG.info("%s %s: %s", PROG, action.action, action.masked())
    validate(action)
    _check_metadata_out(action.metadata_out)
    progress = _Progress(sys.stderr) if not action.quiet and _is_tty(sys.stderr) else None
    try:
        result = freezer_core.run(action, progress=progress)
    finally:
        if progress:
            progress.close()
    LOG.info("%s %s finished: %s", PROG, action.action, {k: mask(k, v) for k, v in result.items()})
    _write_metadata(action.metadata_out, result)
    return 0


def _is_tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _check_metadata_out(target: str | None) -> None:
    if target and target != "-":
        parent = os.path.dirname(os.path.abspath(os.path.expanduser(target)))
        if not os.path.isdir(parent):
            raise ValidationError(f"--metadata-out: directory {parent} does not exist; create it "
                                  f"or use '-' for stdout")


def _write_metadata(target: str | None, result: dict[str, Any]) -> None:
    if not target:
        return
    text = json.dumps(result, indent=2, default=str)
    if target == "-":
        click.echo(text)
        return
    path = os.path.expanduser(target)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as exc:
        raise FreezerError(f"--metadata-out: cannot write {path} ({exc.strerror}); the action "
                           f"itself succeeded") from None


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


class _Progress:
    """A one-line progress display on a terminal: bytes, rate and, when the total is known, ETA."""

    def __init__(self, stream: IO[str], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.start = clock()
        self.last = -1.0
        self.width = 0
        self.lock = threading.Lock()  # the pipeline may report from several threads

    def __call__(self, done: int, total: int | None) -> None:
        with self.lock:
            self._show(done, total)

    def _show(self, done: int, total: int | None) -> None:
        now = self.clock()
        if now - self.last < 0.2 and (total is None or done < total):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-6)
        text = _human(done)
        if total:
            text += f" of {_human(total)} ({min(100, done * 100 // total)}%)"
        text += f", {_human(rate)}/s"
        if total and rate > 0 and done < total:
            text += f", {int((total - done) / rate)} s left"
        self.width = max(self.width, len(text))
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()

    def close(self) -> None:
        if self.last >= 0:
            self.stream.write("\n")
            self.stream.flush()


class _Logging:
    """Log to ``--log-file`` (default ~/.freezer/freezer.log), or to stderr if it can't be written."""

    def __init__(self, action: Action) -> None:
        self.path = os.path.expanduser(action.log_file or DEFAULT_LOG_FILE)
        self.level = logging.DEBUG if action.debug else logging.INFO
        self.quiet = action.quiet
        self.to_file = False
        self.handler: logging.Handler | None = None
        self.saved_level = logging.getLogger().level

    def __enter__(self) -> Self:
        root = logging.getLogger()
        try:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self.handler = logging.FileHandler(self.path, encoding="utf-8")
            self.to_file = True
            self.handler.setLevel(self.level)
        except OSError as exc:
            self.handler = logging.StreamHandler(sys.stderr)
            self.handler.setLevel(logging.ERROR if self.quiet else logging.WARNING)
            # Our own error line is printed once by _fail; don't echo it through the log.
            self.handler.addFilter(lambda record: record.name != LOG.name)
            if not self.quiet:
                click.echo(f"{PROG}: warning: cannot write the log file {self.path} "
                           f"({exc.strerror or exc}); logging to stderr", err=True)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(self.handler)
        root.setLevel(min(self.level, root.level) if root.level else self.level)
        return self

    def __exit__(self, *_exc: object) -> None:
        root = logging.getLogger()
        if self.handler:
            root.removeHandler(self.handler)
            self.handler.close()
        root.setLevel(self.saved_level)
