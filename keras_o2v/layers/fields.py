"""Feature-rich objects: extra fields, token weights and per-id biases.

A keras_o2v extension (hyperparameters `enc0_fields`, `enc1_fields`,
`enc0_id_bias`, `enc1_id_bias`, `bias_l2`). Each extra field of a side is
pooled into a vector of `enc_dim` that is added to the side's encoding, as
SVD++ adds `|N(u)|^-1/2 * sum(y_j)` to a user's factor; an id bias adds one
learned scalar per id to the regression output.
"""

import keras
from keras import ops

from keras_o2v.api_export import register
from keras_o2v.layers.token_embedding import TokenEmbedding
from keras_o2v.layers.token_embedding import check_positive_int

COMBINERS = ("mean", "sum", "sqrtn")
LOOKUPS = ("gather", "matmul")


def normalise(total, w, combiner):
    """`total` (the weighted sum of a row's vectors) by `combiner`.

    `w`: `(batch, steps)` weights, 0 at padding. A row whose norm is 0
    gives zeros.
    """
    if combiner == "sum":
        return total
    if combiner == "mean":
        norm = ops.sum(w, axis=1, keepdims=True)
    else:
        norm = ops.sqrt(ops.sum(ops.square(w), axis=1, keepdims=True))
    safe = ops.where(ops.equal(norm, 0), ops.ones_like(norm), norm)
    return ops.where(ops.equal(norm, 0), ops.zeros_like(total), total / safe)


def field_lookup(vocab_size, max_seq_len):
    """The faster `FieldEncoder` lookup for a field of these sizes.

    `"matmul"` (see `TokenEmbedding.weighted_sum`) when the vocabulary is
    at most 16 times the longest row and at most 16384 ids (the
    `(batch, vocab_size)` matrix stays small); else `"gather"`. The rule
    picks the faster of the two in every shape `benchmarks/field_lookup.py`
    times (15x on a movie's raters, 944 ids x 480 steps). PyTorch's
    `ops.scatter` loops in Python, so there it is always `"gather"`.
    """
    if keras.backend.backend() == "torch":
        return "gather"
    if vocab_size <= min(16 * max_seq_len, 16384):
        return "matmul"
    return "gather"


@register
class WeightedPooling(keras.layers.Layer):
    """Pools token vectors over time with optional per-token weights.

    With weights `w` (1 where none are given) over the unmasked steps:
    `"sum"` gives `sum(w * v)`, `"mean"` gives `sum(w * v) / sum(w)` and
    `"sqrtn"` gives `sum(w * v) / sqrt(sum(w**2))` (the combiners of
    `tf.nn.embedding_lookup_sparse`; with unit weights `"sqrtn"` is SVD++'s
    `|N|^-1/2` normalisation). A row with nothing to pool (all padding, or
    weights summing to 0 for `"mean"`) gives zeros.

    Args:
        combiner: str. `"mean"` (default), `"sum"` or `"sqrtn"`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, steps, features)` vectors.
        mask: optional `(batch, steps)` bool mask; without one every step
            counts.
        weights: optional `(batch, steps)` float weights.

    Output shape: `(batch, features)`.

    Example:

    ```python
    pool = keras_o2v.layers.WeightedPooling("mean")
    x = np.array([[[1., 2.], [3., 4.], [9., 9.]]])
    pool(x, mask=np.array([[True, True, False]]),
         weights=np.array([[3., 1., 5.]]))  # [[1.5, 2.5]]
    ```
    """

    def __init__(self, combiner="mean", **kwargs):
        if combiner not in COMBINERS:
            raise ValueError(f"`combiner` must be one of {list(COMBINERS)}. "
                             f"Received: combiner={combiner!r}")
        super().__init__(**kwargs)
        self.combiner = combiner
        self.supports_masking = True

    def call(self, inputs, mask=None, weights=None):
        w = ops.ones(ops.shape(inputs)[:2], inputs.dtype)
        if weights is not None:
            w = ops.cast(weights, inputs.dtype)
        if mask is not None:
            w = w * ops.cast(mask, inputs.dtype)
        total = ops.sum(inputs * ops.expand_dims(w, -1), axis=1)
        return normalise(total, w, self.combiner)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "combiner": self.combiner}


