"""Service providers: one package per emulated AWS service. No HTTP, no Docker here."""
