"""A custom layer in a module the user trusts (imported before loading): registered with Keras."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="glassbox_tests")
class Scale(keras.layers.Layer):
    """Multiplies by one learned scalar per channel."""

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x):
        return x * self.scale
