"""`TaskModel`: what every encoder + head model shares (config, encoder swap)."""

from fastformers_tf.backend import keras


class TaskModel(keras.Model):
    """Base of the functional task models: an `encoder` and an `output_dense` head.

    Subclasses build their graph in `__init__(encoder, ..., **kwargs)` and
    return their own constructor arguments from `_head_config()`.
    """

    def _head_config(self):
        raise NotImplementedError

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.layers.serialize(self.encoder),
            **self._head_config(),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["encoder"] = keras.layers.deserialize(config["encoder"], custom_objects=custom_objects)
        return cls(**config)

    def with_encoder(self, encoder):
        """A new model of this kind around `encoder`, with this one's head weights."""
        clone = type(self)(**{**self.get_config(), "encoder": encoder})
        clone.output_dense.set_weights(self.output_dense.get_weights())
        return clone
