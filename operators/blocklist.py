"""blocklist: a transaction with a sanctioned or mixer address."""

from __future__ import annotations

from dataclasses import dataclass

from .event import Hit, WalletEvent

SEVERITY_BY_CATEGORY = {"sanctioned": "critical", "mixer": "high"}
# A category the table does not know still means a blocklisted address: alert, not drop.
_UNKNOWN_CATEGORY_SEVERITY = "high"


@dataclass(frozen=True, slots=True)
class BlocklistConfig:
    """`[detectors.blocklist]` of flink-conf/pipeline.toml."""

    enabled: bool
    # CSV of blocklisted addresses, relative to [reference].dir. Enrichment loads it and sets
    # EnrichedTransaction.counterparty_blocklist; the detector never reads it.
    blocklist_file: str


class Blocklist:
    """An own event whose counterparty enrichment found on the blocklist: severity critical
    for a `sanctioned` address, high for a `mixer`. Stateless.

    Mirrored views are skipped: their counterparty is the receiving wallet itself, and the
    sender's own view already raises the hit.
    """

    rule_id = "blocklist"
    severity = "critical"  # the highest it raises; each hit carries its category's severity

    __slots__ = ()

    def __init__(self, config: BlocklistConfig) -> None:
        del config  # nothing to tune: the list itself is applied by enrichment

    def new_state(self) -> None:
        return None

    def on_event(self, state: None, view: WalletEvent) -> Hit | None:
        category = view.event.counterparty_blocklist
        if category is None or view.mirrored:
            return None
        return Hit(
            self.rule_id,
            SEVERITY_BY_CATEGORY.get(category, _UNKNOWN_CATEGORY_SEVERITY),
            f"counterparty {view.counterparty} is on the blocklist ({category})",
        )
