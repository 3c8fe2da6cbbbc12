"""Tests for the seed-data factories: sizes, determinism, realism, uniqueness and the Dataset validator."""

from __future__ import annotations

import re
import time
from functools import cache

import pytest
from pydantic import ValidationError

from fixtures import reference_data as ref
from fixtures.factories import Dataset, Locale, build_dataset
from poc_harness.contract.model import Account, Contact, Lead, LeadSource, SalesRep, Ticket, TicketPriority

TAG = "poc-test-7"
LOCALES: tuple[Locale, ...] = ("fa_IR", "en_US")
PERSIAN = re.compile(r"[\u0600-\u06FF]")
PHONE = {"fa_IR": re.compile(r"^\+989\d{9}$"), "en_US": re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")}
EMAIL = re.compile(r"^[a-z0-9.]+\+[a-z0-9]+@[a-z0-9.-]+\.example$")


@cache
def dataset(records: int, seed: int, locale: Locale, tag: str = TAG) -> Dataset:
    return build_dataset(records, seed, locale, tag)


def all_records(ds: Dataset) -> list[SalesRep | Account | Contact | Lead | Ticket]:
    return [*ds.reps, *ds.accounts, *ds.contacts, *ds.leads, *ds.tickets]


# --- sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("records", [20, 200, 777, 2000])
def test_total_is_exact_and_split_favours_leads(records: int, locale: Locale) -> None:
    ds = dataset(records, 1, locale)
    assert ds.total() == records
    assert len(all_records(ds)) == records
    assert len(ds.reps) == 5
    assert len(ds.accounts) == max(1, records // 8)
    assert len(ds.contacts) == max(1, records // 4)
    assert len(ds.tickets) == max(1, records // 8)
    assert len(ds.leads) > max(len(ds.reps), len(ds.accounts), len(ds.contacts))


def test_reps_parameter() -> None:
    ds = build_dataset(200, 3, "en_US", TAG, reps=12)
    assert ds.total() == 200
    assert [r.key for r in ds.reps] == [f"rep-{n:03d}" for n in range(1, 13)]


@pytest.mark.parametrize("records", [19, 0, -5])
def test_too_few_records_raises(records: int) -> None:
    with pytest.raises(ValueError, match="at least 20"):
        build_dataset(records, 1, "fa_IR", TAG)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"locale": "de_DE"}, "unknown locale"),
        ({"tag": ""}, "tag"),
        ({"tag": " padded "}, "tag"),
        ({"tag": "a]b"}, "tag"),
        ({"reps": 0}, "reps"),
        ({"reps": 15}, "too few leads"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"records": 40, "seed": 1, "locale": "en_US", "tag": TAG} | kwargs
    with pytest.raises(ValueError, match=message):
        build_dataset(**args)  # type: ignore[arg-type]


def test_two_thousand_records_is_fast() -> None:
    start = time.perf_counter()
    build_dataset(2000, 99, "en_US", TAG)
    build_dataset(2000, 99, "fa_IR", TAG)
    assert time.perf_counter() - start < 3.0


# --- determinism ---------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_same_arguments_give_identical_data(locale: Locale) -> None:
    first = build_dataset(200, 42, locale, TAG)
    second = build_dataset(200, 42, locale, TAG)
    assert first == second
    assert first.model_dump() == second.model_dump()


@pytest.mark.parametrize("locale", LOCALES)
def test_different_seeds_differ(locale: Locale) -> None:
    a, b = dataset(200, 1, locale), dataset(200, 2, locale)
    assert [c.email for c in a.contacts] != [c.email for c in b.contacts]
    assert [le.title for le in a.leads] != [le.title for le in b.leads]
    assert [r.name for r in a.reps] != [r.name for r in b.reps]
    assert [a_.phone for a_ in a.accounts] != [b_.phone for b_ in b.accounts]
    assert a != b


def test_global_random_state_untouched() -> None:
    import random

    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    build_dataset(100, 5, "fa_IR", TAG)
    assert random.random() == expected


# --- realism -------------------------------------------------------------------------


def test_fa_ir_names_are_persian_without_honorifics() -> None:
    ds = dataset(2000, 1, "fa_IR")
    names = [r.name for r in ds.reps]
    names += [f"{c.first_name} {c.last_name}" for c in ds.contacts]
    names += [le.contact_name for le in ds.leads]
    for name in names:
        for honorific in ("جناب آقای", "سرکار خانم", "آقای", "خانم", "دکتر", "مهندس"):
            assert not name.startswith(honorific + " "), name
    names += [a.name for a in ds.accounts] + [le.company for le in ds.leads]
    for name in names:
        assert PERSIAN.search(name), name
        assert "\u064a" not in name and "\u0643" not in name, f"Arabic yeh/kaf in {name!r}"
    for lead in ds.leads:
        assert PERSIAN.search(lead.title), lead.title
        assert lead.city in ref.CITIES["fa_IR"]
    for account in ds.accounts:
        assert account.industry in ref.INDUSTRIES["fa_IR"]
        assert account.city in ref.CITIES["fa_IR"]


def test_en_us_names_are_english() -> None:
    ds = dataset(2000, 1, "en_US")
    names = [r.name for r in ds.reps] + [le.contact_name for le in ds.leads]
    names += [f"{c.first_name} {c.last_name}" for c in ds.contacts]
    for name in names:
        assert re.fullmatch(r"[A-Za-z' .-]+", name), name
    assert all(le.city in ref.CITIES["en_US"] for le in ds.leads)


@pytest.mark.parametrize("locale", LOCALES)
def test_phones_are_e164(locale: Locale) -> None:
    ds = dataset(2000, 1, locale)
    phones = [r.phone for r in [*ds.accounts, *ds.contacts, *ds.leads]]
    assert all(PHONE[locale].match(p) for p in phones), [p for p in phones if not PHONE[locale].match(p)][:5]
    if locale == "fa_IR":
        assert all(len(p) == 13 for p in phones)  # "+" and 12 digits


@pytest.mark.parametrize("locale", LOCALES)
def test_emails_are_ascii_lowercase_and_reserved(locale: Locale) -> None:
    ds = dataset(2000, 1, locale)
    emails = [str(r.email) for r in [*ds.reps, *ds.contacts, *ds.leads]]
    bad = [e for e in emails if not EMAIL.match(e)]
    assert not bad, bad[:5]


@pytest.mark.parametrize("locale", LOCALES)
def test_contacts_share_their_accounts_domain(locale: Locale) -> None:
    ds = dataset(200, 1, locale)
    accounts = {a.key for a in ds.accounts}
    assert {c.account_key for c in ds.contacts} == accounts  # every account has a contact
    domains: dict[str, set[str]] = {}
    for contact in ds.contacts:
        domains.setdefault(contact.account_key, set()).add(str(contact.email).split("@")[1])
    assert all(len(d) == 1 for d in domains.values())


@pytest.mark.parametrize("locale", LOCALES)
def test_leads_are_realistic(locale: Locale) -> None:
    ds = dataset(2000, 1, locale)
    low, high, step = ref.ESTIMATED_VALUE_RANGE[locale]
    for lead in ds.leads:
        assert low <= lead.estimated_value <= high
        assert lead.estimated_value % step == 0
    values = sorted(le.estimated_value for le in ds.leads)
    assert values[0] < values[len(values) // 2] < values[-1]
    counts = {source: sum(le.source == source for le in ds.leads) for source in LeadSource}
    assert all(n >= 50 for n in counts.values()), counts
    assert set(dataset(20, 1, locale).leads[i].source for i in range(6)) == set(LeadSource)


@pytest.mark.parametrize("locale", LOCALES)
def test_text_fields_are_trimmed_and_non_empty(locale: Locale) -> None:
    for record in all_records(dataset(200, 1, locale)):
        for field, value in record.model_dump().items():
            if isinstance(value, str):
                assert value and value == value.strip() and "  " not in value, (record.key, field, value)


# --- tags and keys -------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_tag_on_every_record_and_in_searchable_names(locale: Locale) -> None:
    ds = dataset(200, 1, locale, "run-2024-x")
    assert all(r.tag == "run-2024-x" for r in all_records(ds))
    assert all(a.name.endswith(" [run-2024-x]") for a in ds.accounts)
    assert all(le.title.endswith(" [run-2024-x]") for le in ds.leads)


def test_keys_follow_the_scheme() -> None:
    ds = dataset(200, 1, "en_US")
    assert [a.key for a in ds.accounts] == [f"acct-{n:04d}" for n in range(1, len(ds.accounts) + 1)]
    assert [c.key for c in ds.contacts] == [f"contact-{n:04d}" for n in range(1, len(ds.contacts) + 1)]
    assert [le.key for le in ds.leads] == [f"lead-{n:04d}" for n in range(1, len(ds.leads) + 1)]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_duplicates(locale: Locale, seed: int) -> None:
    ds = dataset(2000, seed, locale)

    def unique(values: list[str]) -> bool:
        return len(values) == len(set(values))

    assert unique([r.key for r in all_records(ds)])
    assert unique([str(r.email).casefold() for r in [*ds.reps, *ds.contacts, *ds.leads]])
    assert unique([r.phone for r in [*ds.accounts, *ds.contacts, *ds.leads]])
    assert unique([a.name.casefold() for a in ds.accounts])
    assert unique([le.title.casefold() for le in ds.leads])


# --- the Dataset validator -----------------------------------------------------------


def _parts(ds: Dataset) -> dict[str, list]:
    return {
        "reps": list(ds.reps),
        "accounts": list(ds.accounts),
        "contacts": list(ds.contacts),
        "leads": list(ds.leads),
        "tickets": list(ds.tickets),
    }


def test_validator_accepts_a_built_dataset() -> None:
    ds = dataset(200, 1, "fa_IR")
    assert Dataset(**_parts(ds)) == ds


def test_validator_rejects_email_differing_only_by_case() -> None:
    parts = _parts(dataset(200, 1, "en_US"))
    shouted = str(parts["contacts"][0].email).upper()
    parts["leads"][3] = parts["leads"][3].model_copy(update={"email": shouted})
    with pytest.raises(ValidationError, match=re.escape(str(parts["contacts"][0].email))):
        Dataset(**parts)


def test_validator_rejects_duplicate_phone() -> None:
    parts = _parts(dataset(200, 1, "fa_IR"))
    phone = parts["accounts"][2].phone
    parts["contacts"][7] = parts["contacts"][7].model_copy(update={"phone": phone})
    with pytest.raises(ValidationError, match=re.escape(phone)) as info:
        Dataset(**parts)
    assert "acct-0003" in str(info.value) and "contact-0008" in str(info.value)


def test_validator_rejects_unknown_account_key() -> None:
    parts = _parts(dataset(200, 1, "en_US"))
    parts["contacts"][0] = parts["contacts"][0].model_copy(update={"account_key": "acct-9999"})
    with pytest.raises(ValidationError, match="acct-9999"):
        Dataset(**parts)


def test_validator_rejects_duplicate_key() -> None:
    parts = _parts(dataset(200, 1, "en_US"))
    parts["leads"][5] = parts["leads"][5].model_copy(update={"key": "contact-0010"})
    with pytest.raises(ValidationError, match="duplicate key 'contact-0010'"):
        Dataset(**parts)


def test_validator_rejects_duplicate_account_name_and_lead_title() -> None:
    parts = _parts(dataset(200, 1, "fa_IR"))
    name, title = parts["accounts"][0].name, parts["leads"][0].title
    parts["accounts"][1] = parts["accounts"][1].model_copy(update={"name": name})
    parts["leads"][1] = parts["leads"][1].model_copy(update={"title": title})
    with pytest.raises(ValidationError) as info:
        Dataset(**parts)
    messages = " ".join(error["msg"] for error in info.value.errors())
    assert name in messages and title in messages


def test_tickets_are_realistic_and_reference_seeded_contacts() -> None:
    ds = dataset(200, 1, "fa_IR")
    contact_keys = {c.key for c in ds.contacts}
    assert {t.priority for t in ds.tickets} == set(TicketPriority)
    assert all(t.contact_key in contact_keys and t.subject.endswith(f"[{TAG}]") for t in ds.tickets)
    assert all(PERSIAN.search(t.subject) for t in ds.tickets)
    parts = _parts(ds)
    parts["tickets"][0] = parts["tickets"][0].model_copy(update={"contact_key": "contact-9999"})
    with pytest.raises(ValueError, match="contact-9999"):
        Dataset(**parts)


# --- run isolation: a rerun with the same seed never collides with an earlier run -----------


@pytest.mark.parametrize("locale", LOCALES)
def test_a_rerun_with_the_same_seed_collides_with_nothing_the_earlier_run_created(locale: Locale) -> None:
    """A CRM that keeps e-mails (BottleCRM: "contact with this email already exists"), phones or names
    unique must accept the second run's seeding: no e-mail, phone, person, account name, lead title or
    ticket subject of one run is another's, and each run's data stays the same for the same seed and tag."""
    first = dataset(200, 1404, locale, "poc20261125010203ab12")
    second = dataset(200, 1404, locale, "poc2026x")
    assert first == dataset(200, 1404, locale, "poc20261125010203ab12")

    def values(ds: Dataset) -> dict[str, set[str]]:
        people = [*ds.reps, *ds.contacts, *ds.leads]
        return {
            "email": {str(r.email) for r in people},
            "phone": {r.phone for r in [*ds.accounts, *ds.contacts, *ds.leads]},
            "account": {a.name for a in ds.accounts},
            "lead title": {le.title for le in ds.leads},
            "ticket": {t.subject for t in ds.tickets},
        }

    earlier, again = values(first), values(second)
    for what in earlier:
        assert not earlier[what] & again[what], f"{what} collides: {sorted(earlier[what] & again[what])[:3]}"
    names = lambda ds: [(c.first_name, c.last_name) for c in ds.contacts]  # noqa: E731
    assert names(first) != names(second), "people differ from run to run"
    assert all(f"+{'poc2026x'}@" in str(c.email) for c in second.contacts)
