"""``tingshuo serve`` option handling (the serving itself is covered by the socket tests)."""

from __future__ import annotations

from click.testing import CliRunner

from tingshuo.engine.cli import cli


def test_serve_help_lists_host_port_config() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    for opt in ("--host", "--port", "--config"):
        assert opt in result.output


def test_serve_refuses_a_public_bind_without_auth(tmp_path) -> None:  # noqa: ANN001
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code != 0 and "without auth" in result.output


def test_serve_reports_a_bad_config_file(tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.toml"
    bad.write_text("[server]\nnope = 1\n")
    result = CliRunner().invoke(cli, ["serve", "--config", str(bad)])
    assert result.exit_code != 0 and "unknown config key" in result.output
