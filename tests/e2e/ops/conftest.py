import pytest

from tests.conftest import AMQP_URL
from tests.e2e.ops.cli import Cli


@pytest.fixture(scope="session")
def cli(database_url, bus_prefix):
    return Cli({"CC_DATABASE_URL": database_url, "CC_AMQP_URL": AMQP_URL, "CC_BUS_PREFIX": bus_prefix})
