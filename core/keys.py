"""Venue API keys and wallet keys, kept in the OS keyring and read only in `live` mode.

Entries live under the service `arbdesk`, one per secret: `venue:<name>:<field>` for the ccxt
credential fields (`apiKey`, `secret`, `password`) and `wallet:<name>` for EVM private keys.
An `index` entry lists which names and fields exist, so `keys list` never has to enumerate the
backend (most backends cannot) and never reads a secret.

Only secure backends are used: Secret Service, macOS Keychain, Windows Credential Locker,
KWallet, and the encrypted file of keyrings.cryptfile when the settings opt in. Anything else
(plaintext, null, fail, an empty chain, a locked collection) raises `KeyringUnavailable`, whose
text says how to fix it; there is never a silent fallback. Every secret read is registered with
core.redact before it is returned, so it is masked in logs, the journal and on screen.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import keyring
import keyring.core
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyring.errors import PasswordDeleteError

from core.redact import register_secret
from core.settings import KeyBackend, Mode, Settings

SERVICE = "arbdesk"
INDEX_USER = "index"
VENUE_FIELDS = ("apiKey", "secret", "password")
"""ccxt's credential field names; `password` is the passphrase some venues (OKX, KuCoin) need."""
DEFAULT_WALLET = "default"
RELAY_USER = "relay:searcher"
"""The keyring entry of the relay searcher key (`arbdesk keys set-relay`)."""

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

SECURE_BACKENDS: dict[str, str] = {
    "keyring.backends.SecretService.Keyring": "Secret Service (GNOME Keyring, KeePassXC)",
    "keyring.backends.libsecret.Keyring": "libsecret (Secret Service)",
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Locker",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
    "keyring.backends.kwallet.DBusKeyringKWallet4": "KWallet 4",
}
CRYPTFILE_BACKEND = "keyrings.cryptfile.cryptfile.CryptFileKeyring"

SSH_FIX = (
    "On a server over SSH there is usually no unlocked keyring. Either run arbdesk inside a\n"
    "D-Bus session with an unlocked GNOME keyring (apt-get install gnome-keyring dbus):\n"
    "  dbus-run-session -- sh -c 'printf %s PASS | gnome-keyring-daemon --unlock >/dev/null;"
    " arbdesk …'\n"
    "(PASS is the keyring's password; the first unlock creates the keyring), or opt into the\n"
    'encrypted key file: put `backend = "cryptfile"` under [keys] in settings.toml (its\n'
    "passphrase is asked at start, or read from $ARBDESK_KEYRING_PASSPHRASE)."
)

# Asked for the cryptfile passphrase; the flag says the file is being created (ask twice).
PassphraseProvider = Callable[[bool], str | None]


class KeyringUnavailable(RuntimeError):
    """No secure keyring can be used; `problem` says why and `fix` how to repair it."""

    def __init__(
        self, problem: str, fix: str = SSH_FIX, backend: str = "", priority: float | None = None
    ) -> None:
        self.problem = problem
        self.fix = fix
        self.backend = backend
        self.priority = priority
        super().__init__(f"{problem}\nHow to fix:\n{fix}")


class MissingKey(LookupError):
    """The keyring has no such venue key or wallet."""


class InvalidKey(ValueError):
    """A key given to store is malformed (the message never contains the value)."""


class LiveModeRequired(RuntimeError):
    """Keys are read only in live mode; sim and paper never touch the keyring."""


@dataclass(frozen=True)
class BackendReport:
    """What `keys doctor` shows about the keyring backend."""

    backend: str
    """Fully qualified class name, or `` if none could be loaded."""
    priority: float | None
    description: str
    secure: bool
    usable: bool
    problem: str = ""
    fix: str = ""


@dataclass(frozen=True)
class KeyEntry:
    """One stored venue or wallet, by name only; `fields` are the stored field names."""

    kind: Literal["venue", "wallet", "relay"]
    name: str
    fields: tuple[str, ...]
    missing: tuple[str, ...] = ()
    """Fields the index lists but the backend no longer holds (only when verified)."""


