def pytest_collection_modifyitems(session, config, items):
    """The secrets scan looks at what the whole suite left behind: it runs last."""
    last = [i for i in items if i.nodeid.startswith("tests/e2e/security/test_secrets_at_rest.py")]
    items[:] = [i for i in items if i not in last] + last
