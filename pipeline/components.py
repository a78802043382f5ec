"""Builds the plain-Python operators from the config; each part only when first used."""

from __future__ import annotations

from functools import cached_property

from operators.decide import Decider, DecisionSettings
from operators.dedupe import Deduplicator
from operators.detectors import WalletDetectors
from operators.enrich import Enricher, ReferenceData, load_reference_data
from operators.scoring import OnnxScorer, model_version
from operators.validate import ValidationLimits, Validator
from operators.wallet_risk import WalletRisk

from .config import PipelineConfig


class Components:
    """The operators of one pipeline configuration (built lazily, once per instance)."""

    def __init__(self, cfg: PipelineConfig) -> None:
        self.cfg = cfg

    @cached_property
    def reference(self) -> ReferenceData:
        cfg = self.cfg
        return load_reference_data(
            cfg.resolve(cfg.reference.dir),
            cfg.reference_file(cfg.reference.wallets_file),
            cfg.reference_file(cfg.detectors["blocklist"].blocklist_file),
        )

    @cached_property
    def validator(self) -> Validator:
        v = self.cfg.validation
        limits = ValidationLimits(
            min_event_time_ms=v.min_event_time_ms,
            max_future_skew_ms=v.max_future_skew_ms,
            max_amount=v.max_amount,
            max_record_bytes=self.cfg.source.max_record_bytes,
        )
        return Validator(limits, self.reference.assets)

    @cached_property
    def wallet_risk(self) -> WalletRisk:
        return WalletRisk(
            self.validator,
            Deduplicator(self.cfg.dedupe),
            Enricher(self.reference),
            WalletDetectors(dict(self.cfg.detectors)),
            self.cfg.source.format,
            self.cfg.validation.allowed_lateness_ms,
        )

    @cached_property
    def scorer(self) -> OnnxScorer:
        return OnnxScorer(self.cfg.resolve(self.cfg.model.path))

    @cached_property
    def model_version(self) -> str:
        return model_version(self.cfg.resolve(self.cfg.model.version_file))

    @cached_property
    def decider(self) -> Decider:
        d = self.cfg.decision
        return Decider(
            DecisionSettings(
                alert_score_threshold=d.alert_score_threshold,
                critical_score_threshold=d.critical_score_threshold,
                model_version=self.model_version,
                rules_version=d.rules_version,
            )
        )
