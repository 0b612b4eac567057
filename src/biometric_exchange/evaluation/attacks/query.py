"""The one place an attack's Identify request is built: its probe fields follow the wire.

The attacker poses as ordinary traffic: each probe under the standard scope
rule with a real commitment (to an extra-regional adult seen at a Chilean
airport now), under the link's own purpose.
"""

from __future__ import annotations

from collections.abc import Sequence

from biometric_exchange.agreement.commitment import commit
from biometric_exchange.agreement.policy import ScopeFacts
from biometric_exchange.evaluation.attacks.oracle import Matrix
from biometric_exchange.node.link import Link
from biometric_exchange.serde.identify import IdentifyQuery, ProbeIn

POSING_AS = ScopeFacts(nationality="CHN", age_years=34, protected_category=None)
ENCOUNTER_POINT = "CHL-SANTIAGO-AIRPORT"


def identify_query(link: Link, templates: Matrix, refs: Sequence[str]) -> IdentifyQuery:
    """One request for ``templates`` under ``link``, probe ``i`` named ``refs[i]``."""
    rule = link.policy.scope_rule(link.purpose)
    now_ms = link.node.clock()
    return IdentifyQuery(
        purpose=link.purpose.value,
        max_candidates=link.terms.step1.max_candidates,
        probes=tuple(
            ProbeIn(
                probe_ref=ref,
                template=template,
                scope_rule=rule,
                commitment=commit(ref, rule, POSING_AS, ENCOUNTER_POINT, now_ms).commitment,
            )
            for ref, template in zip(refs, templates, strict=True)
        ),
    )
