"""Settings: defaults from ``etc/default.toml``, one optional file on top, then environment.

Precedence (last wins): ``etc/default.toml`` < the file named by ``--config`` or
``CP4CDS_WPS_CONFIG`` < environment variables ``CP4CDS_WPS_<SECTION>__<KEY>``.
Relative paths are resolved against the directory of the file that sets them (the
current directory for environment variables). Invalid settings raise
:class:`ConfigError` naming the key; so do sections and keys that ``etc/default.toml`` does
not have (a typo must not be ignored), in files and in environment variables.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_DIR / "etc" / "default.toml"
ENV_CONFIG = "CP4CDS_WPS_CONFIG"
ENV_PREFIX = "CP4CDS_WPS_"

#: Projects the inventory knows a DRS template for.
PROJECTS = (
    "cmip5",
    "cmip6",
    "cordex",
    "c3s-cmip5",
    "c3s-cmip6",
    "c3s-cordex",
    "c3s-cica-atlas",
    "c3s-ipcc-ar6-atlas",
)
#: How a site's ``[[archive.roots]]`` combine with the default ones.
ROOTS_MODES = ("replace", "extend")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the key."""


@dataclass(frozen=True)
class Root:
    """One archive root: a folder holding one project's DRS tree."""

    name: str
    path: Path
    project: str
    fixed: Mapping[str, str] = field(default_factory=dict)


BACKENDS = ("local", "slurm", "dask")


@dataclass(frozen=True)
class JobSettings:
    """How asynchronous jobs are stored, limited and run."""

    backend: str
    database: str
    max_running: int
    max_queued: int
    wall_time: int
    memory_mb: int
    heartbeat_timeout: int
    retention_days: int
    slurm_options: str
    dask_scheduler: str


@dataclass(frozen=True)
class LimitSettings:
    """The largest request the service accepts (checked before a job is accepted)."""

    max_read_mb: int
    max_write_mb: int
    max_files: int


@dataclass(frozen=True)
class AuthSettings:
    """The bearer-token check on Execute and Dismiss (OIDC access tokens, e.g. Keycloak's)."""

    enabled: bool = False
    issuer: str = ""
    jwks_url: str = ""
    audience: str = ""
    required_scope: str = ""
    leeway: int = 30
    private_results: bool = True


@dataclass(frozen=True)
class ReferenceSettings:
    """Which inputs given by reference the server fetches, and how (``[references]``)."""

    allowed_prefixes: tuple[str, ...] = ()
    timeout: int = 10
    max_mb: int = 10


#: Which datasets the service serves (``[qc] serve``).
SERVE_POLICIES = ("all", "passed")
#: The checks quality control can run on each file (``[qc] checks``).
QC_CHECKS = ("checksum", "cf", "coordinates")


@dataclass(frozen=True)
class QcSettings:
    """Quality control of the archive's files and the datasets the service serves."""

    serve: str = "all"
    checks: tuple[str, ...] = QC_CHECKS
    workers: int = 1
    cache: Path | None = None
    known_issues: Path | None = None


#: Keys of ``[provider]``: who runs the service, shown in GetCapabilities.
PROVIDER_KEYS = (
    "name",
    "url",
    "contact_name",
    "contact_position",
    "contact_email",
    "contact_phone",
    "address",
    "city",
    "postal_code",
    "country",
)


@dataclass(frozen=True)
class ProviderSettings:
    """The operator of the service (``[provider]``), for the capabilities' ServiceProvider.

    Empty fields stay empty in the capabilities (PyWPS's placeholders are never shown).
    """

    name: str = "cp4cds-wps"
    url: str = ""
    contact_name: str = ""
    contact_position: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    address: str = ""
    city: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class Settings:
    """All settings of one service instance."""

    bind: str
    port: int
    url: str
    workers: int
    threads: int
    max_sync_executes: int
    timeout: int
    var_dir: Path
    output_dir: Path
    work_dir: Path
    inventory_db: Path
    jobs_db: Path
    time_chunk: int
    max_file_mb: int
    jobs: JobSettings
    base_dir: Path
    roots: tuple[Root, ...]
    limits: LimitSettings
    auth: AuthSettings = AuthSettings()
    qc: QcSettings = QcSettings()
    references: ReferenceSettings = ReferenceSettings()
    provider: ProviderSettings = ProviderSettings()
    sources: tuple[Path, ...] = ()

    @property
    def wps_url(self) -> str:
        """URL of the WPS endpoint."""
        return f"{self.url}/wps"

    @property
    def output_url(self) -> str:
        """URL under which ``output_dir`` is served."""
        return f"{self.url}/outputs"

    @property
    def data_url(self) -> str:
        """URL under which the archive roots are served (``/data/<root name>/...``)."""
        return f"{self.url}/data"

    def root(self, name: str) -> Root:
        """Return the archive root called ``name``."""
        for root in self.roots:
            if root.name == name:
                return root
        raise KeyError(name)


