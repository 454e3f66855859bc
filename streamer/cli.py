"""Command line: `streamer` (= `streamer serve`), `streamer check`, `streamer schedule`,
`streamer library scan|list`, `streamer report`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import faulthandler
import logging
import os
import signal
import socket
import sys

from . import __version__
from .aio import activated
from .audio.ffmpeg import FFmpegMissing, ffmpeg_exe, quick_start_ffmpeg
from .config import at_config_line, load_config
from .instance import StateDirBusy, hold_state_dir
from .logs import configure_logging
from .schedule.programme import Programme, load_programme
from .settings import Config
from .yamldoc import ConfigError

STOP_LIMIT = 6.0  # seconds from SIGTERM to exit at most, whatever hangs

log = logging.getLogger("streamer")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamer",
        description="An Internet radio station: scheduled playlists encoded to Icecast-compatible streams. With no command, runs `serve`.",
    )
    parser.add_argument("--version", action="version", version=f"streamer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="put the station on air (the default)", description="Put the station on air.")
    _common(serve)
    serve.add_argument("--host", help="address to listen on (overrides server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides server.port; 0 picks a free one)")
    check = sub.add_parser(
        "check", help="validate the config and playlists", description="Validate config.yaml and the playlists; exit 0 if all is well."
    )
    _common(check)
    sched = sub.add_parser(
        "schedule", help="print the timeline a DJ reads", description="Print the schedule: blocks, playlists and timed events."
    )
    _common(sched)
    sched.add_argument("--at", metavar="TIME", help="start time: 'YYYY-MM-DD HH:MM' or 'HH:MM' (station time zone; default: now)")
    sched.add_argument("--hours", type=_hours, default=24, metavar="N", help="how many hours to show (default 24; 0.017 to 48)")
    lib = sub.add_parser(
        "library", help="analyse the music (loudness, cue points) or list it",
        description="scan: analyse every file the programme uses (loudness, true peak, cue points; changed files again). "
        "list: the table of analysed files.",
    )  # fmt: skip
    lib.add_argument("action", choices=["scan", "list"])
    lib.add_argument("--problems", action="store_true", help="list: only files that will not play, are silent or truncated")
    _common(lib)
    _report_parser(sub)
    return parser


def _hours(raw: str) -> float:
    """--hours checked as GET /api/schedule checks ?hours= (argparse shows only this error type's text)."""
    from .schedule.timeline import timeline_hours

    try:
        return timeline_hours(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _report_parser(sub: argparse._SubParsersAction) -> None:
    from .history.reports import FORMATS, KINDS

    report = sub.add_parser(
        "report", help="reports from the station's history (plays, listeners, SoundExchange, tracks)",
        description="Reports from the station's history database. Dates are the station's (its time zone); "
        "--to includes that whole day. Default: the last 30 days.",
    )  # fmt: skip
    report.add_argument("kind", choices=KINDS, help="plays: what aired; listeners: the audience; soundexchange: the royalty file; "
                        "tracks: each recording's plays and listeners")  # fmt: skip
    report.add_argument("--from", dest="start", metavar="DATE", help="first day, YYYY-MM-DD (or 'YYYY-MM-DD HH:MM')")
    report.add_argument("--to", dest="end", metavar="DATE", help="last day, YYYY-MM-DD (included)")
    report.add_argument("--format", choices=FORMATS, default="txt", help="txt (soundexchange: its pipe-delimited file), csv or json")
    report.add_argument("--tuning-hours", action="store_true", help="soundexchange only: the aggregate-tuning-hours variant")
    report.add_argument("-o", "--output", metavar="PATH", help="write to PATH (a folder: SoundExchange's file name) instead of stdout")
    _common(report)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.yaml", metavar="PATH", help="the station's config file (default: ./config.yaml)")


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _command(argv)
        finally:
            sys.stdout.flush()  # what is still buffered fails here, not at exit
    except BrokenPipeError:
        # The reader went away (`streamer check | head -1`): exit quietly, as the Python docs'
        # note on SIGPIPE says: stdout to devnull (so the exit's flush cannot fail again), status 1.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _command(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["serve", *argv]
    args = _parser().parse_args(argv)
    if args.command == "check":
        return check(args.config)
    if args.command == "library":
        return library(args.config, args.action, args.problems)
    if args.command == "schedule":
        return schedule(args.config, args.at, args.hours)
    if args.command == "report":
        return report(args)
    return serve(args.config, args.host, args.port)


def _load(path: str) -> Config | None:
    try:
        return load_config(path)
    except ConfigError as exc:
        _problems(exc.problems)
        return None


def _problems(problems) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)


def _load_programme(path: str) -> tuple[Config, Programme] | None:
    """The config and the programme it names, or None after printing every problem."""
    config = _load(path)
    if config is None:
        return None
    try:
        return config, load_programme(config.playlists_dir)
    except ConfigError as exc:
        _problems(at_config_line(exc.problems, config))
        return None


def check(path: str) -> int:
    from .checking import check_programme

    loaded = _load_programme(path)
    return 2 if loaded is None else check_programme(*loaded)


def library(path: str, action: str, problems: bool) -> int:
    from .library_cli import listing, scan

    loaded = _load_programme(path)
    if loaded is None:
        return 2
    if action == "scan":
        try:
            return scan(*loaded)
        except FFmpegMissing as exc:
            print(f"streamer: {exc}", file=sys.stderr)
            return 2
    return listing(*loaded, problems)


def schedule(path: str, at: str | None, hours: float) -> int:
    from .schedule_cli import print_schedule

    loaded = _load_programme(path)
    return 2 if loaded is None else print_schedule(loaded[1], at, hours)


def report(args: argparse.Namespace) -> int:
    """`streamer report KIND`: read the history database (read-only, beside a running station)."""
    from .history.command import report_command

    config = _load(args.config)
    if config is None:
        return 2
    return report_command(config, args.kind, args.start, args.end, args.format, args.tuning_hours, args.output)


def serve(path: str, host: str | None, port: int | None) -> int:
    config = _load(path)
    if config is None:
        return 2
    config = dataclasses.replace(config, host=host or config.host, port=config.port if port is None else port)
    fds = activated(os.environ, os.getpid())
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):  # not for the children
        os.environ.pop(name, None)
    if fds:  # a service manager's socket says where the station faces, not server.host
        with socket.socket(fileno=os.dup(fds[0])) as passed:
            config = dataclasses.replace(config, host=str(passed.getsockname()[0]), port=int(passed.getsockname()[1]))
    face = config.network_face()
    if face and fds:
        face += " (the socket the service manager passed)"
    configure_logging(config.log_level)
    for note in config.notes:
        logging.getLogger("streamer.config").warning("%s", note)
    refusal = config.weak_passwords_refusal(face)
    if refusal:
        print(refusal, file=sys.stderr)
        return 2
    try:
        hold_state_dir(config.state_dir, STOP_LIMIT + 1)  # (kept for the process's life; one stopping has that long)
    except StateDirBusy as exc:
        print(f"streamer: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the station plays without its memory rather than not at all (the stores say so too)
        log.warning(
            "state_dir %s cannot be locked (%s): a second station on it would not be refused", config.state_dir, exc.strerror or exc
        )
    try:
        ffmpeg, quick_ffmpeg = ffmpeg_exe(), quick_start_ffmpeg()
    except FFmpegMissing as exc:
        print(f"streamer: {exc}", file=sys.stderr)
        return 2
    try:
        import uvloop  # faster event loop and transports where available
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        return runner(_serve(config, ffmpeg, quick_ffmpeg, fds))
    except KeyboardInterrupt:
        return 0


async def _serve(config: Config, ffmpeg: str, quick_ffmpeg: str, fds: list[int]) -> int:
    from .station import Station
    from .stream.health_door import HealthPortError, ListenError

    station = Station(config, ffmpeg, quick_ffmpeg)
    decoders = "" if quick_ffmpeg == ffmpeg else f" (decoders started at need: {quick_ffmpeg})"
    limits = station.fd_limit, station.gate.fd_budget
    log.info("streamer %s, ffmpeg %s%s, open-files limit %d (%d for clients)", __version__, ffmpeg, decoders, *limits)
    if config.max_listeners > station.gate.fd_budget:
        log.warning("server.max_listeners %d is more than the open-files limit allows (%d)", config.max_listeners, station.gate.fd_budget)
    try:
        await station.start(config.host, config.port, fds)
    except ConfigError as exc:
        _problems(at_config_line(exc.problems, config))
        return 2
    except ListenError as exc:
        which = f"{config.health_port} (server.health_port)" if isinstance(exc, HealthPortError) else config.port
        print(f"streamer: cannot listen on {config.host}:{which}: {exc.strerror or exc}", file=sys.stderr)
        await station.stop()
        return 2
    except OSError as exc:  # not the port's (QA: a worker that could not start was said as "cannot listen")
        log.exception("the station could not start")
        print(f"streamer: the station could not start: {exc}", file=sys.stderr)
        await station.stop()
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, station.reopen_logs)  # logrotate moved the access log
    await stop.wait()
    log.info("shutting down")
    # Whatever hangs (a child, a thread the interpreter joins at exit), the process ends: past the
    # limit every thread's traceback goes to the log and the process exits with status 1.
    faulthandler.dump_traceback_later(STOP_LIMIT, exit=True)
    try:
        await asyncio.wait_for(station.stop(), STOP_LIMIT - 1)
    except TimeoutError:
        log.error("stop did not finish in %g s (held at: %s); exiting without it", STOP_LIMIT - 1, station.stopping)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
