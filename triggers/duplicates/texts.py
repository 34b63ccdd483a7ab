"""Words cxlayer shows agents about possible duplicates (internal notes)."""

from __future__ import annotations

TAG_POSSIBLE_DUPLICATE = "possible_duplicate"
# Set with possible_duplicate while a flag awaits the agent's word: Zendesk triggers cannot
# see a tag being removed, but they can see this tag without possible_duplicate, and the
# provisioned trigger then tells cxlayer at once. cxlayer removes it once the word is in.
TAG_FLAG_WATCH = "cxlayer_duplicate_flag"

# Candidates can come from the requester's organisation too (same_organization setting).
NOTE_HEADER = "Possible duplicate: this ticket looks like an earlier ticket on the same issue."
# One line per candidate, best first. The score is a calibrated probability, but calibrated
# on other projects' data (triggers/duplicates/calibration.py), so the note shows the threshold
# beside it rather than a percentage an agent would read as this account's odds.
NOTE_CANDIDATE = "- #{ticket_id} (score {score:.2f}; flagged from {threshold:.2f})"
NOTE_SENTENCE_PAIR = '    this ticket: "{new}"\n    #{ticket_id}: "{old}"'
NOTE_REFERENCE = "    this ticket mentions #{ticket_id}"
NOTE_FOOTER = (
    '"Duplicate of" is set to #{best_id}. Nothing was merged or solved. If this is not a '
    'duplicate, remove the possible_duplicate tag or clear "Duplicate of": cxlayer records '
    "that and will not flag these two tickets again."
)
# The one-line note confirming an agent's "not a duplicate".
NOT_DUPLICATE_NOTE = (
    "Not a duplicate of #{candidate_id}: noted. cxlayer will not flag these two tickets "
    "together again{cleared}."
)
NOT_DUPLICATE_CLEARED = ' and has cleared "Duplicate of"'
NOT_DUPLICATE_REASON = "an agent said #{ticket_id} is not a duplicate of #{candidate_id}"
FLAG_REASON = "similar to #{best_id} (score {score:.2f} >= flag threshold {threshold:.2f})"
