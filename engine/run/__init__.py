"""The async runtime: producer, pacer, sender pool, recorder, supervisor."""
