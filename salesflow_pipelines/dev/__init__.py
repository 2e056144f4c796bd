"""Development tools: the demo shop's data and the stand-in Java backend. Not used in a deployment
that names a backend, except the demo data behind the embedded default."""
