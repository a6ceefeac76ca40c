"""Sealing the links in auth's events (shared/sealing.py): AES-GCM under CC_LINK_KEYS, bound to the
event type and login, rotation by key id, and errors that say what is wrong without key material."""

import os
import subprocess
import sys
import uuid

import pytest

from services.system import ROOT
from shared.sealing import LinkKeyError, LinkKeys, Unopenable, link_context, new_key_entry

LINK = "http://127.0.0.1:8080/password/set?token=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def test_a_sealed_link_opens_only_with_its_context_and_hides_the_token():
    keys = LinkKeys.parse(new_key_entry("k1"))
    context = link_context("auth.credentials.issued", uuid.uuid4())
    sealed = keys.seal(LINK, context=context)
    assert sealed.startswith("sealed.v1.k1.") and "token" not in sealed and LINK[-20:] not in sealed
    assert keys.seal(LINK, context=context) != sealed  # a fresh nonce each time
    assert keys.open(sealed, context=context) == LINK
    for other in (link_context("auth.credentials.issued", uuid.uuid4()), link_context("auth.password_reset.requested", context.split("|")[1])):
        with pytest.raises(Unopenable, match="does not authenticate under key 'k1'"):
            keys.open(sealed, context=other)


def test_tampered_truncated_or_foreign_values_do_not_open():
    keys = LinkKeys.parse(new_key_entry("k1"))
    sealed = keys.seal(LINK, context="c")
    head, body = sealed.rsplit(".", 1)
    altered = head + "." + body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    cases = {
        altered: "does not authenticate",
        sealed[:40]: "too short",
        head + ".***": "not valid base64url",
        LINK: "not a sealed value",
        "sealed.v1.k9." + body: "sealed with key 'k9', which is not in this service's CC_LINK_KEYS (it has 'k1')",
    }
    for value, why in cases.items():
        with pytest.raises(Unopenable, match=why.replace("(", r"\(").replace(")", r"\)")):
            keys.open(value, context="c")


def test_after_a_rotation_the_new_key_seals_and_the_old_one_still_opens():
    old = new_key_entry("old")
    before = LinkKeys.parse(old).seal(LINK, context="c")
    rotated = LinkKeys.parse(f"{new_key_entry('new')},{old}")
    assert rotated.current == "new" and rotated.key_ids == ["new", "old"]
    assert rotated.open(before, context="c") == LINK
    assert rotated.seal(LINK, context="c").startswith("sealed.v1.new.")
    with pytest.raises(Unopenable, match="sealed with key 'new'"):
        LinkKeys.parse(old).open(rotated.seal(LINK, context="c"), context="c")  # a notify not yet given the new key


@pytest.mark.parametrize("value, message", [
    ("", "holds no key"),
    ("k1", "entry 1 is not '<key id>:<key>'"),
    ("bad id:" + "A" * 43, "entry 1 is not"),
    ("k1:c2hvcnQ", "the key of 'k1' is not 32 bytes"),
    ("k1:not base64 at all!", "the key of 'k1' is not 32 bytes"),
])
def test_malformed_keys_are_refused_without_echoing_them(value, message):
    with pytest.raises(LinkKeyError, match=message) as caught:
        LinkKeys.parse(value)
    assert value.partition(":")[2] not in str(caught.value) or not value.partition(":")[2]
    dup = new_key_entry("k1")
    with pytest.raises(LinkKeyError, match="'k1' appears twice"):
        LinkKeys.parse(f"{dup},{new_key_entry('k1')}")


@pytest.mark.parametrize("service", ["auth", "notify"])
@pytest.mark.parametrize("value", [None, "k1:tooshort"])
def test_auth_and_notify_refuse_to_start_without_link_keys_and_say_what_to_set(service, value):
    env = {k: v for k, v in os.environ.items() if k != "CC_LINK_KEYS"}
    if value is not None:
        env["CC_LINK_KEYS"] = value
    done = subprocess.run([sys.executable, "-m", f"services.{service}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{service} cannot start: CC_LINK_KEYS")
    assert "python -m services.cli link-keys new" in done.stderr and "tooshort" not in done.stderr


def test_the_cli_prints_a_usable_entry_and_a_rotation_value():
    run = lambda *args, **env: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "services.cli", "link-keys", "new", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env={**{k: v for k, v in os.environ.items() if k != "CC_LINK_KEYS"}, **env},
    )
    fresh = run("--id", "k2").stdout.strip()
    assert LinkKeys.parse(fresh).key_ids == ["k2"]
    rotated = run("--id", "k3", "--rotate", CC_LINK_KEYS=fresh).stdout.strip()
    assert LinkKeys.parse(rotated).key_ids == ["k3", "k2"] and rotated.endswith(fresh)
    refused = run("--id", "k2", "--rotate", CC_LINK_KEYS=fresh)
    assert refused.returncode == 1 and "'k2' appears twice" in refused.stderr
