"""The scale-up Lambda: raises a deployment's provisioned SageMaker capacity in the activating region."""
