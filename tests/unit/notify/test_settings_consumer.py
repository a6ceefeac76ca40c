"""Notify's consumer settings (shared/consumer.py): its own variables first, then every service's; by
default every service's 32 x 1 (docs/performance.md, "Notify, fourth pass": the duplicate window)."""

from services.notify.settings import NotifySettings


def test_notify_applies_each_event_alone_unless_told_otherwise(monkeypatch):
    for name in ("CC_NOTIFY_CONSUMER_CONCURRENCY", "CC_NOTIFY_CONSUMER_BATCH", "CC_CONSUMER_CONCURRENCY", "CC_CONSUMER_BATCH"):
        monkeypatch.delenv(name, raising=False)
    assert (NotifySettings().consumer_concurrency, NotifySettings().consumer_batch) == (32, 1)
    monkeypatch.setenv("CC_CONSUMER_CONCURRENCY", "1")
    monkeypatch.setenv("CC_CONSUMER_BATCH", "32")
    assert (NotifySettings().consumer_concurrency, NotifySettings().consumer_batch) == (1, 32)
    monkeypatch.setenv("CC_NOTIFY_CONSUMER_CONCURRENCY", "4")
    assert NotifySettings().consumer_concurrency == 4
