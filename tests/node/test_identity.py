import json
from pathlib import Path

import pytest

from node.errors import ConfigError
from node.identity import create_keystore, load_keystore


def test_keystore_round_trip_and_refusals(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    account = create_keystore(path, "pw", kdf_iterations=2**10)
    assert path.stat().st_mode & 0o777 == 0o600
    assert "crypto" in json.loads(path.read_text())  # encrypted, no plain key
    assert load_keystore(path, "pw").address == account.address
    with pytest.raises(ConfigError, match="wrong password"):
        load_keystore(path, "nope")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        create_keystore(path, "pw")
    with pytest.raises(ConfigError, match="no keystore"):
        load_keystore(tmp_path / "missing.json", "pw")