def _read_toml(path: Path, known: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings of one file; with ``known`` (the defaults) unknown names are errors."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as err:
        raise ConfigError(f"config file {path} does not exist") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path} is not valid TOML: {err}") from err
    if known is not None:
        for section, table in data.items():
            _check_section(known, section, f"config file {path}")
            if not isinstance(table, Mapping):
                raise ConfigError(f"config file {path}: [{section}] must be a table")
            for key, value in table.items():
                _check_key(known, section, key, f"config file {path}")
                for i, item in enumerate(value if isinstance(value, list) else []):
                    _check_item(known, section, key, i, item, f"config file {path}")
    return _resolve_paths(data, path.resolve().parent)


#: Keys of the tables of arrays of tables, where the defaults need not show every key.
_ITEM_KEYS = {("archive", "roots"): tuple(f.name for f in fields(Root))}


def _unknown(what: str, name: str, known: list[str], where: str) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(f"{where}: unknown {what}{hint}; known: {', '.join(known)}")


def _check_section(known: Mapping[str, Any], section: str, where: str) -> None:
    if section not in known:
        raise _unknown(f"section [{section}]", section, list(known), where)


def _check_key(known: Mapping[str, Any], section: str, key: str, where: str) -> None:
    if key not in known[section]:
        raise _unknown(f"setting [{section}] {key}", key, list(known[section]), where)


def _check_item(
    known: Mapping[str, Any], section: str, key: str, index: int, item: Any, where: str
) -> None:
    """Check the keys of table ``index`` of the array of tables ``[[section.key]]``."""
    defaults = known[section][key]
    if not isinstance(item, Mapping) or not all(isinstance(d, Mapping) for d in defaults):
        return
    names = list(_ITEM_KEYS.get((section, key), ()))
    names += [name for d in defaults for name in d if name not in names]
    for name in item:
        if name not in names:
            raise _unknown(f"setting {name} of [[{section}.{key}]] number {index + 1}", name,
                           names, where)  # fmt: skip


_PATH_KEYS = {
    ("paths", "var_dir"),
    ("paths", "output_dir"),
    ("paths", "work_dir"),
    ("paths", "inventory_db"),
    ("paths", "jobs_db"),
    ("archive", "base_dir"),
    ("qc", "cache"),
    ("qc", "known_issues"),
}


def _resolve_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the path settings of one source absolute against ``base``."""
    for section, key in _PATH_KEYS:
        value = data.get(section, {}).get(key)
        if isinstance(value, str) and value:
            data[section][key] = str((base / os.path.expanduser(value)).resolve())
    for root in data.get("archive", {}).get("roots", []):
        # roots relative to base_dir stay relative; absolute or ~ paths are kept as given
        if isinstance(root, dict) and isinstance(root.get("path"), str):
            root["path"] = os.path.expanduser(root["path"])
    return data


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _from_env(env: Mapping[str, str], known: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of ``CP4CDS_WPS_<SECTION>__<KEY>`` variables; unknown names are errors."""
    data: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        _check_section(known, section, f"environment variable {name}")
        _check_key(known, section, key, f"environment variable {name}")
        data.setdefault(section, {})[key] = value
    return _resolve_paths(data, Path.cwd())


def _get(data: Mapping[str, Any], section: str, key: str, kind: type) -> Any:
    try:
        value = data[section][key]
    except KeyError as err:
        raise ConfigError(f"missing setting [{section}] {key}") from err
    if kind is int:
        try:
            value = int(value)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"[{section}] {key} must be an integer, got {value!r}") from err
        if value <= 0:
            raise ConfigError(f"[{section}] {key} must be positive, got {value}")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"[{section}] {key} must be a string, got {value!r}")
    return value


def _root_tables(data: Mapping[str, Any], defaults: Any) -> Any:
    """The root tables the settings list: the site's alone, or after them the defaults'
    (``[archive] roots_mode = "extend"``)."""
    archive = data.get("archive", {})
    mode = archive.get("roots_mode")
    if mode not in ROOTS_MODES:
        raise ConfigError(
            f"[archive] roots_mode must be one of {', '.join(ROOTS_MODES)}, got {mode!r}"
        )
    raw = archive.get("roots")
    if mode == "replace" or raw is defaults or not isinstance(raw, list):
        return raw
    default_names = {r.get("name") for r in defaults if isinstance(r, Mapping)}
    for item in raw:
        if isinstance(item, Mapping) and item.get("name") in default_names:
            raise ConfigError(
                f"[archive] roots: {item['name']!r} is the name of a default root; with "
                'roots_mode = "extend" give the site\'s root another name, or set '
                'roots_mode = "replace" to list all roots yourself'
            )
    return [*raw, *defaults]


