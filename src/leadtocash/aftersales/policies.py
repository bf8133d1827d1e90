"""The organisation's after-sales policies as one value, stored in its settings."""

from __future__ import annotations

import attrs

from leadtocash.aftersales.churn import ChurnRules
from leadtocash.aftersales.renewals import RenewalPolicy
from leadtocash.aftersales.sla_policy import DEFAULT_SLA_POLICIES, SlaPolicies
from leadtocash.aftersales.ticket import DEFAULT_TICKET_POLICY, TicketPolicy
from leadtocash.durations import BusinessHours, Duration, DurationUnit

__all__ = ["CHURN_FADE", "ServicePolicies"]

#: How long after its last breach or rating a customer stays on the churn sweep's list, so
#: a signal that leaves its look-back window is cleared by a sweep within this time.
CHURN_FADE = Duration(7, DurationUnit.CALENDAR_DAYS)


@attrs.frozen
class ServicePolicies:
    """The organisation's after-sales policies (``OrganisationSettings.service``).

    ``sla``: first-response and resolution targets per priority and tier; ``tickets``: the
    reopen window; ``churn``: the churn rules; ``renewals``: lead time and renewing statuses;
    ``business_hours``: the service hours (None: the calendar's own, else 09:00–18:00);
    ``churn_fade``: see :data:`CHURN_FADE`.
    """

    sla: SlaPolicies = DEFAULT_SLA_POLICIES
    tickets: TicketPolicy = DEFAULT_TICKET_POLICY
    churn: ChurnRules = attrs.field(factory=ChurnRules)
    renewals: RenewalPolicy = attrs.field(factory=RenewalPolicy)
    business_hours: BusinessHours | None = None
    churn_fade: Duration = CHURN_FADE
