"""The shared runtime every service is built on: settings, telemetry, database, outbox, inbox,
dead letters, broker, Temporal client/worker, auth and audit."""
