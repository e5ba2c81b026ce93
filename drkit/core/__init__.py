"""The runtime core: spec, tiers, routing, tokens, redrive, pricing and RTO bounds.

Components and the Lambda bundles import from here, and nothing here imports a layer above
it (tests/test_layers.py). The modules a Lambda bundle carries are stdlib + boto3 only.
"""
