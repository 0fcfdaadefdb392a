"""The consent rules of the research side (labs.consent): who is left out, who gets a key, and a
pseudonym key that lives outside the database and stays stable."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from labs import consent
from labs.models import Consent, Sector
from labs.settings import Settings


def _person(pid: int, choice: str, member_id: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        id=pid,
        member_id=member_id,
        consent=Consent(choice),
        display_name=f"Person {pid}",
        organisation=f"Org {pid}",
        sector=Sector.government,
        city="Delft",
    )


def test_each_choice_shows_what_it_allows(tmp_path: Path) -> None:
    shown = consent.for_research(Settings(data_dir=tmp_path))
    assert shown.person(_person(1, "none")) is None
    anonymous = shown.person(_person(2, "anonymous"))
    assert anonymous == consent.Person(consent=Consent.anonymous, sector="government", city="Delft")
    pseudo = shown.person(_person(3, "pseudonymous"))
    assert pseudo is not None and pseudo.key and pseudo.key.startswith("P-") and len(pseudo.key) == 10
    assert pseudo.name is None and pseudo.organisation is None
    named = shown.person(_person(4, "named"))
    assert named is not None and (named.name, named.organisation) == ("Person 4", "Org 4")
    assert named.key == shown.pseudonym(_person(4, "named"))
    # A note without a participant (a facilitator's own, or unlinked by an erasure) has no key.
    assert shown.person(None) == consent.NOBODY


def test_a_member_has_one_pseudonym_in_every_session(tmp_path: Path) -> None:
    shown = consent.for_research(Settings(data_dir=tmp_path))
    first, later = _person(10, "pseudonymous", member_id=7), _person(55, "pseudonymous", member_id=7)
    assert shown.pseudonym(first) == shown.pseudonym(later)
    assert shown.pseudonym(_person(10, "pseudonymous")) != shown.pseudonym(_person(55, "pseudonymous"))
    assert shown.pseudonym(first) != shown.pseudonym(_person(10, "pseudonymous", member_id=8))


def test_the_key_is_kept_in_its_own_file_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABS_PSEUDONYM_KEY", raising=False)
    first = Settings(data_dir=tmp_path)
    key_file = tmp_path / "pseudonym_key"
    assert key_file.read_text() == first.pseudonym_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.pseudonym_key != first.secret_key
    again = Settings(data_dir=tmp_path)
    person = _person(1, "pseudonymous", member_id=3)
    assert consent.for_research(again).pseudonym(person) == consent.for_research(first).pseudonym(person)
    # Another key (another installation) gives other pseudonyms: they are not a hash of the id.
    other = Settings(data_dir=tmp_path / "elsewhere")
    assert consent.for_research(other).pseudonym(person) != consent.for_research(first).pseudonym(person)


def test_the_key_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABS_PSEUDONYM_KEY", "shared-by-every-process")
    a, b = Settings(data_dir=tmp_path / "a"), Settings(data_dir=tmp_path / "b")
    assert a.pseudonym_key == "shared-by-every-process"
    assert not (tmp_path / "a" / "pseudonym_key").exists()
    person = _person(1, "named")
    assert consent.for_research(a).pseudonym(person) == consent.for_research(b).pseudonym(person)


def test_guids_are_stable_valid_and_distinct(tmp_path: Path) -> None:
    shown = consent.for_research(Settings(data_dir=tmp_path))
    assert shown.guid("note", 1) == shown.guid("note", 1)
    assert shown.guid("note", 1) != shown.guid("code", 1)
    assert len(shown.guid("note", 1)) == 36
    assert shown.account_pseudonym(3).startswith("R-")
