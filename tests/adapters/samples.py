"""Seed records shared by the vendor adapters' contract tests."""

from poc_harness.contract.model import Account, Contact

TAG = "poc20250301120000ab12"

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
