"""What the pipelines tell people: email subjects and bodies."""
