"""The offline engine: the resource graph, its capture under Pulumi mocks, and its cost."""
