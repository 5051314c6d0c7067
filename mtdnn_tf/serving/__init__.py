"""Using a trained model: loading it, predicting, and exporting SavedModel and TFLite."""
