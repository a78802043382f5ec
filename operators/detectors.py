"""All per-wallet detectors behind one call: what the keyed Flink function runs per view.

The Flink KeyedProcessFunction only moves state in and out: it restores the wallet's state
dict, calls `WalletDetectors.run(state, view)` and stores the (mutated) dict again.
"""

from __future__ import annotations

from .blocklist import Blocklist, BlocklistConfig
from .event import Hit, WalletEvent
from .fan_out_dusting import FanOutDusting, FanOutDustingConfig
from .geo_jump import GeoJump, GeoJumpConfig
from .peel_chain import PeelChain, PeelChainConfig
from .rapid_in_out import RapidInOut, RapidInOutConfig
from .round_trip import RoundTrip, RoundTripConfig
from .structuring import Structuring, StructuringConfig
from .velocity_burst import VelocityBurst, VelocityBurstConfig

# rule_id -> detector class, in the order of docs/typologies.md (the order hits come out in).
DETECTOR_CLASSES = {
    cls.rule_id: cls
    for cls in (
        VelocityBurst,
        Structuring,
        RapidInOut,
        PeelChain,
        RoundTrip,
        GeoJump,
        FanOutDusting,
        Blocklist,
    )
}

# rule_id -> config dataclass; the config loader builds `CONFIG_CLASSES[rule_id](**section)`
# from `[detectors.<rule_id>]`.
CONFIG_CLASSES = {
    "velocity_burst": VelocityBurstConfig,
    "structuring": StructuringConfig,
    "rapid_in_out": RapidInOutConfig,
    "peel_chain": PeelChainConfig,
    "round_trip": RoundTripConfig,
    "geo_jump": GeoJumpConfig,
    "fan_out_dusting": FanOutDustingConfig,
    "blocklist": BlocklistConfig,
}


class WalletDetectors:
    """The enabled detectors of a configuration, run together on one wallet's views.

    A wallet's state is a plain dict rule_id -> that detector's state, so it pickles
    cheaply into Flink keyed state.
    """

    __slots__ = ("_detectors",)

    def __init__(self, configs: dict[str, object], silenced: frozenset[str] = frozenset()) -> None:
        """`configs`: rule_id -> config dataclass; disabled ones are left out.

        `silenced`: enabled detectors that run (their state stays current, so turning one
        back on at runtime needs no warm-up) but raise no hits: a rule disabled at runtime.
        """
        unknown = sorted(set(configs) - set(DETECTOR_CLASSES))
        if unknown:
            raise ValueError(f"unknown detector rule_id(s): {', '.join(unknown)}")
        detectors = []
        for rule_id, cls in DETECTOR_CLASSES.items():
            config = configs.get(rule_id)
            if config is None:
                continue
            if not isinstance(config, CONFIG_CLASSES[rule_id]):
                raise TypeError(
                    f"{rule_id}: expected {CONFIG_CLASSES[rule_id].__name__}, "
                    f"got {type(config).__name__}"
                )
            if config.enabled:
                detectors.append((rule_id, cls(config), rule_id not in silenced))
        self._detectors = tuple(detectors)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The enabled detectors' rule_ids, in the order they run."""
        return tuple(rule_id for rule_id, _, _ in self._detectors)

    def new_state(self) -> dict:
        """Initial state of a wallet never seen before: rule_id -> detector state."""
        return {rule_id: detector.new_state() for rule_id, detector, _ in self._detectors}

    def run(self, state: dict, view: WalletEvent) -> list[Hit]:
        """Feed one wallet view to every enabled detector, mutating `state` in place.

        Returns the hits the view raises; always empty for a mirrored view (it only
        updates state). Sub-states missing from a restored `state` (a detector enabled
        since) are created; those of detectors no longer enabled are dropped.
        """
        hits = []
        for rule_id, detector, raises in self._detectors:
            try:
                sub_state = state[rule_id]
            except KeyError:
                sub_state = state[rule_id] = detector.new_state()
            hit = detector.on_event(sub_state, view)
            if hit is not None and raises:
                hits.append(hit)
        if len(state) != len(self._detectors):
            for rule_id in set(state).difference(self.rule_ids):
                del state[rule_id]
        if hits and view.mirrored:
            return []  # detectors never hit on mirrored views; this guards the contract
        return hits
