"""Infrastructure, not a stage: the embedded PostgreSQL server the stages create their
scratch schemas in, its watchdog, and the temporary directories they use."""
