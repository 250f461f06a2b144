"""`arbdesk keys …`: store, list, delete and diagnose the keys live trading uses.

Secrets are typed without echo, or read one per line from stdin when it is not a terminal
(for scripts): `keys set VENUE` reads the API key, the secret, then an optional password;
`keys set-wallet` and `keys set-relay` read one private key each. Nothing ever prints a secret
back.

Exit status: 0 done, 1 bad input or no such key, 3 no secure keyring (the message says why and
how to fix it).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator

from console.cli_commands._common import add_config_arg, settings_or_exit
from core.keys import (
    DEFAULT_WALLET,
    InvalidKey,
    KeyringUnavailable,
    KeyStore,
    MissingKey,
    tty_passphrase,
)
from core.redact import install_excepthook, redact
from core.settings import Settings, VenueKind

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_NO_KEYRING = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("keys", help="manage API keys and wallet keys (OS keyring)")
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    p = sub.add_parser("set", help="store a venue's API key, secret and optional password")
    p.add_argument("venue", help="venue name (as in settings.toml)")
    p.set_defaults(handler=_wrap(_set))

    p = sub.add_parser("set-wallet", help="store an EVM private key (prints only its address)")
    p.add_argument("--name", default=DEFAULT_WALLET, help="wallet name (default: %(default)s)")
    p.set_defaults(handler=_wrap(_set_wallet))

    p = sub.add_parser(
        "set-relay",
        help="store the searcher key that signs private-relay bundles (not a wallet's key)",
    )
    p.set_defaults(handler=_wrap(_set_relay))

    p = sub.add_parser("delete-relay", help="delete the relay searcher key")
    p.set_defaults(handler=_wrap(_delete_relay))

    p = sub.add_parser("list", help="list stored venues and wallets (names only, never values)")
    p.add_argument("--check", action="store_true", help="also check each field is really stored")
    p.set_defaults(handler=_wrap(_list))

    p = sub.add_parser("delete", help="delete a venue's keys")
    p.add_argument("venue")
    p.set_defaults(handler=_wrap(_delete))

    p = sub.add_parser("delete-wallet", help="delete a wallet key")
    p.add_argument("--name", default=DEFAULT_WALLET, help="wallet name (default: %(default)s)")
    p.set_defaults(handler=_wrap(_delete_wallet))

    p = sub.add_parser("doctor", help="show the keyring backend, whether it is secure, and fixes")
    p.set_defaults(handler=_wrap(_doctor))

    for action_parser in sub.choices.values():
        add_config_arg(action_parser)


Action = Callable[[argparse.Namespace, Settings, KeyStore], int]


def _wrap(action: Action) -> Callable[[argparse.Namespace], int]:
    """Load settings, open the store, and turn the expected errors into an exit status."""

    def handle(args: argparse.Namespace) -> int:
        install_excepthook()
        settings = settings_or_exit(args)
        if settings is None:
            return EXIT_BAD_INPUT
        store = KeyStore(settings, passphrase_provider=tty_passphrase)
        try:
            code: int = action(args, settings, store)
        except KeyringUnavailable as exc:
            _err(f"no secure keyring: {exc}")
            return EXIT_NO_KEYRING
        except (InvalidKey, MissingKey) as exc:
            _err(str(exc.args[0]) if exc.args else str(exc))
            return EXIT_BAD_INPUT
        return code

    return handle


def _err(text: str) -> None:
    print(f"arbdesk: {redact(text)}", file=sys.stderr)


def _inputs() -> Iterator[str]:
    """Lines from stdin (scripts); each one stripped of surrounding whitespace."""
    for line in sys.stdin:
        yield line.strip()
    while True:
        yield ""


def _ask(prompt: str, lines: Iterator[str] | None) -> str:
    if lines is not None:
        return next(lines)
    return getpass.getpass(prompt).strip()


def _password_required(settings: Settings, venue: str) -> bool | None:
    """Whether the venue's exchange needs a password (passphrase); None when unknown."""
    exchange_id = venue
    for v in settings.venues:
        if v.name == venue:
            if v.kind is not VenueKind.CCXT:
                return None
            exchange_id = v.exchange_id
    import ccxt  # local: ~0.5 s, only needed here

    exchange_cls = getattr(ccxt, exchange_id, None)
    if exchange_cls is None:
        return None
    # requiredCredentials is merged from describe() only on an instance (no network here).
    return bool(exchange_cls().requiredCredentials.get("password"))


def _set(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    venue: str = args.venue
    if venue not in {v.name for v in settings.venues}:
        print(f"note: venue {venue!r} is not in the settings (yet)", file=sys.stderr)
    _ = store.backend  # fail on a bad keyring before asking for any secret
    lines = None if sys.stdin.isatty() else _inputs()
    needs_password = _password_required(settings, venue)
    api_key = _ask(f"{venue} API key: ", lines)
    secret = _ask(f"{venue} secret: ", lines)
    hint = "required" if needs_password else "optional, Enter to skip"
    password = _ask(f"{venue} password/passphrase ({hint}): ", lines)
    if needs_password and not password:
        raise InvalidKey(f"venue {venue!r} needs a password (passphrase) as well")
    store.set_venue(venue, api_key, secret, password or None)
    fields = "apiKey, secret" + (", password" if password else "")
    print(f"stored {fields} for venue {venue!r} in {_backend_label(store)}")
    return EXIT_OK


def _set_wallet(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    _ = store.backend  # fail on a bad keyring before asking for the key
    lines = None if sys.stdin.isatty() else _inputs()
    key = _ask("EVM private key (hex, input hidden): ", lines)
    address = store.set_wallet(key, args.name)
    print(f"stored wallet {args.name!r}: address {address}")
    return EXIT_OK


def _set_relay(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    _ = store.backend
    lines = None if sys.stdin.isatty() else _inputs()
    key = _ask("relay searcher private key (hex, input hidden; holds no funds): ", lines)
    address = store.set_relay_key(key)
    print(f"stored the relay searcher key: address {address}")
    return EXIT_OK


def _delete_relay(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    store.delete_relay_key()
    print("deleted the relay searcher key")
    return EXIT_OK


def _list(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    entries = store.entries(verify=args.check)
    if not entries:
        print("no keys stored")
        return EXIT_OK
    for entry in entries:
        fields = ", ".join(f for f in entry.fields if f not in entry.missing)
        missing = f"  (missing: {', '.join(entry.missing)})" if entry.missing else ""
        print(f"{entry.kind:<7} {entry.name:<20} {fields}{missing}")
    return EXIT_OK


def _delete(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    deleted = store.delete_venue(args.venue)
    print(f"deleted {', '.join(deleted)} for venue {args.venue!r}")
    return EXIT_OK


def _delete_wallet(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    store.delete_wallet(args.name)
    print(f"deleted wallet {args.name!r}")
    return EXIT_OK


def _doctor(args: argparse.Namespace, settings: Settings, store: KeyStore) -> int:
    report = store.report()
    priority = "?" if report.priority is None else f"{report.priority:g}"
    print(f"settings: keys.backend = {settings.keys.backend.value!r}")
    print(f"backend:  {report.backend or 'none'} (priority {priority})")
    print(f"kind:     {report.description}")
    print(f"secure:   {'yes' if report.secure else 'no'}")
    print(f"usable:   {'yes' if report.usable else 'no'}")
    if report.usable:
        return EXIT_OK
    print(f"problem:  {redact(report.problem)}")
    print(f"fix:\n{report.fix}")
    return EXIT_NO_KEYRING


def _backend_label(store: KeyStore) -> str:
    report = store.report()
    return report.description
