"""Token embedding with id 0 reserved for padding."""

import keras
from keras import ops

from keras_o2v.api_export import register


def check_positive_int(name, value, minimum=1):
    """Raises the standard "`name` must be ..." error for a bad size arg."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )


def _gather_rows(table, token_ids):
    """Rows `token_ids` of the Keras variable `table`."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Gather straight from the variable (a ResourceGather): `ops.take`
        # reads the whole table first, and once the table has had a sparse
        # update TensorFlow copies it on every such read, so step time would
        # grow with the vocabulary. The gradient is `tf.IndexedSlices` either
        # way.
        return tf.gather(table.value, token_ids)
    # JAX and PyTorch gradients of a gather are dense tables anyway.
    return ops.take(table, token_ids, axis=0)


@register
class TokenEmbedding(keras.layers.Layer):
    """Maps integer token ids to vectors; id 0 is padding.

    Id 0 is reserved for padding: every encoder ignores positions holding 0
    (the mask is `ids != 0`), so a sequence padded with trailing zeros encodes
    exactly like the unpadded one. Row 0 of the table exists but never reaches
    an encoder output.

    Args:
        vocab_size: int. Number of ids, including the padding id 0.
        embedding_dim: int. Size of each token vector.
        embeddings_initializer: initializer for the table. Defaults to
            `"uniform"` (Keras' `Embedding` default).
        l2: float. Lazy L2 penalty: adds `l2 * sum(v**2)` over the vectors
            that a batch looks up (padding excluded), averaged over the batch,
            to the loss. Unlike weight decay on the whole table, rows absent
            from a batch are left alone, so rare ids are not shrunk towards 0
            every step. Defaults to 0 (off).
        freezable_rows: bool. If True, the layer holds a non-trainable
            per-row flag `row_trainable` (1 = learns, 0 = frozen); frozen
            rows get no gradient. `set_pretrained` freezes the rows it loads
            from a pretrained file, leaving the other rows (OOV words)
            trainable. Defaults to False.

    Input shape: `(batch, seq_len)` int ids. Output shape:
    `(batch, seq_len, embedding_dim)`, with mask `(batch, seq_len)`.

    Example:

    ```python
    layer = keras_o2v.layers.TokenEmbedding(vocab_size=10, embedding_dim=4)
    vectors = layer(np.array([[3, 5, 0]]))  # (1, 3, 4); position 2 masked
    ```
    """

    def __init__(self, vocab_size, embedding_dim,
                 embeddings_initializer="uniform", l2=0.0,
                 freezable_rows=False, **kwargs):
        check_positive_int("vocab_size", vocab_size, minimum=2)
        check_positive_int("embedding_dim", embedding_dim)
        if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 < 0:
            raise ValueError(f"`l2` must be a number >= 0. Received: l2={l2!r}")
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer)
        self.l2 = float(l2)
        self.freezable_rows = bool(freezable_rows)
        self.supports_masking = True

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.vocab_size, self.embedding_dim),
            initializer=self.embeddings_initializer,
            autocast=False,  # `call` casts the gathered rows instead
        )
        if self.freezable_rows:
            self.row_trainable = self.add_weight(
                name="row_trainable", shape=(self.vocab_size,),
                initializer="ones", trainable=False)
        self.built = True

    def set_pretrained(self, matrix, pretrained_rows, freeze=True):
        """Loads a `(vocab_size, embedding_dim)` matrix into the table.

        Args:
            matrix: array of the table's shape.
            pretrained_rows: bool array `(vocab_size,)`: rows that came from
                a pretrained file.
            freeze: bool. Freeze those rows (needs `freezable_rows=True`).
        """
        if not self.built:
            self.build()
        matrix = ops.convert_to_numpy(matrix)
        if tuple(matrix.shape) != (self.vocab_size, self.embedding_dim):
            raise ValueError(
                "`matrix` must have shape (vocab_size, embedding_dim) = "
                f"{(self.vocab_size, self.embedding_dim)}. Received: "
                f"matrix.shape={tuple(matrix.shape)}")
        if freeze and not self.freezable_rows:
            raise ValueError("`freeze=True` needs a layer built with "
                             "`freezable_rows=True`. Received: "
                             "freezable_rows=False")
        self.embeddings.assign(matrix)
        if self.freezable_rows:
            trainable = 1.0 - ops.convert_to_numpy(pretrained_rows).astype(
                "float32") if freeze else ops.ones((self.vocab_size,))
            self.row_trainable.assign(trainable)

    def call(self, token_ids):
        if not self.built:
            self.build()
        token_ids = ops.cast(token_ids, "int32")
        vectors = _gather_rows(self.embeddings, token_ids)
        vectors = ops.cast(vectors, self.compute_dtype)
        if self.freezable_rows:
            # Same values; the gradient only reaches rows flagged trainable.
            keep = ops.expand_dims(
                ops.take(self.row_trainable, token_ids, axis=0), -1)
            keep = ops.cast(keep, vectors.dtype)
            vectors = (vectors * keep
                       + ops.stop_gradient(vectors) * (1 - keep))
        if self.l2:
            keep = ops.cast(ops.not_equal(token_ids, 0), vectors.dtype)
            squares = ops.sum(ops.square(vectors), axis=-1) * keep
            penalty = ops.mean(ops.sum(squares, axis=-1))
            self.add_loss(ops.cast(self.l2, penalty.dtype) * penalty)
        return vectors

    def weighted_sum(self, token_ids, weights=None):
        """`sum_j w_j * v_j` over each row's non-padding ids, by a matmul.

        The same as summing `call`'s vectors times `weights` (1 where
        `None`), with the same lazy L2 penalty, but computed as a
        `(batch, vocab_size)` matrix of summed weights times the table. For
        a long row over a small vocabulary (a movie's raters) that is much
        faster than gathering `(batch, steps, embedding_dim)` vectors and
        their gradient (`benchmarks/field_lookup.py`). `FieldEncoder` picks
        it by its `lookup` argument.

        Args:
            token_ids: `(batch, steps)` int ids, 0 for padding.
            weights: optional `(batch, steps)` float weights.

        Returns:
            `(batch, embedding_dim)` in the layer's compute dtype.
        """
        if not self.built:
            self.build()
        token_ids = ops.cast(token_ids, "int32")
        dtype = self.compute_dtype
        keep = ops.cast(ops.not_equal(token_ids, 0), dtype)
        w = keep if weights is None else ops.cast(weights, dtype) * keep
        batch, steps = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        rows = ops.repeat(ops.arange(batch, dtype="int32"), steps)
        index = ops.stack([rows, ops.reshape(token_ids, (-1,))], axis=1)
        shape = (batch, self.vocab_size)
        table = ops.cast(self.embeddings, dtype)
        if self.freezable_rows:
            flag = ops.expand_dims(ops.cast(self.row_trainable, dtype), -1)
            table = table * flag + ops.stop_gradient(table) * (1 - flag)
        total = ops.matmul(ops.scatter(index, ops.reshape(w, (-1,)), shape),
                           table)
        if self.l2:
            # Each looked-up row's squared norm, once per occurrence.
            counts = ops.scatter(index, ops.reshape(keep, (-1,)), shape)
            squares = ops.sum(ops.square(table), axis=-1)
            penalty = ops.mean(ops.matmul(counts, squares))
            self.add_loss(ops.cast(self.l2, penalty.dtype) * penalty)
        return total

    def compute_mask(self, token_ids, mask=None):
        return ops.not_equal(token_ids, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "embeddings_initializer": keras.initializers.serialize(
                self.embeddings_initializer),
            "l2": self.l2,
            "freezable_rows": self.freezable_rows,
        }