def _roots(data: Mapping[str, Any], base_dir: Path, defaults: Any) -> tuple[Root, ...]:
    raw = _root_tables(data, defaults)
    if not isinstance(raw, list) or not raw:
        raise ConfigError("[archive] roots must list at least one root")
    roots = []
    for i, item in enumerate(raw):
        where = f"[archive] roots[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} must be a table with name, path and project")
        for key in ("name", "path", "project"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise ConfigError(f"{where} {key} is missing or not a string")
        if item["project"] not in PROJECTS:
            raise ConfigError(
                f"{where} project {item['project']!r} is unknown; one of {', '.join(PROJECTS)}"
            )
        fixed = item.get("fixed", {})
        if not isinstance(fixed, Mapping) or not all(isinstance(v, str) for v in fixed.values()):
            raise ConfigError(f"{where} fixed must be a table of strings")
        roots.append(
            Root(
                name=item["name"],
                path=(base_dir / item["path"]).absolute(),
                project=item["project"],
                fixed=dict(fixed),
            )
        )
    names = [r.name for r in roots]
    if len(set(names)) != len(names):
        raise ConfigError("[archive] roots names must be unique")
    return tuple(roots)


def _jobs(data: Mapping[str, Any], jobs_db: Path) -> JobSettings:
    backend = _get(data, "jobs", "backend", str)
    if backend not in BACKENDS:
        raise ConfigError(f"[jobs] backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    database = _get(data, "jobs", "database", str) or f"sqlite:///{jobs_db}"
    if not database.startswith(("sqlite:///", "postgresql")):
        raise ConfigError(
            f"[jobs] database must be a sqlite:/// or postgresql URL, got {database!r}"
        )
    if backend == "dask" and not _get(data, "jobs", "dask_scheduler", str):
        raise ConfigError("[jobs] dask_scheduler must be set when backend is dask")
    ints = {
        key: _get(data, "jobs", key, int)
        for key in ("max_running", "max_queued", "wall_time", "memory_mb", "heartbeat_timeout",
                    "retention_days")
    }  # fmt: skip
    return JobSettings(
        backend=backend,
        database=database,
        slurm_options=_get(data, "jobs", "slurm_options", str),
        dask_scheduler=_get(data, "jobs", "dask_scheduler", str),
        **ints,
    )


def _limits(data: Mapping[str, Any]) -> LimitSettings:
    return LimitSettings(
        **{
            key: _get(data, "limits", key, int)
            for key in ("max_read_mb", "max_write_mb", "max_files")
        }
    )


def _bool(data: Mapping[str, Any], section: str, key: str) -> bool:
    value = data.get(section, {}).get(key)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        value = value.lower() in ("true", "1")
    if not isinstance(value, bool):
        raise ConfigError(f"[{section}] {key} must be true or false, got {value!r}")
    return value


def _auth(data: Mapping[str, Any]) -> AuthSettings:
    enabled = _bool(data, "auth", "enabled")
    leeway = data.get("auth", {}).get("leeway")
    try:
        leeway = int(leeway)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[auth] leeway must be an integer, got {leeway!r}") from err
    if leeway < 0:
        raise ConfigError(f"[auth] leeway must not be negative, got {leeway}")
    auth = AuthSettings(
        enabled=enabled,
        leeway=leeway,
        private_results=_bool(data, "auth", "private_results"),
        **{
            key: _get(data, "auth", key, str)
            for key in ("issuer", "jwks_url", "audience", "required_scope")
        },
    )
    if auth.enabled:
        for key in ("issuer", "jwks_url", "audience"):
            if not getattr(auth, key):
                raise ConfigError(f"[auth] {key} must be set when auth is enabled")
        if not auth.jwks_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"[auth] jwks_url must start with http:// or https://, got {auth.jwks_url!r}"
            )
    return auth


def _qc(data: Mapping[str, Any]) -> QcSettings:
    serve = _get(data, "qc", "serve", str)
    if serve not in SERVE_POLICIES:
        raise ConfigError(f"[qc] serve must be one of {', '.join(SERVE_POLICIES)}, got {serve!r}")
    checks = data.get("qc", {}).get("checks")
    if isinstance(checks, str):  # from the environment: comma separated
        checks = [c.strip() for c in checks.split(",") if c.strip()]
    if not isinstance(checks, list) or any(c not in QC_CHECKS for c in checks):
        raise ConfigError(f"[qc] checks must list some of {', '.join(QC_CHECKS)}, got {checks!r}")

    def optional_path(key: str) -> Path | None:
        value = _get(data, "qc", key, str)
        return Path(value) if value else None

    return QcSettings(
        serve=serve,
        checks=tuple(dict.fromkeys(checks)),
        workers=_get(data, "qc", "workers", int),
        cache=optional_path("cache"),
        known_issues=optional_path("known_issues"),
    )


def _prefix(value: object, where: str) -> str:
    """An allowed URL prefix, checked: http(s), a host, a path (``/`` when none is given)."""
    parsed = urlsplit(value) if isinstance(value, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"{where} must be http:// or https:// URLs with a host, got {value!r}")
    if parsed.username or parsed.password or parsed.query or parsed.fragment:
        raise ConfigError(f"{where} must be URLs without user, query or fragment, got {value!r}")
    return value if parsed.path else f"{value}/"


def _references(data: Mapping[str, Any]) -> ReferenceSettings:
    prefixes = data.get("references", {}).get("allowed_prefixes")
    if isinstance(prefixes, str):  # from the environment: separated by spaces
        prefixes = prefixes.split()
    if not isinstance(prefixes, list):
        raise ConfigError(f"[references] allowed_prefixes must be a list, got {prefixes!r}")
    where = "[references] allowed_prefixes"
    return ReferenceSettings(
        allowed_prefixes=tuple(_prefix(prefix, where) for prefix in prefixes),
        timeout=_get(data, "references", "timeout", int),
        max_mb=_get(data, "references", "max_mb", int),
    )


def _provider(data: Mapping[str, Any]) -> ProviderSettings:
    values = {key: _get(data, "provider", key, str).strip() for key in PROVIDER_KEYS}
    if not values["name"]:
        raise ConfigError("[provider] name must not be empty")
    if values["url"] and not values["url"].startswith(("http://", "https://")):
        raise ConfigError(
            f"[provider] url must start with http:// or https://, got {values['url']!r}"
        )
    if values["contact_email"] and "@" not in values["contact_email"]:
        raise ConfigError(
            f"[provider] contact_email must be an e-mail address, got {values['contact_email']!r}"
        )
    return ProviderSettings(**values)


def load_settings(
    config_file: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Load the settings.

    Parameters
    ----------
    config_file
        A TOML file read on top of the defaults; if None, ``CP4CDS_WPS_CONFIG`` is used
        when set.
    env
        Environment to read overrides from; defaults to ``os.environ``.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        When a setting is missing or invalid, or a section or key is not one of
        ``etc/default.toml``; the message names the key (and the known ones).
    """
    env = os.environ if env is None else env
    sources = [DEFAULT_CONFIG]
    defaults = data = _read_toml(DEFAULT_CONFIG)
    default_roots = defaults["archive"]["roots"]
    config_file = config_file or env.get(ENV_CONFIG) or None
    if config_file:
        path = Path(config_file).expanduser().resolve()
        sources.append(path)
        data = _merge(data, _read_toml(path, known=defaults))
    data = _merge(data, _from_env(env, known=defaults))

    var_dir = Path(_get(data, "paths", "var_dir", str))

    def path_setting(key: str, default: Path) -> Path:
        value = _get(data, "paths", key, str)
        return Path(value) if value else default

    bind = _get(data, "server", "bind", str)
    port = _get(data, "server", "port", int)
    if port > 65535:
        raise ConfigError(f"[server] port must be at most 65535, got {port}")
    url = _get(data, "server", "url", str).rstrip("/") or f"http://{bind}:{port}"
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"[server] url must start with http:// or https://, got {url!r}")
    base_dir = Path(_get(data, "archive", "base_dir", str))
    jobs_db = path_setting("jobs_db", var_dir / "jobs.sqlite")
    qc = _qc(data)
    return Settings(
        bind=bind,
        port=port,
        url=url,
        workers=_get(data, "server", "workers", int),
        threads=_get(data, "server", "threads", int),
        max_sync_executes=_get(data, "server", "max_sync_executes", int),
        timeout=_get(data, "server", "timeout", int),
        var_dir=var_dir,
        output_dir=path_setting("output_dir", var_dir / "outputs"),
        work_dir=path_setting("work_dir", var_dir / "work"),
        inventory_db=path_setting("inventory_db", var_dir / "inventory.sqlite"),
        jobs_db=jobs_db,
        time_chunk=_get(data, "processing", "time_chunk", int),
        max_file_mb=_get(data, "processing", "max_file_mb", int),
        jobs=_jobs(data, jobs_db),
        base_dir=base_dir,
        roots=_roots(data, base_dir, default_roots),
        limits=_limits(data),
        auth=_auth(data),
        qc=replace(qc, cache=qc.cache or var_dir / "qc-cache.sqlite"),
        references=_references(data),
        provider=_provider(data),
        sources=tuple(sources),
    )


@cache
def get_settings() -> Settings:
    """Settings of this process, loaded once from the defaults, ``CP4CDS_WPS_CONFIG`` and env."""
    return load_settings()
