"""Claims: what reports assert, and whether a new report confirms or contradicts a claim.

- :mod:`.extract` reads claim records from sentences (proposition, polarity, modality,
  attribution);
- :mod:`.relate` decides whether two records state the same proposition (grouping reports
  into claims within a story);
- :mod:`.pairs` is the learned pair model that decides every claim alert;
- :mod:`.track` is the pipeline stage (candidates of the story, grouping, the pair model's
  verdicts, what to alert) and the read-back for ``monitor claims``;
- :mod:`.stance` judges a claim against a whole text (``monitor stance``).
"""

from monitor.claims.extract import ClaimRecord, extract_claims, read_sentence, read_statement
from monitor.claims.relate import relate
from monitor.claims.track import ClaimEvent, ClaimTracker, claim_timeline, claims_overview

__all__ = [
    "ClaimEvent",
    "ClaimRecord",
    "ClaimTracker",
    "claim_timeline",
    "claims_overview",
    "extract_claims",
    "read_sentence",
    "read_statement",
    "relate",
]
