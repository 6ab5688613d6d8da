"""The deployment files: compose.yaml's services, Dockerfile's essentials, Ansible inventories.

No Docker engine runs in CI: hadolint lints the Dockerfile (.ci/lint-docker.sh) and these
tests check what an operator relies on; the Ansible playbook itself runs in .ci/ansible.sh.
"""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_the_service_with_a_postgresql_job_store():
    services = compose()["services"]
    assert set(services) == {"wps", "db"}
    wps, db = services["wps"], services["db"]
    assert wps["build"] == "."
    database = wps["environment"]["CP4CDS_WPS_JOBS__DATABASE"]
    assert database.startswith("postgresql://") and "@db:5432/" in database
    assert db["image"].startswith("postgres:")
    assert wps["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_services_have_health_checks():
    services = compose()["services"]
    assert "http://127.0.0.1:5000/health" in services["wps"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])


def test_compose_mounts_the_archive_read_only_and_keeps_state_in_volumes():
    doc = compose()
    wps_volumes = doc["services"]["wps"]["volumes"]
    assert any(v.endswith(":/data/esgf:ro") for v in wps_volumes)
    assert "wps-var:/var/lib/cp4cds-wps" in wps_volumes
    assert "db-data:/var/lib/postgresql/data" in doc["services"]["db"]["volumes"]
    assert set(doc["volumes"]) == {"wps-var", "db-data"}


def test_dockerfile_essentials():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"apt-get install .*\bcdo\b", text)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n.*CMD .*/health", text, re.M)
    assert re.search(r"^EXPOSE 5000$", text, re.M)
    assert '"cp4cds-wps", "start"' in text


def test_docker_config_points_at_the_mounted_archive():
    config = tomllib.loads((ROOT / "docker" / "config.toml").read_text())
    assert config["archive"]["base_dir"] == "/data/esgf"
    assert config["paths"]["var_dir"] == "/var/lib/cp4cds-wps"


def test_ansible_inventories_name_the_service_group():
    for name in ("single", "three-sites"):
        hosts = ROOT / "ansible" / "inventories" / name / "hosts.yml"
        inventory = yaml.safe_load(hosts.read_text())
        assert "cp4cds_wps" in inventory["all"]["children"], name


def jinja():
    """A Jinja environment with Ansible's ``bool`` filter."""
    import jinja2

    folder = ROOT / "ansible" / "roles" / "nginx" / "templates"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined
    )
    env.filters["bool"] = lambda value: str(value).strip().lower() in ("true", "1", "yes")
    return env


def nginx_site(**variables) -> str:
    """The nginx site as the role writes it."""
    defaults = {
        "ansible_managed": "managed",
        "nginx_cache_dir": "/var/cache/nginx/cp4cds-wps",
        "nginx_upstream": "127.0.0.1:5000",
        "nginx_listen": "80",
        "nginx_server_name": "_",
        "nginx_client_max_body_size": "20m",
        "nginx_proxy_timeout": 600,
        "nginx_capabilities_cache_seconds": 60,
        "nginx_outputs_dir": "/var/lib/cp4cds-wps/outputs",
    }
    return jinja().get_template("cp4cds-wps.conf.j2").render({**defaults, **variables})


def location(site: str, path: str) -> str:
    match = re.search(rf"location {re.escape(path)} \{{(.*?)\}}", site, re.S)
    assert match, site
    return match.group(1)


def test_nginx_serves_outputs_itself_only_when_they_are_not_private():
    public = location(nginx_site(nginx_outputs_private="False"), "/outputs/")
    assert "alias /var/lib/cp4cds-wps/outputs/;" in public and "proxy_pass" not in public
    private = location(nginx_site(nginx_outputs_private="True"), "/outputs/")
    assert "proxy_pass http://cp4cds_wps;" in private and "alias" not in private


@pytest.mark.parametrize(
    ("auth", "private"),
    [
        (None, False),
        ({}, False),
        ({"enabled": True}, True),  # private_results is on by default
        ({"enabled": True, "private_results": False}, False),
        ({"enabled": "false", "private_results": True}, False),
    ],
)
def test_nginx_outputs_are_private_when_auth_is_on_with_private_results(auth, private):
    defaults = yaml.safe_load((ROOT / "ansible/roles/nginx/defaults/main.yml").read_text())
    variables = {} if auth is None else {"cp4cds_wps_auth": auth}
    value = jinja().from_string(defaults["nginx_outputs_private"]).render(variables)
    assert jinja().filters["bool"](value) is private


def test_ansible_config_template_writes_the_provider_table(tmp_path):
    """The role's config.toml carries the operator's contact details, which the service
    loads as its [provider] settings."""
    import jinja2

    from cp4cds_wps.config import load_settings

    role = ROOT / "ansible" / "roles" / "cp4cds_wps"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(role / "templates"))
    env.filters["to_json"] = __import__("json").dumps
    provider = {**defaults["cp4cds_wps_provider"], "name": "Example Climate Centre",
                "contact_email": "help@example.org", "contact_name": "Doe, Jane"}  # fmt: skip
    variables = {
        **{k: v for k, v in defaults.items() if isinstance(v, (str, int, dict, list))},
        "ansible_managed": "managed",
        "cp4cds_wps_var_dir": str(tmp_path / "var"),
        "cp4cds_wps_output_dir": str(tmp_path / "var" / "outputs"),
        "cp4cds_wps_archive_roots": [{"name": "cmip6", "path": "CMIP6", "project": "cmip6"}],
        "cp4cds_wps_provider": provider,
    }
    config = tmp_path / "config.toml"
    config.write_text(env.get_template("config.toml.j2").render(variables))
    assert tomllib.loads(config.read_text())["provider"]["contact_name"] == "Doe, Jane"
    settings = load_settings(config, env={})
    assert settings.provider.name == "Example Climate Centre"
    assert settings.provider.contact_email == "help@example.org"
    assert settings.provider.url == ""
