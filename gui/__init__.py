"""Everything the user sees. No TensorFlow, Keras or scikit-* here (checked by import-linter)."""
