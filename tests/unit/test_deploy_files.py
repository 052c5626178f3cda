"""deploy/ as a whole: the compose file, the systemd units, the Procfile, nginx's site and the env example name
the same processes, ports and settings, and every command they run is one `techan` has. (The images are not
built here: this machine reaches no container registry.)"""

from __future__ import annotations

import re
import shlex

import yaml

from core.settings import Settings
from techan import PROJECT_ROOT
from techan.cli import build_parser

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
TECHAN_SERVICES = {name: service for name, service in COMPOSE["services"].items() if service.get("image") == "techan:latest"}


def techan_commands(command: list[str]) -> list[list[str]]:
    """The `techan ...` command lines in a service's command (directly, or inside `sh -c "... && ..."`)."""
    if command[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in command[2].split("&&")]
    return [command]


def setting_names(environment: dict) -> set[str]:
    return {name.removeprefix("TECHAN_").lower() for name in environment}


def env_example() -> dict[str, str]:
    pairs = [line.split("=", 1) for line in (DEPLOY / "techan.env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    return dict(pairs)


def test_every_container_runs_a_techan_command_with_settings_the_app_has():
    parser = build_parser()
    assert {"setup", "app1", "app2", "rasa1", "rasa2"} <= set(TECHAN_SERVICES)
    for name, service in TECHAN_SERVICES.items():
        for command in techan_commands(service["command"]):
            assert command[0] == "techan", (name, command)
            parser.parse_args(command[1:])  # exits (SystemExit) on a command techan does not have
        assert setting_names(service.get("environment", {})) <= set(Settings.model_fields), name
    assert setting_names(env_example()) <= set(Settings.model_fields)


def test_the_image_is_built_from_files_and_targets_that_exist():
    build = TECHAN_SERVICES["app1"]["build"]
    dockerfile = (DEPLOY / build["context"] / build["dockerfile"]).resolve()
    assert dockerfile == DEPLOY / "Dockerfile"
    targets = re.search(r"^RUN make ([^\\\n]*)", dockerfile.read_text(), re.M).group(1).split()
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    for target in targets:
        if "=" not in target:
            assert re.search(rf"^\$\(\w+\)/{re.escape(target.split('/', 1)[1])}:", makefile, re.M), target
    for volume in COMPOSE["services"]["nginx"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).exists(), source


def test_the_proxy_the_app_instances_and_the_rasa_servers_agree_on_ports():
    """nginx's upstream lists exactly the app instances compose and the Procfile start; the Rasa servers listen
    where TECHAN_RASA_URL sends the app; their action calls go to nginx's inside listener."""
    site = (DEPLOY / "nginx" / "techan.conf").read_text()
    upstream = re.findall(r"server 127\.0\.0\.1:(\d+)", site.split("upstream techan_app", 1)[1].split("}", 1)[0])
    apps = sorted(s["environment"]["TECHAN_PORT"] for s in TECHAN_SERVICES.values() if s["command"] == ["techan", "serve"])
    assert apps == sorted(upstream) == sorted(re.findall(r"TECHAN_PORT=(\d+) techan serve",
                                                         (DEPLOY / "Procfile").read_text()))
    rasas = sorted(s["environment"]["TECHAN_RASA_PORT"] for s in TECHAN_SERVICES.values()
                   if s["command"] == ["techan", "rasa"])
    assert rasas == sorted(re.findall(r":(\d+)", env_example()["TECHAN_RASA_URL"]))
    inside = re.search(r"listen 127\.0\.0\.1:(\d+);", site).group(1)
    assert {s["environment"]["TECHAN_PORT"] for s in TECHAN_SERVICES.values()
            if s["command"] == ["techan", "rasa"]} == {inside}
