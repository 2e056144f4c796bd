"""The Java backend: its HTTP client and its JSON turned into frames."""
