"""The grading vocabulary: severities and the eight criteria of the weighted scoring matrix."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


class Criterion(StrEnum):
    SECURITY = "security"
    SCALABILITY = "scalability"
    INTEGRATION = "integration"
    RELIABILITY = "reliability"
    CUSTOMISATION = "customisation"
    REPORTING = "reporting"
    LOCALISATION = "localisation"
    COST = "cost"


TITLES: dict[Criterion, str] = {
    Criterion.SECURITY: "Security and identity",
    Criterion.SCALABILITY: "Scalability and performance",
    Criterion.INTEGRATION: "Ecosystem integration",
    Criterion.RELIABILITY: "Reliability: SLA, HA, DR",
    Criterion.CUSTOMISATION: "Customisation and development",
    Criterion.REPORTING: "Reporting and analytics",
    Criterion.LOCALISATION: "Localisation and deployment",
    Criterion.COST: "Price and TCO",
}

DEFAULT_WEIGHTS: dict[Criterion, int] = {
    Criterion.SECURITY: 20,
    Criterion.SCALABILITY: 20,
    Criterion.INTEGRATION: 15,
    Criterion.RELIABILITY: 15,
    Criterion.CUSTOMISATION: 10,
    Criterion.REPORTING: 10,
    Criterion.LOCALISATION: 5,
    Criterion.COST: 5,
}
