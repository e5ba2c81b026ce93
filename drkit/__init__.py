"""drkit: multi-region disaster recovery for SageMaker inference on AWS."""

__version__ = "0.1.0"
