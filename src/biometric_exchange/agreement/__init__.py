"""The bilateral agreement: a signed, versioned document both nodes enforce."""

from biometric_exchange.agreement.document import (
    SIGNATURE_LABEL,
    AgreementDocument,
    Party,
    draft,
    dumps,
    load,
    load_terms,
    merge_terms,
)
from biometric_exchange.agreement.terms import (
    Approval,
    DetailField,
    Disclosure,
    ProtectedCategory,
    Purpose,
    Scope,
    Terms,
)

__all__ = [
    "SIGNATURE_LABEL",
    "AgreementDocument",
    "Approval",
    "DetailField",
    "Disclosure",
    "Party",
    "ProtectedCategory",
    "Purpose",
    "Scope",
    "Terms",
    "draft",
    "dumps",
    "load",
    "load_terms",
    "merge_terms",
]
