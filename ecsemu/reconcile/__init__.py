"""The reconciler: a pure planner (``plan``) plus an idempotent executor, run by a loop."""
