"""Rate cards: how many credits a unit of a feature burns.

A rate card is versioned and effective-dated: version ``n`` of card ``c`` maps feature
names (an event type is a feature) to a Decimal rate in one credit unit, and applies from
its ``effective_at``. An account is pinned to a card, either to one version or to "the
version effective at the instant of use".

The rounding rule (one, for every charge): ``cost = quantity × rate`` rounded **up**
(``ROUND_CEILING``) to the credit unit's scale. Rounding up means splitting usage into
many small events or requests can never make it cheaper or free, and a hold is never
smaller than the exact cost; the most it can overcharge is one smallest step of the unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal, localcontext
from types import MappingProxyType

from drawdown.domain import limits
from drawdown.domain.accounts import require_id
from drawdown.domain.errors import FeatureNotPriced, InvalidAmount, InvalidField, InvalidQuantity
from drawdown.domain.money import Unit, format_units, parse_decimal, to_units

ROUNDING = ROUND_CEILING


@dataclass(frozen=True, slots=True)
class RateCard:
    id: str
    version: int
    unit: str
    effective_at: datetime
    rates: Mapping[str, Decimal]

    def __post_init__(self) -> None:
        # Cards are cached and shared per process: a read-only copy, so no caller can change one
        object.__setattr__(self, "rates", MappingProxyType(dict(self.rates)))

    def rate(self, feature: str) -> Decimal:
        found = self.rates.get(feature)
        if found is None:
            raise FeatureNotPriced(
                f"rate card {self.id} v{self.version} has no rate for feature {feature!r}; add it in a new version",
                field="feature",
                feature=feature[:64],
            )
        return found


def check_rates(rates: object) -> dict[str, Decimal]:
    """Validate a feature → credits-per-unit map: non-negative Decimals, bounded precision."""
    if not isinstance(rates, Mapping) or not rates or len(rates) > limits.RATE_CARD_FEATURES_MAX:
        raise InvalidField(
            f"rates must map 1–{limits.RATE_CARD_FEATURES_MAX} features to decimal strings", field="rates"
        )
    clean: dict[str, Decimal] = {}
    for feature, value in rates.items():
        require_id(feature, field="feature")
        rate = parse_decimal(value, field=f"rates.{feature}")
        if rate < 0 or len(rate.as_tuple().digits) > limits.RATE_DIGITS_MAX:
            raise InvalidAmount(
                f"rate for {feature} must be zero or more with at most {limits.RATE_DIGITS_MAX} digits",
                field="rates",
            )
        clean[feature] = rate
    return dict(sorted(clean.items()))


def cost_units(quantity: Decimal, rate: Decimal, unit: Unit) -> int:
    """The credits ``quantity`` of a feature burns at ``rate``, rounded up to the unit's scale."""
    assert quantity >= 0
    assert rate >= 0
    with localcontext() as exact:
        exact.prec = 80  # 19 quantity digits x 12 rate digits fit with room: the product is exact
        return to_units(quantity * rate, unit, ROUNDING)


def check_holdable(cost: int, unit: Unit, quantity: Decimal, feature: str) -> None:
    """Refuse a request whose cost is above the largest amount the ledger moves at once.

    Authorize and reserve price a request before anything is drawn: a cost beyond
    ``AMOUNT_UNITS_MAX`` (say 10**12 calls at 10,000 credits) could never be held, and a
    shadow or async hold would record it. An async burn may still price an event that high:
    it draws only what there is and records the rest as unbilled.
    """
    if cost > limits.AMOUNT_UNITS_MAX:
        raise InvalidQuantity(
            f"{quantity} {feature} costs more than the largest amount drawdown holds at once "
            f"({format_units(limits.AMOUNT_UNITS_MAX, unit)} {unit.code}); ask for less",
            field="quantity",
        )
