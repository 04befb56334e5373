"""Deploy stage: read int8 TFLite, report size/MACs/RAM against budgets, emit C. Never imports TensorFlow."""
