"""Field lookups: gather-and-pool against one matrix product.

A feature-rich object's field (`keras_o2v.layers.FieldEncoder`) pools the
vectors of its ids. `lookup="gather"` gathers `(batch, steps, enc_dim)`
vectors and pools them; `lookup="matmul"` multiplies a `(batch,
vocab_size)` matrix of summed weights by the table
(`TokenEmbedding.weighted_sum`). `field_lookup` picks between them from the
field's sizes. This script times a training step's forward and backward
pass (weighted sum, lazy L2) of both on random ids for a few (vocab_size,
steps) shapes, checks that they agree, and prints what `field_lookup`
picks.

    python benchmarks/field_lookup.py

Prints a table and, last, one JSON line.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# (vocab_size, steps): a movie's raters, a user's history, short fields,
# a text field over a large vocabulary.
SHAPES = ((944, 480), (1683, 300), (1683, 20), (64, 4), (10000, 50))


def time_step(layer, ids, weights, repeats):
    """Milliseconds of one forward and backward pass, and the output."""
    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            out = layer(ids, weights)
            loss = tf.reduce_sum(tf.sigmoid(out)) + tf.add_n(layer.losses)
        grad = tape.gradient(loss, layer.token_embedding.embeddings.value)
        return out, tf.convert_to_tensor(grad)

    out, _ = step()  # trace
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats * 1000, out.numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    import numpy as np

    from keras_o2v.layers import FieldEncoder
    from keras_o2v.layers.fields import field_lookup

    rng = np.random.default_rng(0)
    rows = []
    print(f"{'vocab':>6} {'steps':>6} {'gather ms':>10} {'matmul ms':>10} "
          f"{'speed-up':>9}  picked")
    for vocab, steps in SHAPES:
        ids = rng.integers(1, vocab, (args.batch, steps)).astype("int32")
        weights = rng.uniform(1, 5, (args.batch, steps)).astype("float32")
        times, outputs = {}, {}
        for lookup in ("gather", "matmul"):
            layer = FieldEncoder(vocab, args.dim, combiner="sum",
                                 weighted=True, embedding_l2=0.01,
                                 lookup=lookup)
            layer.build()
            if outputs:  # the same table for both
                layer.token_embedding.embeddings.assign(table)
            table = layer.token_embedding.embeddings.numpy()
            times[lookup], outputs[lookup] = time_step(
                layer, ids, weights, args.repeats)
        np.testing.assert_allclose(outputs["matmul"], outputs["gather"],
                                   rtol=1e-4, atol=1e-4)
        picked = field_lookup(vocab, steps)
        speedup = times["gather"] / times["matmul"]
        print(f"{vocab:>6} {steps:>6} {times['gather']:>10.1f} "
              f"{times['matmul']:>10.1f} {speedup:>8.1f}x  {picked}")
        rows.append({"vocab_size": vocab, "steps": steps,
                     "gather_ms": round(times["gather"], 2),
                     "matmul_ms": round(times["matmul"], 2),
                     "speedup": round(speedup, 2), "picked": picked})
    print(json.dumps({"benchmark": "field_lookup", "batch": args.batch,
                      "dim": args.dim, "shapes": rows}))


if __name__ == "__main__":
    main()
