"""The grid operator's side: verifying day blocks, (later) requesting readouts and collecting."""
