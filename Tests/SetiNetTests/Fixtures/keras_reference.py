"""Reference tensors from Keras for SetiNet's KerasReferenceTests.

A small model with every layer type of the SETI CNN but dropout (whose random masks
cannot be matched), run by Keras on a fixed batch: inference logits with non-trivial
moving statistics, the training-mode loss and every gradient, the moving statistics
after that training forward, and the weights after one Adam step.

Regenerate (not needed for the tests, which read the committed output):
    pip install tensorflow-cpu safetensors
    python3 Tests/SetiNetTests/Fixtures/keras_reference.py
"""
import os
import numpy as np
import keras
import tensorflow as tf
from safetensors.numpy import save_file

rng = np.random.default_rng(2026)
batch, classes = 6, 3
inputs = keras.Input((12, 8, 1))
x = keras.layers.Conv2D(4, 3, padding="same", name="conv2d")(inputs)
x = keras.layers.BatchNormalization(name="batch_normalization")(x)
x = keras.layers.ReLU()(x)
x = keras.layers.MaxPooling2D(2)(x)
x = keras.layers.Conv2D(6, 3, padding="same", name="conv2d_1")(x)
x = keras.layers.BatchNormalization(name="batch_normalization_1")(x)
x = keras.layers.ReLU()(x)
x = keras.layers.MaxPooling2D(2)(x)
x = keras.layers.Flatten()(x)
x = keras.layers.Dense(8, name="dense")(x)
x = keras.layers.BatchNormalization(name="batch_normalization_2")(x)
x = keras.layers.ReLU()(x)
logits = keras.layers.Dense(classes, name="dense_1")(x)
model = keras.Model(inputs, logits)

# Non-default biases, gammas, betas and moving statistics, so that every term shows.
for layer in model.layers:
    for w in layer.weights:
        name = w.path.split("/")[-1]
        if name in ("bias", "beta", "moving_mean"):
            w.assign(rng.uniform(-0.3, 0.3, w.shape).astype(np.float32))
        elif name in ("gamma", "moving_variance"):
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))

def weights(prefix=""):
    return {prefix + w.path: np.array(w.numpy(), dtype=np.float32) for w in model.weights}

out = weights("initial/")
images = rng.uniform(0, 1, (batch, 12, 8, 1)).astype(np.float32)
labels = np.array([0, 2, 1, 2, 0, 1])
onehot = np.eye(classes, dtype=np.float32)[labels]
out["input"] = images
out["labels"] = labels.astype(np.float32)
out["inference/logits"] = np.array(model(images, training=False), dtype=np.float32)

loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
with tf.GradientTape() as tape:
    train_logits = model(images, training=True)
    loss = loss_fn(onehot, train_logits)
grads = tape.gradient(loss, model.trainable_weights)
out["train/logits"] = np.array(train_logits, dtype=np.float32)
out["train/loss"] = np.array([loss.numpy()], dtype=np.float32)
for w, g in zip(model.trainable_weights, grads):
    out["grad/" + w.path] = np.array(g, dtype=np.float32)
out.update(weights("after_forward/"))

keras.optimizers.Adam(learning_rate=0.01).apply_gradients(zip(grads, model.trainable_weights))
out.update(weights("after_adam/"))

here = os.path.dirname(os.path.abspath(__file__))
save_file(out, os.path.join(here, "keras_reference.safetensors"),
          metadata={"keras": keras.__version__, "tensorflow": tf.__version__})
print("wrote", len(out), "tensors; loss", float(loss))
