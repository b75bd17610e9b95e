"""Data handling shared by the models: session graphs built from padded item sequences."""
