"""Unit tests of ecsemu.taskenv (a package, so its module names do not collide with
tests/services/*/test_*.py of the same name)."""
