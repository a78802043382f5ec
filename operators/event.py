"""The transaction event as the operators see it, after validation and enrichment.

The wire contract is `contracts/transaction-event.v1.schema.json`; this module is its
typed in-memory form. Times are epoch milliseconds (UTC), amounts are floats.
"""

from __future__ import annotations

from dataclasses import dataclass

TX_TYPES = ("trade", "deposit", "withdrawal", "transfer")

# Field order of the contract; also the column order of the CSV datasets.
EVENT_FIELDS = (
    "tx_id",
    "event_time",
    "tx_type",
    "wallet_id",
    "counterparty_wallet",
    "asset",
    "amount",
    "amount_usd",
    "chain",
    "tx_hash",
    "venue",
    "ip",
    "country",
    "device_id",
)

DIRECTION_IN = "in"
DIRECTION_OUT = "out"
DIRECTION_TRADE = "trade"

_DIRECTION_BY_TYPE = {
    "deposit": DIRECTION_IN,
    "withdrawal": DIRECTION_OUT,
    "transfer": DIRECTION_OUT,
    "trade": DIRECTION_TRADE,
}


@dataclass(slots=True)
class Transaction:
    """A validated transaction event (contract v1)."""

    tx_id: str
    event_time_ms: int
    tx_type: str
    wallet_id: str
    counterparty_wallet: str | None
    asset: str
    amount: float
    amount_usd: float | None = None
    chain: str | None = None
    tx_hash: str | None = None
    venue: str | None = None
    ip: str | None = None
    country: str | None = None
    device_id: str | None = None


@dataclass(slots=True)
class EnrichedTransaction:
    """A transaction plus reference data: USD value, wallet metadata, geo."""

    tx: Transaction
    amount_usd: float
    price_usd: float
    wallet_known: bool
    wallet_kyc_tier: int
    wallet_created_ms: int
    wallet_home_country: str | None
    geo_country: str | None
    geo_lat: float | None
    geo_lon: float | None
    counterparty_blocklist: str | None  # "mixer" | "sanctioned" | None


@dataclass(slots=True)
class WalletEvent:
    """One wallet's view of a transaction: what keyed per-wallet state consumes.

    `direction` is in/out/trade from `wallet_id`'s point of view. `mirrored` is True for
    the receiver's view of an internal transfer (the transaction belongs to another
    wallet); mirrored views update state but never raise alerts.
    """

    wallet_id: str
    direction: str
    mirrored: bool
    event: EnrichedTransaction

    @property
    def ts(self) -> int:
        return self.event.tx.event_time_ms

    @property
    def usd(self) -> float:
        return self.event.amount_usd

    @property
    def counterparty(self) -> str | None:
        """The other side, seen from `wallet_id` (the sender, for a mirrored view)."""
        tx = self.event.tx
        return tx.wallet_id if self.mirrored else tx.counterparty_wallet

    @property
    def tx_type(self) -> str:
        return self.event.tx.tx_type


def direction_of(tx_type: str) -> str:
    """Direction of a transaction from its own wallet's point of view."""
    return _DIRECTION_BY_TYPE[tx_type]


def own_view(event: EnrichedTransaction) -> WalletEvent:
    """The transaction as its own wallet sees it."""
    tx = event.tx
    return WalletEvent(tx.wallet_id, _DIRECTION_BY_TYPE[tx.tx_type], False, event)


def receiver_view(event: EnrichedTransaction) -> WalletEvent:
    """An internal transfer as the receiving wallet sees it (inbound, mirrored)."""
    return WalletEvent(event.tx.counterparty_wallet, DIRECTION_IN, True, event)


def wallet_views(event: EnrichedTransaction) -> list[WalletEvent]:
    """The per-wallet views of one transaction: its own, plus the receiver's for transfers.

    The job produces the same copies in its key-extraction SQL (`pipeline/job.py`).
    """
    tx = event.tx
    cp = tx.counterparty_wallet
    if tx.tx_type == "transfer" and cp and cp != tx.wallet_id:
        return [own_view(event), receiver_view(event)]
    return [own_view(event)]


@dataclass(slots=True, frozen=True)
class Hit:
    """A detector's finding on one transaction."""

    rule_id: str
    severity: str  # low | medium | high | critical
    reason: str


SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
