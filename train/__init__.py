"""Training stage: the model registry, knowledge distillation and the fit loop (tf_keras)."""
