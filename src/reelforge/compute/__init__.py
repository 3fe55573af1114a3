"""Job system: task registry, DB-backed queue, task context, workers and executors."""
