"""Command line: ``cp4cds-wps start|stop|status|dispatcher|inventory``."""

from __future__ import annotations

import argparse
import contextlib
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
from cp4cds_wps.request_log import Heartbeat, RequestLog

#: Modules the local job backend imports once for all workers (the processes and their code).
WORKER_PRELOAD = ("cp4cds_wps.processes",)
#: Times a dispatcher that ended is started again within ``RESTART_WINDOW`` seconds.
DISPATCHER_RESTARTS = 3
RESTART_WINDOW = 300.0


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
    """The supervisor's pid from the pid file, if that process runs and is cp4cds-wps."""
    try:
        pid = int(_pid_file(settings).read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        return None
    if b"cp4cds_wps" not in command and b"cp4cds-wps" not in command:
        return None  # a stale pid file, its number taken by another program
    return pid if _stat(pid) not in (None, "Z", "X") else None


def _stat(pid: int) -> str | None:
    """The state letter of process ``pid`` (None when there is none)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return None


def _healthy(settings: Settings) -> bool:
    try:
        with urllib.request.urlopen(f"{settings.url}/health", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _gunicorn_command(settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{settings.bind}:{settings.port}",
        "--workers", str(settings.workers),
        # threads: a request in progress (a synchronous Execute, a download) holds one
        # thread, not a whole process, so cheap requests are still answered meanwhile
        "--worker-class", "gthread",
        "--threads", str(settings.threads),
        "--timeout", str(settings.timeout),
        "--no-control-socket",
        "--access-logfile", str(settings.var_dir / "log" / "access.log"),
        "--error-logfile", str(settings.var_dir / "log" / "gunicorn.log"),
        "cp4cds_wps.app:create_app()",
    ]  # fmt: skip


def _dispatcher_command() -> list[str]:
    return [sys.executable, "-m", "cp4cds_wps.cli", "dispatcher"]


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (zombies do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def _supervise(settings: Settings, background: Sequence[subprocess.Popen] = ()) -> int:
    """Run gunicorn and the job dispatcher until a signal comes or gunicorn ends; stop the
    ``background`` processes (that may end before) with them.

    A dispatcher that ends is started again (the web server keeps serving, and the new
    dispatcher carries on from the job store), up to ``DISPATCHER_RESTARTS`` times within
    ``RESTART_WINDOW`` seconds; then the service stops, saying why.
    """
    children = {
        "gunicorn": subprocess.Popen(_gunicorn_command(settings)),
        "dispatcher": subprocess.Popen(_dispatcher_command()),
    }
    stopping = []

    def forward(signum, _frame):
        stopping.append(signum)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    _pid_file(settings).write_text(f"{os.getpid()}\n")
    heartbeat = Heartbeat(RequestLog.from_settings(settings), lambda: _healthy(settings))
    restarts: list[float] = []
    try:
        while not stopping and children["gunicorn"].poll() is None:
            time.sleep(0.2)
            heartbeat.tick()  # the dashboard's uptime
            code = children["dispatcher"].poll()
            if code is None or stopping:
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < RESTART_WINDOW]
            if len(restarts) == DISPATCHER_RESTARTS:
                break  # it keeps dying: stop, saying so
            print(f"cp4cds-wps: dispatcher exited with code {code}; starting it again",
                  file=sys.stderr, flush=True)  # fmt: skip
            restarts.append(now)
            children["dispatcher"] = subprocess.Popen(_dispatcher_command())
        for name, child in children.items():
            if child.poll() is not None and not stopping:
                print(f"cp4cds-wps: {name} exited with code {child.returncode}; stopping",
                      file=sys.stderr)  # fmt: skip
            if child.poll() is None:
                child.terminate()
        for process in background:  # each leads its own process group (its pool)
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                process.wait()
        for child in children.values():
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    finally:
        _pid_file(settings).unlink(missing_ok=True)
    return 0 if stopping else 1


def start(args: argparse.Namespace) -> int:
    """Prepare the service (folders, databases, inventory), run gunicorn and the dispatcher.

    In the foreground this process supervises both; with ``--daemon`` a detached copy of it
    does, and this one waits until the service answers its health check.
    """
    settings = _settings(args)
    if _running_pid(settings):
        print(f"cp4cds-wps is already running (pid file {_pid_file(settings)})", file=sys.stderr)
        return 1
    if args.daemon:
        return _start_daemon(settings)
    from cp4cds_wps.app import prepare
    from cp4cds_wps.metrics import prepare_multiprocess

    prepare(settings)
    prepare_multiprocess(settings)
    RequestLog.from_settings(settings).started()
    print(f"inventory: {scan_summary(Inventory.from_settings(settings).scan())}", flush=True)
    # quality control of new and changed files, in the background (datasets are "pending"
    # until it has judged them), its log in var/log/qc.log
    log = settings.var_dir / "log" / "qc.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        qc = subprocess.Popen(
            [sys.executable, "-m", "cp4cds_wps.qc", "--after-start"],
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    print(f"cp4cds-wps serving {settings.wps_url} (Ctrl-C to stop)", flush=True)
    return _supervise(settings, background=[qc])


def _start_daemon(settings: Settings) -> int:
    log = settings.var_dir / "log" / "service.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "cp4cds_wps.cli", "start"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and supervisor.poll() is None:
        if _healthy(settings) and _running_pid(settings) == supervisor.pid:
            print(f"cp4cds-wps running at {settings.wps_url} (pid {supervisor.pid})")
            return 0
        time.sleep(0.5)
    if supervisor.poll() is None:
        _stop_group(supervisor.pid)
    tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
    print(f"cp4cds-wps did not become healthy; the end of {log}:\n{tail}", file=sys.stderr)
    return 1


def _stop_group(pid: int, timeout: float = 60) -> bool:
    """Stop supervisor ``pid`` and what it runs: SIGTERM, SIGKILL after ``timeout`` seconds.

    A daemon's supervisor leads its own process group, which is signalled as a whole. One
    started in the foreground shares the group of the shell (or ``make``) that started it:
    it alone gets SIGTERM (it passes it on to gunicorn and the dispatcher), and if it is
    still there after ``timeout``, it and the processes of its session that descend from it
    get SIGKILL (job workers lead sessions of their own and are left running).

    Returns
    -------
    bool
        True when everything ended on SIGTERM.
    """
    try:
        leader = os.getpgid(pid) == pid
        (os.killpg if leader else os.kill)(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    alive = (lambda: _group_alive(pid)) if leader else (lambda: _stat(pid) not in (None, "Z", "X"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return True
        time.sleep(0.2)
    targets = [pid] if leader else [pid, *_descendants(pid, session=os.getsid(pid))]
    for target in targets:
        with contextlib.suppress(ProcessLookupError):
            (os.killpg if leader else os.kill)(target, signal.SIGKILL)
    return False


def _descendants(pid: int, session: int) -> list[int]:
    """Processes of ``session`` that descend from ``pid``."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[4]) == session:
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


def stop(args: argparse.Namespace) -> int:
    """Stop the service, started with ``--daemon`` or in the foreground: web server and
    dispatcher.

    Running jobs' workers are left to finish: they report to the job store themselves.
    """
    settings = _settings(args)
    pid = _running_pid(settings)
    if pid is None:
        print("cp4cds-wps is not running")
        return 0
    if not _stop_group(pid):
        print(f"cp4cds-wps (pid {pid}) did not stop within 60 s; killed", file=sys.stderr)
        return 1
    _pid_file(settings).unlink(missing_ok=True)
    print(f"cp4cds-wps stopped (pid {pid})")
    return 0


def dispatcher(args: argparse.Namespace) -> int:
    """Run the job dispatcher alone (``start`` runs it next to the web server)."""
    from cp4cds_wps.app import prepare
    from cp4cds_wps.jobs import dispatcher as jobs_dispatcher

    settings = _settings(args)
    prepare(settings)
    jobs_dispatcher.main(settings, preload=WORKER_PRELOAD)
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
    """Scan the archive roots, check their quality, list, show or export datasets."""
    settings = _settings(args)
    inv = Inventory.from_settings(settings)
    if args.action == "scan":
        print(scan_summary(inv.scan()))
    elif args.action == "qc":
        from cp4cds_wps.qc import run_qc

        inv.ensure_scanned()
        report = run_qc(inv, settings.qc, progress=print)
        print(report.summary())
        return 1 if report.skipped else 0
    elif args.action == "export":
        from cp4cds_wps.catalogue.export_command import export

        inv.ensure_scanned()
        for path in export(inv, settings, args.folder, args.format, args.paths, args.base_url):
            print(path)
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
        "stop", parents=[common], help="stop the service (daemon or foreground)"
    ).set_defaults(func=stop)
    sub.add_parser(
        "status", parents=[common], help="is the service running and healthy?"
    ).set_defaults(func=status)
    sub.add_parser(
        "dispatcher", parents=[common], help="run the job dispatcher alone (start runs it too)"
    ).set_defaults(func=dispatcher)

    p = sub.add_parser(
        "inventory", parents=[common], help="scan the archive, list or show datasets"
    )
    actions = p.add_subparsers(dest="action", required=True)
    actions.add_parser("scan", help="scan the archive roots (incremental)")
    actions.add_parser("qc", help="quality control of files not checked yet (incremental)")
    listing = actions.add_parser("list", help="one line per dataset")
    listing.add_argument("pattern", nargs="?", help="shell pattern on dataset ids, e.g. 'CMIP6.*'")
    export = actions.add_parser(
        "export", help="write intake-esm and STAC catalogs of the inventory into a folder"
    )
    export.add_argument("folder", type=Path)
    export.add_argument("--format", choices=("all", "intake-esm", "stac"), default="all")
    export.add_argument(
        "--paths",
        choices=("url", "local"),
        default="url",
        help="assets as the service's /data URLs (default) or local file paths",
    )
    export.add_argument(
        "--base-url", help="URL the folder will be served at (STAC links); default file://"
    )
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
