"""The drkit Pulumi program: one stack per (deployment, region)."""
