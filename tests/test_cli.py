import click
from click.testing import CliRunner

from node.cli import main


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


def test_every_command_has_help_text() -> None:
    runner = CliRunner()
    for path, cmd in _commands(main):
        assert cmd.help, f"swarm {' '.join(path)} has no help text"
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.help, f"swarm {' '.join(path)} {param.opts[0]} has no help"


def test_domain_errors_are_clean_messages(tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["node", "run", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 1
    assert "Error: no config file" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["models", "pull", "gpt-17"])
    assert result.exit_code == 1 and "unknown model" in result.output
    bad = tmp_path / "log.db"
    bad.write_bytes(b"garbage" * 100)
    result = runner.invoke(main, ["log", "verify", "--db", str(bad)])
    assert result.exit_code == 1 and "cannot open consensus log" in result.output


def test_only_flags_given_on_the_command_line_override_the_environment() -> None:
    import json

    from node.cli.options import given_flags

    @click.command()
    @click.option("--max-tokens", default=256, help="x")
    def cmd(max_tokens: int) -> None:
        click.echo(json.dumps(given_flags(max_tokens=max_tokens)))

    runner = CliRunner()
    assert json.loads(runner.invoke(cmd, []).output) == {}  # the default: env may override
    assert json.loads(runner.invoke(cmd, ["--max-tokens", "256"]).output) == {"max_tokens": 256}


def test_chain_commands_say_clearly_when_the_chain_is_unreachable(tmp_path, monkeypatch) -> None:
    from node.identity import create_keystore
    from tests.procs import free_port

    create_keystore(tmp_path / "key.json", "pw", 2**10)
    monkeypatch.setenv("SWARM_KEY_PASSWORD", "pw")
    config = tmp_path / "node.toml"
    config.write_text(
        f'[chain]\nrpc_url = "http://127.0.0.1:{free_port()}"\ncontract = "0x{"ab" * 20}"\n'
    )
    runner = CliRunner()
    commands = [["chain", "status"], ["stake", "1"], ["unstake", "1"], ["reputation"]]
    for args in [*commands, ["calibrate"]]:
        result = runner.invoke(main, [*args, "--config", str(config)])
        assert result.exit_code == 1, (args, result.output)
        assert "chain RPC unavailable" in result.output and "Traceback" not in result.output
    local = tmp_path / "local.toml"
    local.write_text("[server]\nport = 8001\n")
    for args in (["chain", "status"], ["calibrate"]):
        result = runner.invoke(main, [*args, "--config", str(local)])
        assert result.exit_code == 1 and "rpc_url" in result.output