@dataclass
class _Index:
    venues: dict[str, list[str]] = field(default_factory=dict)
    wallets: list[str] = field(default_factory=list)
    relay: bool = False

    def dumps(self) -> str:
        data = {"venues": self.venues, "wallets": self.wallets, "relay": self.relay}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def loads(cls, text: str | None) -> _Index:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            venues=dict(data.get("venues", {})),
            wallets=list(data.get("wallets", [])),
            relay=bool(data.get("relay", False)),
        )


def qualified_name(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _priority(backend: KeyringBackend) -> float | None:
    try:
        return float(backend.priority)
    except Exception:  # noqa: BLE001 - a backend's priority check may raise anything
        return None


def check_name(name: str, what: str = "venue") -> str:
    if not _NAME.match(name):
        raise InvalidKey(f"{what} name {name!r} must be 1-32 of A-Z a-z 0-9 _ . -")
    return name


def normalize_private_key(text: str) -> str:
    """`0x` + 64 lower-case hex digits, or InvalidKey (whose message never shows the input)."""
    digits = text.strip()
    if digits[:2] in ("0x", "0X"):
        digits = digits[2:]
    if not _HEX_KEY.match(digits):
        raise InvalidKey("a private key is 32 bytes: 64 hex digits, with or without 0x")
    if not 0 < int(digits, 16) < _SECP256K1_N:
        raise InvalidKey("not a valid secp256k1 private key (zero or not below the curve order)")
    return "0x" + digits.lower()


def wallet_address(private_key: str) -> str:
    """The checksummed address of a private key."""
    from eth_account import Account  # local: eth_account import costs ~0.3 s

    address: str = Account.from_key(normalize_private_key(private_key)).address
    return address


def tty_passphrase(creating: bool) -> str | None:
    """A PassphraseProvider for headless use: asks on the terminal, or None without one."""
    if not sys.stdin.isatty():
        return None
    if not creating:
        return getpass.getpass("arbdesk key file passphrase: ")
    while True:
        first = getpass.getpass("new passphrase for the arbdesk key file: ")
        if first.strip() and first == getpass.getpass("repeat the passphrase: "):
            return first
        print("the passphrases were empty or did not match; try again", file=sys.stderr)


def check_backend(backend: KeyringBackend, *, allow_cryptfile: bool) -> KeyringBackend:
    """The backend to use given what keyring picked, or KeyringUnavailable.

    A chainer is unwrapped to its first (highest-priority) member and that member alone is
    used, so reads and writes can never fall through to a plaintext file further down the chain.
    """
    if isinstance(backend, ChainerBackend):
        chain = list(backend.backends)
        if not chain:
            raise KeyringUnavailable(
                "no keyring backend is available at all (an empty chain)", backend="chainer"
            )
        backend = chain[0]
    name = qualified_name(backend)
    if name == CRYPTFILE_BACKEND and not allow_cryptfile:
        raise KeyringUnavailable(
            "no system keyring is reachable; the best backend left is the encrypted key file,"
            " which arbdesk uses only when the settings opt in",
            backend=name,
            priority=_priority(backend),
        )
    if name not in SECURE_BACKENDS and name != CRYPTFILE_BACKEND:
        raise KeyringUnavailable(
            f"the keyring backend {name} is not a secure store"
            " (plaintext, null or failing backends are refused)",
            backend=name,
            priority=_priority(backend),
        )
    return backend


def _check_secret_service_unlocked(backend: KeyringBackend) -> None:
    """Refuse a locked collection up front: unlocking would wait on a GUI prompt nobody sees."""
    import secretstorage

    try:
        with closing(secretstorage.dbus_init()) as conn:
            path = getattr(backend, "preferred_collection", None)
            if path:
                collection = secretstorage.Collection(conn, path)
            else:
                collection = secretstorage.get_default_collection(conn)
            locked = collection.is_locked()
            label = collection.get_label() or "default"
    except secretstorage.exceptions.SecretStorageException as exc:
        raise KeyringUnavailable(
            f"the Secret Service has no usable collection: {exc}", backend=qualified_name(backend)
        ) from None
    if locked:
        raise KeyringUnavailable(
            f"the Secret Service collection {label!r} is locked",
            backend=qualified_name(backend),
        )


class KeyStore:
    """The keyring as arbdesk uses it. Resolves (and checks) the backend on first use.

    `passphrase_provider` is asked for the cryptfile passphrase when the settings choose that
    backend and $<keys.passphrase_env> is not set; the console passes a modal, the CLI
    `tty_passphrase`. `unlock_cryptfile` supplies it directly instead.
    """

    def __init__(
        self, settings: Settings, passphrase_provider: PassphraseProvider | None = None
    ) -> None:
        self.settings = settings
        self._provider = passphrase_provider
        self._backend: KeyringBackend | None = None
        self._index: _Index | None = None

    # -- backend ---------------------------------------------------------------------------

    @property
    def uses_cryptfile(self) -> bool:
        return self.settings.keys.backend is KeyBackend.CRYPTFILE

    @property
    def cryptfile_path(self) -> Path:
        return self.settings.resolve_path(self.settings.keys.cryptfile_path.expanduser())

    @property
    def backend(self) -> KeyringBackend:
        if self._backend is None:
            if self.uses_cryptfile:
                self.unlock_cryptfile(self._cryptfile_passphrase())
            else:
                self._backend = self._system_backend()
        assert self._backend is not None
        return self._backend

    def _system_backend(self) -> KeyringBackend:
        # Re-read PYTHON_KEYRING_BACKEND / keyringrc each time rather than keyring's cache.
        chosen = keyring.core.load_env() or keyring.core.load_config() or keyring.get_keyring()
        backend = check_backend(chosen, allow_cryptfile=False)
        name = qualified_name(backend)
        if name == "keyring.backends.SecretService.Keyring":
            _check_secret_service_unlocked(backend)
        try:
            backend.get_password(SERVICE, INDEX_USER)
        except Exception as exc:  # noqa: BLE001 - any failure here means "not usable"
            raise KeyringUnavailable(f"the keyring {name} failed: {exc}", backend=name) from None
        return backend

    def _cryptfile_passphrase(self) -> str:
        env = self.settings.keys.passphrase_env
        passphrase = os.environ.get(env)
        if not passphrase and self._provider is not None:
            passphrase = self._provider(not self.cryptfile_path.exists())
        if not passphrase:
            raise KeyringUnavailable(
                f"the encrypted key file {self.cryptfile_path} needs its passphrase",
                fix=f"run arbdesk in a terminal to be asked for it, or set ${env} for automation",
                backend=CRYPTFILE_BACKEND,
            )
        return passphrase

    def unlock_cryptfile(self, passphrase: str) -> None:
        """Open (or create) the encrypted key file with `passphrase`; KeyringUnavailable if
        it is wrong. Only allowed when the settings choose the cryptfile backend."""
        if not self.uses_cryptfile:
            raise KeyringUnavailable(
                "the encrypted key file is used only when the settings opt in",
                fix='put `backend = "cryptfile"` under [keys] in settings.toml',
                backend=CRYPTFILE_BACKEND,
            )
        from keyrings.cryptfile.cryptfile import CryptFileKeyring

        register_secret(passphrase)
        path = self.cryptfile_path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        backend = CryptFileKeyring()
        backend.file_path = str(path)
        try:
            backend.keyring_key = passphrase
        except ValueError:
            raise KeyringUnavailable(
                f"wrong passphrase for the encrypted key file {path} (or the file is damaged)",
                fix="give the passphrase the file was created with"
                f" (${self.settings.keys.passphrase_env} or the prompt)",
                backend=CRYPTFILE_BACKEND,
            ) from None
        self._backend = backend
        self._index = None

    def report(self) -> BackendReport:
        """Diagnose the backend without raising: what `keys doctor` prints."""
        try:
            backend = self.backend
        except KeyringUnavailable as exc:
            name = exc.backend or self._raw_backend_name()
            return BackendReport(
                backend=name,
                priority=exc.priority,
                description=SECURE_BACKENDS.get(name, "not accepted"),
                secure=name in SECURE_BACKENDS
                or (name == CRYPTFILE_BACKEND and self.uses_cryptfile),
                usable=False,
                problem=exc.problem,
                fix=exc.fix,
            )
        name = qualified_name(backend)
        description = SECURE_BACKENDS.get(name) or f"encrypted file {self.cryptfile_path}"
        return BackendReport(name, _priority(backend), description, secure=True, usable=True)

    def _is_secure(self, name: str) -> bool:
        return name in SECURE_BACKENDS or (name == CRYPTFILE_BACKEND and self.uses_cryptfile)

    def _raw_backend_name(self) -> str:
        try:
            chosen = keyring.core.load_env() or keyring.core.load_config() or keyring.get_keyring()
        except Exception:  # noqa: BLE001 - only for the report
            return ""
        return qualified_name(chosen)

    # -- index -----------------------------------------------------------------------------

    def _read_index(self) -> _Index:
        if self._index is None:
            self._index = _Index.loads(self.backend.get_password(SERVICE, INDEX_USER))
        return self._index

    def _write_index(self, index: _Index) -> None:
        self.backend.set_password(SERVICE, INDEX_USER, index.dumps())
        self._index = index

    def _delete(self, user: str) -> bool:
        try:
            self.backend.delete_password(SERVICE, user)
        except PasswordDeleteError:
            return False
        return True

    def entries(self, *, verify: bool = False) -> list[KeyEntry]:
        """Every stored venue and wallet by name; `verify` checks each field is really there
        (slow with the cryptfile backend: one decryption per field)."""
        index = self._read_index()
        out: list[KeyEntry] = []
        for venue, fields in sorted(index.venues.items()):
            users = {f: f"venue:{venue}:{f}" for f in fields}
            missing = tuple(f for f, u in users.items() if verify and not self._exists(u))
            out.append(KeyEntry("venue", venue, tuple(fields), missing))
        for wallet in sorted(index.wallets):
            gone = verify and not self._exists(f"wallet:{wallet}")
            out.append(KeyEntry("wallet", wallet, ("privateKey",), ("privateKey",) if gone else ()))
        if index.relay:
            gone = verify and not self._exists(RELAY_USER)
            missing = ("privateKey",) if gone else ()
            out.append(KeyEntry("relay", "searcher", ("privateKey",), missing))
        return out

    def _exists(self, user: str) -> bool:
        value = self.backend.get_password(SERVICE, user)
        if value is not None:
            register_secret(value)
        return value is not None

    # -- venues ----------------------------------------------------------------------------

    def set_venue(self, venue: str, api_key: str, secret: str, password: str | None = None) -> None:
        """Store (replacing) a venue's ccxt credentials."""
        check_name(venue)
        if not api_key or not secret:
            raise InvalidKey("both the API key and the secret are needed")
        values = {"apiKey": api_key, "secret": secret, "password": password or ""}
        for value in values.values():
            if value:
                register_secret(value)
        stored = []
        for name in VENUE_FIELDS:
            user = f"venue:{venue}:{name}"
            if values[name]:
                self.backend.set_password(SERVICE, user, values[name])
                stored.append(name)
            else:
                self._delete(user)
        index = self._read_index()
        index.venues[venue] = stored
        self._write_index(index)

    def delete_venue(self, venue: str) -> list[str]:
        """Remove a venue's credentials; returns the fields that were deleted."""
        check_name(venue)
        deleted = [f for f in VENUE_FIELDS if self._delete(f"venue:{venue}:{f}")]
        index = self._read_index()
        if index.venues.pop(venue, None) is not None or deleted:
            self._write_index(index)
        if not deleted:
            raise MissingKey(f"no keys stored for venue {venue!r}")
        return deleted

    def venue_credentials(self, venue: str) -> dict[str, str]:
        """The ccxt constructor credentials (`apiKey`, `secret`, and `password` if stored)."""
        check_name(venue)
        creds: dict[str, str] = {}
        for name in VENUE_FIELDS:
            value = self.backend.get_password(SERVICE, f"venue:{venue}:{name}")
            if value:
                register_secret(value)
                creds[name] = value
        if "apiKey" not in creds or "secret" not in creds:
            raise MissingKey(
                f"no API key and secret stored for venue {venue!r}; run: arbdesk keys set {venue}"
            )
        return creds

    # -- wallets ---------------------------------------------------------------------------

    def set_wallet(self, private_key: str, name: str = DEFAULT_WALLET) -> str:
        """Store an EVM private key; returns its address (the only thing safe to show)."""
        check_name(name, "wallet")
        key = normalize_private_key(private_key)
        register_secret(key)
        address = wallet_address(key)
        self.backend.set_password(SERVICE, f"wallet:{name}", key)
        index = self._read_index()
        if name not in index.wallets:
            index.wallets.append(name)
            self._write_index(index)
        return address

    def delete_wallet(self, name: str = DEFAULT_WALLET) -> None:
        check_name(name, "wallet")
        deleted = self._delete(f"wallet:{name}")
        index = self._read_index()
        if name in index.wallets:
            index.wallets.remove(name)
            self._write_index(index)
        elif not deleted:
            raise MissingKey(f"no wallet named {name!r}")

    def wallet_key(self, name: str = DEFAULT_WALLET) -> str:
        """The wallet's private key (`0x` + 64 hex), for the web3 signer."""
        check_name(name, "wallet")
        value = self.backend.get_password(SERVICE, f"wallet:{name}")
        if not value:
            raise MissingKey(f"no wallet named {name!r}; run: arbdesk keys set-wallet")
        register_secret(value)
        return value

    # -- the relay searcher key -------------------------------------------------------------

    def set_relay_key(self, private_key: str) -> str:
        """Store the key that signs relay requests (X-Flashbots-Signature); returns its
        address. It only identifies the searcher to the relays, so it must not be a trading
        wallet's key: a leaked header would then name the account that holds the money."""
        key = normalize_private_key(private_key)
        register_secret(key)
        index = self._read_index()
        for wallet in index.wallets:
            if self.backend.get_password(SERVICE, f"wallet:{wallet}") == key:
                raise InvalidKey(
                    f"that is the key of wallet {wallet!r}; the relay searcher key must be a "
                    "separate key that holds no funds"
                )
        address = wallet_address(key)
        self.backend.set_password(SERVICE, RELAY_USER, key)
        if not index.relay:
            index.relay = True
            self._write_index(index)
        return address

    def delete_relay_key(self) -> None:
        deleted = self._delete(RELAY_USER)
        index = self._read_index()
        if index.relay:
            index.relay = False
            self._write_index(index)
        elif not deleted:
            raise MissingKey("no relay searcher key stored")

    def relay_key(self) -> str:
        value = self.backend.get_password(SERVICE, RELAY_USER)
        if not value:
            raise MissingKey("no relay searcher key stored; run: arbdesk keys set-relay")
        register_secret(value)
        return value


def require_live(settings: Settings) -> None:
    if settings.mode is not Mode.LIVE:
        raise LiveModeRequired(
            f"keys are read only in live mode (mode is {settings.mode.value!r});"
            " sim and paper need none"
        )


def load_venue_credentials(
    venue: str, settings: Settings, store: KeyStore | None = None
) -> dict[str, str]:
    """ccxt credentials for `venue`, for the live engine only (LiveModeRequired otherwise)."""
    require_live(settings)
    return (store or KeyStore(settings)).venue_credentials(venue)


def load_relay_key(settings: Settings, store: KeyStore | None = None) -> str:
    """The searcher key that signs relay requests, for the live engine only."""
    require_live(settings)
    return (store or KeyStore(settings)).relay_key()


def load_wallet_key(
    settings: Settings, name: str = DEFAULT_WALLET, store: KeyStore | None = None
) -> str:
    """The wallet's private key for the web3 signer, for the live engine only."""
    require_live(settings)
    return (store or KeyStore(settings)).wallet_key(name)
