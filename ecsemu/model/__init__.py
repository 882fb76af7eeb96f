"""Record layouts shared by the API providers (which write spec) and the reconciler (which
writes status). Plain JSON dicts; these modules only build them and name their states."""
