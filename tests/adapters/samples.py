"""Seed records shared by the vendor adapters' contract tests."""

from datetime import UTC, datetime

from poc_harness.contract.model import Account, Activity, ActivityKind, Contact

TAG = "poc20250301120000ab12"
AT = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)

ACCOUNT = Account(
    key="acct-0001",
    tag=TAG,
    name=f"Pars Pipe Co [{TAG}]",
    industry="Energy",
    city="Tehran",
    phone="+982188776655",
)
CONTACT = Contact(
    key="contact-0001",
    tag=TAG,
    first_name="Sara",
    last_name="Ahmadi",
    email="sara.ahmadi@parspipe.example",
    phone="+989121234567",
    account_key="acct-0001",
)


def call(user_id: str | None = None) -> Activity:
    """A call logged on a lead, tagged with the run's tag."""
    return Activity(kind=ActivityKind.CALL, subject=f"Call [{TAG}]", user_id=user_id, at=AT)
