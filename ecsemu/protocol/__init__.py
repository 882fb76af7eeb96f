"""Wire protocols: parsing, serializing and validating AWS requests, driven by shapes."""
