"""Command line: ``cp4cds-wps start|stop|status|inventory``."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from cp4cds_wps.config import ENV_CONFIG, ConfigError, Settings, load_settings
from cp4cds_wps.errors import UnknownDataset
from cp4cds_wps.inventory import Inventory
from cp4cds_wps.inventory.report import describe, scan_summary, summarize


def _settings(args: argparse.Namespace) -> Settings:
    """Load settings, exporting the choices so that gunicorn's workers see the same."""
    if args.config:
        os.environ[ENV_CONFIG] = str(Path(args.config).resolve())
    if getattr(args, "bind", None):
        os.environ["CP4CDS_WPS_SERVER__BIND"] = args.bind
    if getattr(args, "port", None):
        os.environ["CP4CDS_WPS_SERVER__PORT"] = str(args.port)
    return load_settings()


def _pid_file(settings: Settings) -> Path:
    return settings.var_dir / "cp4cds-wps.pid"


def _running_pid(settings: Settings) -> int | None:
    try:
        pid = int(_pid_file(settings).read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def _healthy(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"{settings.url}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def start(args: argparse.Namespace) -> int:
    """Prepare the service (folders, job database, inventory) and run it under gunicorn."""
    from cp4cds_wps.app import prepare

    settings = _settings(args)
    if _running_pid(settings):
        print(f"cp4cds-wps is already running (pid file {_pid_file(settings)})", file=sys.stderr)
        return 1
    prepare(settings)
    print(f"inventory: {scan_summary(Inventory.from_settings(settings).scan())}")
    command = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{settings.bind}:{settings.port}",
        "--workers", str(settings.workers),
        "--timeout", str(settings.timeout),
        "--no-control-socket",
        "--pid", str(_pid_file(settings)),
        "--access-logfile", str(settings.var_dir / "log" / "access.log"),
        "--error-logfile", str(settings.var_dir / "log" / "gunicorn.log"),
    ]  # fmt: skip
    if args.daemon:
        command.append("--daemon")
    command.append("cp4cds_wps.app:create_app()")
    if not args.daemon:
        print(f"cp4cds-wps serving {settings.wps_url} (Ctrl-C to stop)")
        os.execv(sys.executable, command)
    subprocess.run(command, check=True)
    deadline = time.monotonic() + 60
    started = False
    while time.monotonic() < deadline:
        if _healthy(settings):
            print(f"cp4cds-wps running at {settings.wps_url}")
            return 0
        running = _running_pid(settings) is not None
        if started and not running:
            break  # gunicorn wrote its pid file, then gave up
        started = started or running
        time.sleep(0.5)
    log = settings.var_dir / "log" / "gunicorn.log"
    tail = "".join(log.read_text().splitlines(keepends=True)[-15:]) if log.exists() else ""
    print(f"cp4cds-wps did not become healthy; the end of {log}:\n{tail}", file=sys.stderr)
    return 1


def stop(args: argparse.Namespace) -> int:
    """Stop a service started with ``--daemon``."""
    settings = _settings(args)
    pid = _running_pid(settings)
    if pid is None:
        print("cp4cds-wps is not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running_pid(settings) == pid:
        time.sleep(0.2)
    if _running_pid(settings) == pid:
        print(f"cp4cds-wps (pid {pid}) did not stop within 30 s", file=sys.stderr)
        return 1
    print("cp4cds-wps stopped")
    return 0


def status(args: argparse.Namespace) -> int:
    """Say whether the service runs and answers its health check."""
    settings = _settings(args)
    pid = _running_pid(settings)
    if pid is None:
        print("cp4cds-wps is not running")
        return 3
    state = "healthy" if _healthy(settings) else "not answering its health check"
    print(f"cp4cds-wps running (pid {pid}) at {settings.wps_url}: {state}")
    return 0 if state == "healthy" else 1


def inventory(args: argparse.Namespace) -> int:
    """Scan the archive roots, list datasets or show one."""
    settings = _settings(args)
    inv = Inventory.from_settings(settings)
    if args.action == "scan":
        print(scan_summary(inv.scan()))
    elif args.action == "list":
        inv.ensure_scanned()
        print(summarize(inv.list(pattern=args.pattern)))
    else:
        inv.ensure_scanned()
        try:
            print(describe(inv.get(args.dataset_id)))
        except UnknownDataset as err:
            print(err.reason, file=sys.stderr)
            return 2
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help=f"TOML file read on top of the defaults (or ${ENV_CONFIG})"
    )
    main = argparse.ArgumentParser(prog="cp4cds-wps", description=__doc__)
    sub = main.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "start", parents=[common], help="start the service (foreground unless --daemon)"
    )
    p.add_argument("--bind", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 5000)")
    p.add_argument("--daemon", action="store_true", help="run in the background")
    p.set_defaults(func=start)

    sub.add_parser(
        "stop", parents=[common], help="stop a service started with --daemon"
    ).set_defaults(func=stop)
    sub.add_parser(
        "status", parents=[common], help="is the service running and healthy?"
    ).set_defaults(func=status)

    p = sub.add_parser(
        "inventory", parents=[common], help="scan the archive, list or show datasets"
    )
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("scan", help="scan the archive roots (incremental)")
    listing = actions.add_parser("list", help="one line per dataset")
    listing.add_argument("pattern", nargs="?", help="shell pattern on dataset ids, e.g. 'CMIP6.*'")
    show = actions.add_parser("show", help="everything recorded about one dataset")
    show.add_argument("dataset_id")
    p.set_defaults(func=inventory)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cp4cds-wps`` command."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"cp4cds-wps: invalid configuration: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
