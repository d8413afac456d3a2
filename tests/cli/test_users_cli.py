"""`oms users …` against a real database, and `oms web` / `oms worker` refusing an unsafe secret."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "a-production-secret-that-is-long-enough-0123456789"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A fresh SQLite database, production settings (no dev mode), nothing else."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    return {
        **clean,
        "OMS_DATA_DIR": str(tmp_path),
        "OMS_DATABASE_URL": f"sqlite:///{tmp_path / 'oms.db'}",
        "OMS_SECRET_KEY": SECRET,
        "OMS_LOG_LEVEL": "WARNING",
    }


def oms(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "oms.cli", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _rows(env: dict[str, str], sql: str) -> list:
    engine = create_engine(env["OMS_DATABASE_URL"])
    with engine.connect() as db:
        rows = list(db.execute(text(sql)).all())
    engine.dispose()
    return rows


def test_the_first_admin_on_a_fresh_database_and_the_people_after(env):
    first = oms(env, "users", "add", "ada", "--role", "admin", "--password", "first admin password")
    assert (first.returncode, first.stdout) == (0, "added ada admin active\n"), first.stderr
    prompted = oms(env, "users", "add", "bob", "-r", "operator", "-r", "approver", stdin="bobs password!\n" * 2)
    assert prompted.returncode == 0, prompted.stderr
    assert oms(env, "users", "list").stdout == "ada admin active\nbob operator,approver active\n"
    # Passwords are stored as bcrypt hashes only.
    assert all(h.startswith("$2b$") for (h,) in _rows(env, "SELECT password_hash FROM users"))

    again = oms(env, "users", "add", "ada", "--role", "admin", "--password", "first admin password")
    assert (again.returncode, again.stderr) == (1, "oms users: user 'ada' exists already\n")
    weak = oms(env, "users", "add", "cy", "--role", "operator", "--password", "short")
    assert (weak.returncode, weak.stderr) == (1, "oms users: the password needs at least 10 characters\n")
    no_role = oms(env, "users", "add", "cy", "--password", "long enough pass")
    assert no_role.returncode == 1
    assert no_role.stderr == "oms users: give at least one role (admin, analyst, operator, channel or a custom one)\n"
    unknown = oms(env, "users", "set-roles", "bob", "--warehouse", "XXX")
    assert (unknown.returncode, unknown.stderr) == (1, "oms users: unknown warehouse XXX; known: none\n")

    assert oms(env, "users", "set-roles", "bob", "--role", "operator", "--channel", "web").returncode == 0
    assert oms(env, "users", "disable", "bob").stdout == "disabled bob\n"
    assert oms(env, "users", "list").stdout == "ada admin active\nbob operator channels=web disabled\n"
    assert oms(env, "users", "enable", "bob").returncode == 0
    assert oms(env, "users", "set-roles", "bob", "--all-channels").stdout == "bob operator active\n"
    versions = dict(_rows(env, "SELECT username, token_version FROM users"))
    assert oms(env, "users", "set-password", "bob", "--password", "a new password").returncode == 0
    after = dict(_rows(env, "SELECT username, token_version FROM users"))
    # Disabling and a new password each revoke the tokens issued before.
    assert (versions["bob"], after["bob"]) == (2, 3)
    missing = oms(env, "users", "disable", "nobody")
    assert (missing.returncode, missing.stderr) == (1, "oms users: no user 'nobody'\n")


def test_channel_keys_from_the_command_line(env):
    # `oms web` publishes the shipped channels on its first start; so does this.
    subprocess.run(
        [sys.executable, "-c", "from oms.bootstrap import prepare; prepare(seed=False)"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    created = oms(env, "users", "keys", "create", "--channel", "web", "--label", "shop backend")
    assert created.returncode == 0, created.stderr
    header, key = created.stdout.splitlines()
    key_id = header.split()[1]
    assert header == f"key {key_id} for channel web (shown once; keep it secret):"
    assert _rows(env, "SELECT key_hash FROM channel_keys") == [(hashlib.sha256(key.encode()).hexdigest(),)]
    listed = oms(env, "users", "keys", "list").stdout
    assert listed.startswith(f"{key_id} web 'shop backend' created ") and listed.endswith(" by cli active\n")
    assert key not in listed

    rotated = oms(env, "users", "keys", "rotate", key_id)
    assert rotated.returncode == 0, rotated.stderr
    new_id = rotated.stdout.split()[1]
    assert oms(env, "users", "keys", "revoke", new_id).stdout == f"revoked {new_id}\n"
    states = dict(_rows(env, "SELECT id, revoked_at IS NOT NULL FROM channel_keys"))
    assert states == {key_id: 1, new_id: 1}
    unknown = oms(env, "users", "keys", "create", "--channel", "nowhere")
    assert (unknown.returncode, unknown.stderr) == (1, "oms users: no published channel 'nowhere'\n")
    # Dev users come from `oms up` only, not from preparing the database.
    assert oms(env, "users", "list").stdout == "no users yet: oms users add NAME --role admin\n"


@pytest.mark.parametrize("command", ["web", "worker"])
@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (None, "OMS_SECRET_KEY is the built-in development key"),
        ("short-secret", "OMS_SECRET_KEY is shorter than 32 characters"),
    ],
)
def test_web_and_worker_refuse_an_unsafe_secret_outside_dev_mode(env, command, secret, problem):
    if secret is None:
        env.pop("OMS_SECRET_KEY")
    else:
        env["OMS_SECRET_KEY"] = secret
    result = oms(env, command)
    assert result.returncode == 2
    assert result.stderr.startswith(f"oms {command}: refusing to start: {problem}. Set OMS_SECRET_KEY to at least 32 ")
    assert not (Path(env["OMS_DATA_DIR"]) / "oms.db").exists()  # refused before touching the database


def test_dev_mode_is_off_unless_turned_on():
    from oms.settings import DEV_SECRET_KEY, Settings

    assert Settings(_env_file=None).dev_mode is False
    assert Settings(_env_file=None).insecure() == "OMS_SECRET_KEY is the built-in development key"
    assert Settings(_env_file=None, dev_mode=True).insecure() is None
    assert Settings(_env_file=None, secret_key=SECRET).insecure() is None
    assert Settings(_env_file=None, secret_key=DEV_SECRET_KEY, dev_mode=False).insecure() is not None


def test_the_language_of_a_persons_pages(env):
    assert oms(env, "users", "add", "lin", "-r", "operator", "--password", "a long password").returncode == 0
    assert _rows(env, "SELECT language FROM users WHERE username = 'lin'") == [("",)]  # the browser's
    chosen = oms(env, "users", "set-language", "lin", "zh")
    assert (chosen.returncode, chosen.stdout) == (0, "set the language of lin\n"), chosen.stderr
    assert _rows(env, "SELECT language FROM users WHERE username = 'lin'") == [("zh",)]
    unknown = oms(env, "users", "set-language", "lin", "fr")
    assert unknown.returncode == 1
    assert unknown.stderr == (
        "oms users: 'fr' is not a language of the pages; use en, zh, or nothing for the browser's\n"
    )
