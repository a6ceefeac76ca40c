"""`make run` (scripts/run.py) gives auth and notify a link key: CC_LINK_KEYS when set, else the one
it made on the first run and kept, owner-only, so links sealed before a restart still open."""

import stat

from scripts import run
from shared.sealing import LinkKeys


def test_make_run_makes_a_link_key_once_and_keeps_it(tmp_path, monkeypatch):
    monkeypatch.delenv("CC_LINK_KEYS", raising=False)
    monkeypatch.setattr(run, "LINK_KEYS_FILE", tmp_path / "var" / "link-keys")
    first = run.demo_link_keys()
    assert LinkKeys.parse(first).key_ids == ["demo"]
    assert stat.S_IMODE(run.LINK_KEYS_FILE.stat().st_mode) == 0o600
    assert run.demo_link_keys() == first
    monkeypatch.setenv("CC_LINK_KEYS", "mine:" + "A" * 43)
    assert run.demo_link_keys() == "mine:" + "A" * 43
