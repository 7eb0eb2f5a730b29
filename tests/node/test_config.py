from pathlib import Path

import pytest

from node.config import load_config
from node.errors import ConfigError


def test_defaults_file_env_and_flags_layer(tmp_path: Path) -> None:
    cfg_file = tmp_path / "node.toml"
    cfg_file.write_text(
        "[server]\nport = 9000\n[sampling]\ntemperature = 0.3\n"
        '[[peers]]\naddress = "0x' + "ab" * 20 + '"\nurl = "http://127.0.0.1:9001"\n'
    )
    cfg = load_config(
        cfg_file,
        env={"SWARM_SERVER__PORT": "9100", "SWARM_ROUND__MIN_ANSWERS": "3"},
        overrides={"sampling": {"seed": 7}},
    )
    assert cfg.server.port == 9100  # env over file
    assert cfg.sampling.temperature == 0.3 and cfg.sampling.seed == 7
    assert cfg.round.min_answers == 3 and cfg.round.answer_timeout == 0.0  # 0: scaled
    assert cfg.peers[0].url == "http://127.0.0.1:9001"
    assert Path(cfg.identity.keystore) == tmp_path / "key.json"  # relative to the file
    assert Path(cfg.log_path) == tmp_path / "consensus.db"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\nport = 'x'\n", "expected a number"),
        ("[server]\nprot = 1\n", "unknown setting"),
        ("[inference]\nbackend = 'openai'\n", "base_url"),
        ("[sampling]\ntemperature = 5.0\n", "temperature"),
        ("[[peers]]\naddress = 'bob'\nurl = 'http://x'\n", "peer address"),
        ("this is not toml", "cannot read"),
        ("[inference]\ndtype = 'int4'\n", "inference.dtype"),
        ("[round]\ntimeout_margin = 0.5\n", "timeout_margin"),
        ("[verification]\nreexecute_sampled = true\n", "is now verification.reexecute"),
        ("[verification]\nreexecute = 'sometimes'\n", "verification.reexecute"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config file"):
        load_config(tmp_path / "nope.toml", env={})


def test_sampling_settings_that_fail_honest_answers_are_named() -> None:
    from node.config import SamplingConfig

    assert SamplingConfig().verification_risk() is None  # the defaults verify
    assert SamplingConfig(temperature=0.9).verification_risk() is None  # top_p 0.95
    risk = SamplingConfig(temperature=1.0, top_p=1.0).verification_risk()
    assert risk and "top_p 0.95" in risk
