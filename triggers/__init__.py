"""The support guide's ticket rules: pure functions from (snapshot, event, mappings, now) to actions."""
