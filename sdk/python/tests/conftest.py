import pytest

from helpers import Key, new_key


@pytest.fixture
def key() -> Key:
    return new_key()
