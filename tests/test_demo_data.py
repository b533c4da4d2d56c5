"""The demo's units and mails ship inside the package, as the fixtures the tests read."""

from __future__ import annotations

from conftest import FIXTURES

from mailintake.cli.demo import DEMO_DATA


def test_the_shipped_demo_data_is_the_generated_fixtures() -> None:
    """Every file the demo ships equals, byte for byte, the fixture it was copied from, and
    no fixture mail is missing: run fixtures/make_fixtures.py after changing either."""
    shipped = {mail.name: mail.read_bytes() for mail in (DEMO_DATA / "mail").iterdir()}
    fixtures = {mail.name: mail.read_bytes() for mail in (FIXTURES / "mail").glob("*.eml")}
    assert len(fixtures) == 11
    assert sorted(shipped) == sorted(fixtures)
    assert [name for name in fixtures if shipped[name] != fixtures[name]] == []
    assert (DEMO_DATA / "units.csv").read_bytes() == (FIXTURES / "units.csv").read_bytes()
