"""Translation catalogues: id/en parity, placeholders, fallback, domain vocabulary coverage, negotiation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kotapintar.cases.lifecycle import STATUS_LABELS, CaseStatus, Priority
from kotapintar.core import errors
from kotapintar.core.i18n import (
    Locale,
    available_keys,
    choose_locale,
    load_catalog,
    ntranslate,
    parse_accept_language,
    placeholders_of,
    translate,
)


def test_every_key_exists_in_both_locales() -> None:
    only_id = available_keys("id") - available_keys("en")
    only_en = available_keys("en") - available_keys("id")
    assert not only_id, f"keys missing in en.yaml: {sorted(only_id)}"
    assert not only_en, f"keys missing in id.yaml: {sorted(only_en)}"


def test_placeholders_match_between_locales() -> None:
    id_catalog, en_catalog = load_catalog("id"), load_catalog("en")
    mismatched = {
        key: (placeholders_of(id_catalog[key]), placeholders_of(en_catalog[key]))
        for key in id_catalog
        if placeholders_of(id_catalog[key]) != placeholders_of(en_catalog.get(key, ""))
    }
    assert not mismatched


def test_placeholders_do_not_use_reserved_argument_names() -> None:
    for locale in Locale:
        for key, message in load_catalog(locale).items():
            assert not placeholders_of(message) & {"key", "locale", "count"}, key


def test_locale_can_be_given_by_keyword() -> None:
    assert translate("nav.map", locale="en") == "Map"
    assert ntranslate("time.hours_ago", 2, locale="en") == "2 hours ago"


def test_no_empty_messages() -> None:
    for locale in Locale:
        empty = [key for key, message in load_catalog(locale).items() if not message.strip()]
        assert not empty, f"{locale}: empty messages {empty}"


@pytest.mark.parametrize("status", list(CaseStatus))
def test_every_case_status_is_translated_like_the_domain_labels(status: CaseStatus) -> None:
    indonesian, _english = STATUS_LABELS[status]
    assert translate(f"case.status.{status.value}", "id") == indonesian
    assert translate(f"case.status.{status.value}", "en") != f"case.status.{status.value}"


def test_the_brief_status_words() -> None:
    assert translate("case.status.assigned", "id") == "didisposisikan"
    assert translate("case.status.in_progress", "id") == "ditangani"
    assert translate("case.status.in_progress", "en") == "in progress"


@pytest.mark.parametrize("priority", list(Priority))
def test_every_priority_has_long_and_short_labels(priority: Priority) -> None:
    for locale in Locale:
        assert translate(f"priority.{priority.value}", locale) != f"priority.{priority.value}"
        assert translate(f"priority.{priority.value}.short", locale) != f"priority.{priority.value}.short"
    assert translate("priority.P1", "id").startswith("Darurat")
    assert translate("priority.P4", "id").startswith("Administratif")


def _error_codes() -> set[str]:
    codes = {"rate_limited", "csrf_failed"}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.DomainError):
            codes.add(value.code)
    return codes


@pytest.mark.parametrize("code", sorted(_error_codes()))
def test_every_domain_error_code_has_a_message(code: str) -> None:
    assert f"error.{code}" in available_keys("id")


def test_named_placeholders_are_filled() -> None:
    assert translate("case.ticket", "id", ticket="KPS-2026-000123") == "Tiket KPS-2026-000123"
    assert translate("case.ticket", "en", ticket="KPS-2026-000123") == "Ticket KPS-2026-000123"


def test_missing_placeholder_stays_visible_instead_of_crashing() -> None:
    assert translate("case.ticket", "id") == "Tiket {ticket}"
    assert translate("case.ticket", "id", other="x") == "Tiket {ticket}"


def test_placeholder_values_are_not_reformatted() -> None:
    # A value that itself looks like a placeholder or format spec is inserted verbatim.
    assert (
        translate("case.ticket", "en", ticket="{ticket} {0} {x.__class__}")
        == "Ticket {ticket} {0} {x.__class__}"
    )


def test_fallback_goes_to_indonesian_then_to_the_key() -> None:
    assert translate("no.such.key", "en") == "no.such.key"
    assert translate("nav.map", "xx") == "Peta"  # unknown locale -> Indonesian
    assert translate("nav.map", None) == "Peta"


def test_counted_messages_pick_singular_and_plural() -> None:
    assert ntranslate("time.minutes_ago", 1, "en") == "1 minute ago"
    assert ntranslate("time.minutes_ago", 5, "en") == "5 minutes ago"
    assert ntranslate("time.minutes_ago", 5, "id") == "5 menit lalu"


def test_locale_choice_order() -> None:
    assert choose_locale() is Locale.ID
    assert choose_locale(accept_language="en-US,en;q=0.9") is Locale.EN
    assert choose_locale(cookie="id", accept_language="en") is Locale.ID
    assert choose_locale(query="en", cookie="id", accept_language="id") is Locale.EN
    assert choose_locale(query="fr", cookie="en") is Locale.EN  # unknown query value is ignored
    assert choose_locale(accept_language="fr-FR, in;q=0.8, en;q=0.5") is Locale.ID  # legacy `in`
    assert choose_locale(accept_language="en;q=0, id;q=0.1") is Locale.ID


def test_accept_language_orders_by_quality() -> None:
    assert parse_accept_language("id;q=0.3, en-GB;q=0.8, jv") == ["jv", "en", "id"]


@given(st.text(max_size=80))
def test_any_accept_language_header_gives_a_supported_locale(header: str) -> None:
    assert choose_locale(accept_language=header) in set(Locale)
