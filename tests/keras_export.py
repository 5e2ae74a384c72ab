"""Export small Keras models to ONNX the default TensorFlow way (tf2onnx.convert.from_keras),
with Keras's own outputs on a fixed input: DIR/<name>.onnx, DIR/<name>_x.npy, DIR/<name>_y.npy.

Run as a script (TensorFlow is slow to import and `TF_USE_LEGACY_KERAS` must be set before
it is): `python tests/keras_export.py DIR keras3` (Keras 3) or `... DIR tf_keras` (the
legacy tf.keras 2 package). Weights are drawn at random (biases included, so that a wrong
gate or bias order cannot hide behind Keras's zero biases).
"""

from __future__ import annotations

import os
import sys

T, F, H = 6, 3, 5
V = 20  # the embedding model's vocabulary


def main(out: str, flavour: str) -> None:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if flavour == "tf_keras":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    if flavour == "tf_keras":
        import tf_keras as keras
    else:
        import keras
    L = keras.layers
    rng = np.random.default_rng(12)
    x = rng.uniform(-1, 1, (1, T, F)).astype(np.float32)

    # token ids as Keras takes them by default: float32 values (cast to integers inside)
    ids = rng.integers(0, V, (1, T)).astype(np.float32)

    def export(name, build, token_ids=False):
        shape = (T,) if token_ids else (T, F)
        inp = keras.Input(shape, batch_size=1, name="x")
        model = keras.Model(inp, build(inp))
        for layer in model.layers:
            ws = layer.get_weights()
            layer.set_weights([rng.uniform(-0.6, 0.6, w.shape).astype(np.float32) for w in ws])
        spec = (tf.TensorSpec((1,) + shape, tf.float32, name="x"),)
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=17,
                                   output_path=os.path.join(out, f"{name}.onnx"))
        xin = ids if token_ids else x
        np.save(os.path.join(out, f"{name}_x.npy"), xin)
        np.save(os.path.join(out, f"{name}_y.npy"), np.asarray(model(xin)))

    seq = {"return_sequences": True}
    # an embedding on Keras's default float32 input (tf2onnx: Cast, then Gather; Keras 3 adds
    # its negative-index wrap, Less / Add / a select, in front of the Gather)
    export("embedding_lstm", lambda i: L.LSTM(H)(L.Embedding(V, F)(i)), token_ids=True)
    if flavour == "keras3":
        export("lstm", lambda i: L.LSTM(H, **seq)(i))
        export("gru", lambda i: L.GRU(H, **seq)(i))  # reset_after=True
        export("gru_reset_before", lambda i: L.GRU(H, reset_after=False, **seq)(i))
        export("simplernn", lambda i: L.SimpleRNN(H, **seq)(i))
        export("bilstm", lambda i: L.Bidirectional(L.LSTM(H, **seq))(i))
        export("stacked", lambda i: L.LSTM(H)(L.LSTM(H, **seq)(i)))
        export("lstm_unroll", lambda i: L.LSTM(H, unroll=True, **seq)(i))
        export("lstm_dense", lambda i: L.Dense(2)(L.LSTM(H, **seq)(i)))
        # activations other than the defaults: the ONNX operators' activations attribute
        export("lstm_relu", lambda i: L.LSTM(H, activation="relu", **seq)(i))
        export("gru_softsign", lambda i: L.GRU(H, activation="softsign", **seq)(i))
        # hard_sigmoid gates (Keras 3: relu6(x + 3) / 6) are no ONNX RNN activation rnngen
        # reads in an unrolled step: a generic graph
        export("lstm_hard_sigmoid",
               lambda i: L.LSTM(H, recurrent_activation="hard_sigmoid", **seq)(i))
        # a convolution front end (issue 11): Conv1D + MaxPooling1D over time, then an LSTM
        export("conv1d_pool_lstm", lambda i: L.LSTM(H, **seq)(L.MaxPooling1D(2)(
            L.Conv1D(4, 3, padding="same", activation="relu")(i))))
        # ... causal (streams: the conv's window and the pool's every other frame are state)
        export("conv1d_causal_lstm", lambda i: L.LSTM(H)(L.MaxPooling1D(2)(
            L.Conv1D(4, 3, padding="causal", activation="relu")(i))))
    else:
        export("lstm_go_backwards", lambda i: L.LSTM(H, go_backwards=True, **seq)(i))
        export("gru_reset_before", lambda i: L.GRU(H, reset_after=False, **seq)(i))
        export("simplernn", lambda i: L.SimpleRNN(H, **seq)(i))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
