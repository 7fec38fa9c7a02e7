"""Finding what belongs together: events, camera clocks, place groups, and the scene check of each event."""