@register
class FieldEncoder(keras.layers.Layer):
    """One extra field of an object: a token table pooled to `enc_dim`.

    Ids (0 = padding, masked) are looked up in their own `TokenEmbedding` of
    `enc_dim` columns and pooled by `WeightedPooling`, with the field's
    token weights if it has them. An empty field encodes to zeros, so it
    adds nothing to the side's encoding.

    Args:
        vocab_size: int. Ids of the field, including padding id 0.
        enc_dim: int. Size of the encoding it is added to.
        combiner: str. `"mean"` (default), `"sum"` or `"sqrtn"`.
        weighted: bool. The call takes `weights`. Defaults to False.
        embedding_l2: float. Lazy L2 penalty of the token table. Defaults
            to 0.
        token_embedding: optional `TokenEmbedding` of `(vocab_size,
            enc_dim)` to read instead of a table of its own (an encoder's,
            to tie them). Not part of `get_config`: `Object2Vec` re-ties it
            when rebuilt.
        lookup: str. `"gather"` (default) gathers each id's vector and
            pools them; `"matmul"` multiplies a `(batch, vocab_size)`
            matrix of summed weights by the table
            (`TokenEmbedding.weighted_sum`): the same result, much faster
            for long rows over a small vocabulary (`field_lookup` picks).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        token_ids: `(batch, steps)` int ids.
        weights: `(batch, steps)` float weights, when `weighted`.

    Output shape: `(batch, enc_dim)`.

    Example:

    ```python
    genres = keras_o2v.layers.FieldEncoder(vocab_size=20, enc_dim=8)
    genres(np.array([[3, 7, 0]])).shape  # (1, 8)
    ```
    """

    def __init__(self, vocab_size, enc_dim, combiner="mean", weighted=False,
                 embedding_l2=0.0, token_embedding=None, lookup="gather",
                 **kwargs):
        check_positive_int("vocab_size", vocab_size, minimum=2)
        check_positive_int("enc_dim", enc_dim)
        if lookup not in LOOKUPS:
            raise ValueError(f"`lookup` must be one of {list(LOOKUPS)}. "
                             f"Received: lookup={lookup!r}")
        if token_embedding is not None and (
                token_embedding.vocab_size != vocab_size
                or token_embedding.embedding_dim != enc_dim):
            raise ValueError(
                "A shared `token_embedding` must have `vocab_size` rows of "
                "`enc_dim` columns. Received: token_embedding with "
                f"vocab_size={token_embedding.vocab_size}, embedding_dim="
                f"{token_embedding.embedding_dim}; vocab_size={vocab_size}, "
                f"enc_dim={enc_dim}")
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.enc_dim = enc_dim
        self.combiner = combiner
        self.weighted = bool(weighted)
        self.embedding_l2 = float(embedding_l2)
        self.lookup = lookup
        self.token_embedding = token_embedding or TokenEmbedding(
            vocab_size, enc_dim, l2=embedding_l2, dtype=self.dtype_policy,
            name="token_embedding")
        self.pool = WeightedPooling(combiner, dtype=self.dtype_policy,
                                    name="pool")

    def build(self, input_shape=None):
        self.token_embedding.build(None)
        self.built = True

    def call(self, token_ids, weights=None):
        if self.weighted and weights is None:
            raise ValueError(f"Field encoder {self.name!r} is weighted: "
                             "`weights` must be given.")
        weights = weights if self.weighted else None
        if self.lookup == "matmul":
            total = self.token_embedding.weighted_sum(token_ids, weights)
            if self.combiner == "sum":  # no norm: skip the masked weights
                return total
            w = ops.cast(ops.not_equal(token_ids, 0), self.compute_dtype)
            if weights is not None:
                w = w * ops.cast(weights, self.compute_dtype)
            return normalise(total, w, self.combiner)
        vectors = self.token_embedding(token_ids)
        mask = self.token_embedding.compute_mask(token_ids)
        return self.pool(vectors, mask=mask, weights=weights)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.enc_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "enc_dim": self.enc_dim,
            "combiner": self.combiner,
            "weighted": self.weighted,
            "embedding_l2": self.embedding_l2,
            "lookup": self.lookup,
        }


@register
class IdBias(keras.layers.Layer):
    """A learned scalar per id: the mean bias of a row's non-padding ids.

    For a one-id input (a user, an item) this is that id's bias, as in
    biased matrix factorisation. Biases start at 0 and have their own lazy
    L2 penalty (`l2`, over the rows a batch looks up), apart from the
    embeddings' `embedding_l2`.

    Args:
        vocab_size: int. Ids, including padding id 0.
        l2: float. Lazy L2 penalty of the biases. Defaults to 0.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Input shape: `(batch, steps)` int ids. Output shape: `(batch, 1)`.

    Example:

    ```python
    bias = keras_o2v.layers.IdBias(vocab_size=10)
    bias(np.array([[3], [5]])).shape  # (2, 1), zeros before training
    ```
    """

    def __init__(self, vocab_size, l2=0.0, **kwargs):
        check_positive_int("vocab_size", vocab_size, minimum=2)
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.l2 = float(l2)
        self.table = TokenEmbedding(vocab_size, 1,
                                    embeddings_initializer="zeros", l2=l2,
                                    dtype=self.dtype_policy, name="table")
        self.pool = WeightedPooling("mean", dtype=self.dtype_policy,
                                    name="pool")

    def build(self, input_shape=None):
        self.table.build(None)
        self.built = True

    def call(self, token_ids):
        return self.pool(self.table(token_ids),
                         mask=self.table.compute_mask(token_ids))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size,
                "l2": self.l2}
