"""The grid operator's side: verifying day blocks (`verify`, `checks`), requesting readouts
(`requester`) and collecting blocks (`collector`)."""
