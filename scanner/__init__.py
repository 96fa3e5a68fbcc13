"""The gate program: camera or files in, verdicts out, verified offline with public keys only."""
