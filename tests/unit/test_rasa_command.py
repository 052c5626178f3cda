"""The Rasa server's command line shows no secret: `ps` lists it to every user of the machine."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from core.settings import Settings
from techan.rasa_launch import token_from_file
from techan.rasa_process import rasa_env, server_command, write_endpoints


def test_the_rasa_token_travels_in_a_private_file_not_on_the_command_line(tmp_path: Path):
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"")
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", rasa_model=model, secret_key="s3cret")
    command = server_command(settings)
    assert not any(settings.rasa_token in part for part in command)
    assert not any("s3cret" in part for part in command)
    assert "rasa run" in " ".join(command)  # what an operator (and `pgrep -f "rasa run"`) looks for
    token_file = Path(command[command.index("--auth-token-file") + 1])
    assert token_file.read_text() == settings.rasa_token and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    endpoints = Path(command[command.index("--endpoints") + 1])
    assert stat.S_IMODE(endpoints.stat().st_mode) == 0o600  # it holds the action endpoint token


def test_the_launcher_hands_rasa_the_token_from_the_file(tmp_path: Path):
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    assert token_from_file(["rasa", "run", "--auth-token-file", str(token), "--port", "5005"]) == [
        "rasa", "run", "--auth-token", "t0ken", "--port", "5005"]


def test_rasa_keeps_its_trackers_beside_the_app_on_postgresql_and_in_the_data_dir_on_sqlite(tmp_path: Path):
    sqlite = Settings(_env_file=None, data_dir=tmp_path / "one")
    store = yaml.safe_load(write_endpoints(sqlite).read_text())["tracker_store"]
    assert store == {"type": "SQL", "dialect": "sqlite", "db": str(sqlite.rasa_path / "tracker.db")}

    postgres = Settings(_env_file=None, data_dir=tmp_path / "two",
                        database_url="postgresql://shop:pa55@db.internal:6543/techan")
    store = yaml.safe_load(write_endpoints(postgres).read_text())["tracker_store"]
    assert store == {"type": "SQL", "dialect": "postgresql", "url": "db.internal", "port": 6543,
                     "db": "techan_rasa", "login_db": "techan", "username": "shop", "password": "pa55"}


def test_with_redis_rasas_conversation_locks_are_shared_there(tmp_path: Path):
    alone = yaml.safe_load(write_endpoints(Settings(_env_file=None, data_dir=tmp_path / "one")).read_text())
    assert "lock_store" not in alone  # Rasa's own in-memory locks
    shared = Settings(_env_file=None, data_dir=tmp_path / "two", redis_url="redis://:s%40cret@cache.internal:6380/2")
    assert yaml.safe_load(write_endpoints(shared).read_text())["lock_store"] == {
        "type": "redis", "url": "cache.internal", "port": 6380, "db": 2, "key_prefix": "techan", "use_ssl": False,
        "password": "s@cret"}


def test_a_killed_rasa_servers_conversation_lock_frees_within_the_apps_wait_for_a_turn():
    """Rasa's default (60 s) left the customers of a killed server unanswered for a minute on the other one."""
    lifetime = int(rasa_env()["TICKET_LOCK_LIFETIME"])
    assert 0 < lifetime < Settings.model_fields["rasa_timeout"].default
