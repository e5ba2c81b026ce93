"""The completion Lambda: SageMaker async notifications → token table → Step Functions callback."""
