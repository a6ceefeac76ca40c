"""Notify's consumer defaults to one batch at a time (shared/consumer.py): its own variables first,
then every service's."""

from services.notify.settings import NotifySettings


def test_notify_applies_one_batch_of_up_to_32_events_at_a_time_unless_told_otherwise(monkeypatch):
    for name in ("CC_NOTIFY_CONSUMER_CONCURRENCY", "CC_NOTIFY_CONSUMER_BATCH", "CC_CONSUMER_CONCURRENCY", "CC_CONSUMER_BATCH"):
        monkeypatch.delenv(name, raising=False)
    assert (NotifySettings().consumer_concurrency, NotifySettings().consumer_batch) == (1, 32)
    monkeypatch.setenv("CC_CONSUMER_CONCURRENCY", "32")
    monkeypatch.setenv("CC_CONSUMER_BATCH", "1")
    assert (NotifySettings().consumer_concurrency, NotifySettings().consumer_batch) == (32, 1)
    monkeypatch.setenv("CC_NOTIFY_CONSUMER_CONCURRENCY", "4")
    assert NotifySettings().consumer_concurrency == 4
