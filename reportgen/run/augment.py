"""Training-time augmentation: seeded Keras layers applied to whole batches in the tf.data map.

Flip and contrast are Keras' own ``RandomFlip`` and ``RandomContrast``. Rotation, translation
and zoom are one :class:`RandomAffine` layer: the three draws are composed into a single
affine matrix per image and the batch is resampled once with ``keras.ops.image.affine_transform``.
Keras' separate ``RandomRotation`` → ``RandomTranslation`` → ``RandomZoom`` resample three
times: three times the work (the largest part of augmentation's cost on a 2-core CPU) and
three bilinear blurs of every image.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from reportgen.config.schema import AugmentationSpec

if TYPE_CHECKING:
    import keras

# Offsets keep each layer's random stream fixed when other layers are switched on or off.
_SEED_OFFSETS = {"flip": 0, "affine": 1, "contrast": 4}


def _affine_layer_class():
    import keras

    class RandomAffine(keras.layers.Layer):
        """Random rotation, translation and zoom about the image centre, resampled once.

        Per image: angle ~ U(−rotation, rotation) × 2π (counter-clockwise positive, as
        ``RandomRotation``), shift ~ U(−translation, translation) × height/width (as
        ``RandomTranslation``), scale ~ U(1 − zoom, 1 + zoom) (above 1 shows more of the image,
        i.e. zooms out, as ``RandomZoom``'s positive factors). Bilinear, ``fill_mode="nearest"``.
        The identity when called with ``training=False``.
        """

        def __init__(self, rotation: float = 0.0, translation: float = 0.0, zoom: float = 0.0,
                     seed: int | None = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.rotation, self.translation, self.zoom = float(rotation), float(translation), float(zoom)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def sample(self, batch: Any) -> Any:
            """(batch, 4) random parameters: angle (radians), shift x, shift y (shares), scale."""
            def uniform(bound: float) -> Any:
                return keras.random.uniform((batch,), -bound, bound, seed=self.seed_generator)

            angle = uniform(self.rotation * 2.0 * math.pi)
            shift_x, shift_y = uniform(self.translation), uniform(self.translation)
            scale = 1.0 + uniform(self.zoom)
            return keras.ops.stack([angle, shift_x, shift_y, scale], axis=1)

        @staticmethod
        def transform(images: Any, params: Any) -> Any:
            """Resample ``images`` (N, H, W, C) with per-image ``params`` (N, 4) from :meth:`sample`."""
            ops = keras.ops
            height = ops.cast(ops.shape(images)[1], "float32")
            width = ops.cast(ops.shape(images)[2], "float32")
            angle, shift_x, shift_y, scale = (params[:, i] for i in range(4))
            cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
            cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
            # Output pixel p reads input c + scale·R(angle)·(p − c) + shift. Image y points
            # down, so with this R a positive angle turns the picture counter-clockwise
            # (what was below the centre appears to its right).
            a0, a1 = cos, -sin
            b0, b1 = sin, cos
            a2 = cx - a0 * cx - a1 * cy + shift_x * width
            b2 = cy - b0 * cx - b1 * cy + shift_y * height
            zeros = ops.zeros_like(angle)
            matrix = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
            return ops.image.affine_transform(images, matrix, interpolation="bilinear",
                                              fill_mode="nearest")

        def call(self, images: Any, training: bool = True) -> Any:
            if not training:
                return images
            return self.transform(images, self.sample(keras.ops.shape(images)[0]))

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "rotation": self.rotation,
                    "translation": self.translation, "zoom": self.zoom, "seed": self.seed}

    return RandomAffine


_RANDOM_AFFINE = None


def random_affine(**kwargs: Any) -> keras.layers.Layer:
    """A :class:`RandomAffine` layer (the class is made on first use: Keras loads lazily)."""
    global _RANDOM_AFFINE
    if _RANDOM_AFFINE is None:
        _RANDOM_AFFINE = _affine_layer_class()
    return _RANDOM_AFFINE(**kwargs)


def augmentation_layers(spec: AugmentationSpec | None, seed: int) -> keras.Sequential | None:
    """Seeded random layers for ``spec`` (flip → affine → contrast), or None when nothing is on.

    Meant for a ``tf.data`` map over batches of training images only, on pixel values 0..255
    before the model's preprocessing; call with ``training=True`` (the layers are the identity
    otherwise). Output is float32 in 0..255.

    The affine layer fills with the nearest edge pixel: for digits the border is background
    (0), so this matches a black fill; for faces it extends the edge (hair, background) instead
    of adding black corners the model could learn as a cue, and unlike "reflect" it does not
    mirror a second copy of chin or ears into the frame. RandomContrast gets
    ``value_range=(0, 255)`` so it clips to the pixel range.
    """
    if spec is None:
        return None
    import keras
    from keras import layers

    stack = []
    if spec.horizontal_flip:
        stack.append(layers.RandomFlip("horizontal", seed=seed + _SEED_OFFSETS["flip"], name="flip"))
    if spec.rotation > 0 or spec.translation > 0 or spec.zoom > 0:
        stack.append(random_affine(rotation=spec.rotation, translation=spec.translation, zoom=spec.zoom,
                                   seed=seed + _SEED_OFFSETS["affine"], name="affine"))
    if spec.contrast > 0:
        stack.append(layers.RandomContrast(spec.contrast, value_range=(0, 255),
                                           seed=seed + _SEED_OFFSETS["contrast"], name="contrast"))
    if not stack:
        return None
    return keras.Sequential(stack, name="augmentation")
