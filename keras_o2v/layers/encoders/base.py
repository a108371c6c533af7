"""Shared plumbing of the sequence encoders: token embedding and config."""

import random

import keras

from keras_o2v.layers.token_embedding import TokenEmbedding
from keras_o2v.layers.token_embedding import check_positive_int


class Encoder(keras.layers.Layer):
    """Base class: token ids `(batch, seq_len)` -> encoding `(batch, enc_dim)`.

    Holds the token embedding (`TokenEmbedding`) and the arguments every
    encoder takes; a subclass adds its layers and `call`. `embed(token_ids)`
    returns the token vectors and the padding mask (`ids != 0`): id 0 is
    padding and must never influence the encoding. The output carries no
    mask.

    Adding an encoder: subclass `Encoder`, then make it an `encX_network`
    value with `keras_o2v.layers.register_encoder` (the `knobs` argument
    maps settings such as `encX_layers` to constructor arguments).
    `build_object2vec`, the hyperparameter checks and the tuning space all
    read that registry. A saved model is rebuilt from its hyperparameters,
    so register the encoder before loading one that uses it.

    Args:
        vocab_size: int. Number of token ids, including padding id 0.
        token_embedding_dim: int. Size of the token vectors.
        enc_dim: int. Size of the encoding.
        embedding_l2: float. Lazy L2 penalty of the token embedding (see
            `TokenEmbedding`). Defaults to 0.
        token_embedding: optional `TokenEmbedding` to use instead of a new
            one, to tie the embedding of two encoders. It is not part of
            `get_config`: `Object2Vec` re-ties the encoders when it is rebuilt.
        freezable_rows: bool. Give the token embedding a per-row freeze flag
            (see `TokenEmbedding`), for frozen pretrained vectors. Defaults
            to False.
        seed: int. Seeds the initialisers of the layers a subclass builds
            with `initializer` (not the token embedding). Encoders built with
            the same arguments and seed start with the same weights
            (`build_object2vec` gives both towers one seed). Defaults to
            None: a fresh seed from Python's `random`, as Keras draws its
            own (so `keras.utils.set_random_seed` fixes it).
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Example:

    ```python
    # Masked mean and max of the token vectors, projected to enc_dim.
    class MeanMaxEncoder(keras_o2v.layers.Encoder):
        def __init__(self, vocab_size, token_embedding_dim, enc_dim,
                     **kwargs):
            super().__init__(vocab_size, token_embedding_dim, enc_dim,
                             **kwargs)
            self.mean = keras_o2v.layers.MaskedGlobalAveragePooling1D(
                dtype=self.dtype_policy)
            self.max = keras_o2v.layers.MaskedGlobalMaxPooling1D(
                dtype=self.dtype_policy)
            self.projection = keras.layers.Dense(enc_dim,
                                                 dtype=self.dtype_policy)

        def build(self, input_shape):
            super().build(input_shape)
            self.projection.build((None, 2 * self.token_embedding_dim))

        def call(self, token_ids):
            vectors, mask = self.embed(token_ids)
            pooled = [self.mean(vectors, mask=mask),
                      self.max(vectors, mask=mask)]
            return self.projection(keras.ops.concatenate(pooled, axis=-1))

    keras_o2v.layers.register_encoder("mean_max", MeanMaxEncoder)
    model = keras_o2v.build_object2vec(
        enc0_network="mean_max", enc0_vocab_size=50, enc0_max_seq_len=8,
        enc_dim=16, mlp_dim=16)
    model.predict({"in0": np.array([[3, 4, 0]]),
                   "in1": np.array([[5, 0, 0]])}).shape  # (1, 2)
    ```
    """

    def __init__(self, vocab_size, token_embedding_dim, enc_dim,
                 embedding_l2=0.0, token_embedding=None, freezable_rows=False,
                 seed=None, **kwargs):
        check_positive_int("vocab_size", vocab_size, minimum=2)
        if seed is not None:
            check_positive_int("seed", seed, minimum=0)
        check_positive_int("token_embedding_dim", token_embedding_dim)
        check_positive_int("enc_dim", enc_dim)
        if token_embedding is not None and (
            token_embedding.vocab_size != vocab_size
            or token_embedding.embedding_dim != token_embedding_dim
        ):
            raise ValueError(
                "A shared `token_embedding` must match `vocab_size` and "
                "`token_embedding_dim`. Received: token_embedding with "
                f"vocab_size={token_embedding.vocab_size}, embedding_dim="
                f"{token_embedding.embedding_dim}; vocab_size={vocab_size}, "
                f"token_embedding_dim={token_embedding_dim}"
            )
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.token_embedding_dim = token_embedding_dim
        self.enc_dim = enc_dim
        self.embedding_l2 = embedding_l2
        self.freezable_rows = freezable_rows
        self.seed = new_seed() if seed is None else seed
        self._seed_offset = 0
        self.token_embedding = token_embedding or TokenEmbedding(
            vocab_size, token_embedding_dim, l2=embedding_l2,
            freezable_rows=freezable_rows,
            dtype=self.dtype_policy, name="token_embedding")

    def build(self, input_shape):
        self.token_embedding.build(input_shape)

    def initializer(self, name):
        """A new Keras initialiser `name` with this encoder's next seed.

        Call it in the same order in `__init__` so that encoders with the
        same seed get the same initial weights.
        """
        seed = (self.seed + self._seed_offset) % _SEED_RANGE
        self._seed_offset += 1
        return keras.initializers.get(
            {"class_name": name, "config": {"seed": seed}})

    def embed(self, token_ids):
        """Returns token vectors and the boolean padding mask."""
        return (self.token_embedding(token_ids),
                self.token_embedding.compute_mask(token_ids))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.enc_dim)

    @classmethod
    def from_config(cls, config):
        if "layers" in config:
            # Configs saved before `layers` was renamed `num_layers`.
            config = {**config}
            config["num_layers"] = config.pop("layers")
        return super().from_config(config)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "token_embedding_dim": self.token_embedding_dim,
            "enc_dim": self.enc_dim,
            "embedding_l2": self.embedding_l2,
            "freezable_rows": self.freezable_rows,
            "seed": self.seed,
        }


_SEED_RANGE = 2**31 - 1


def new_seed():
    """A fresh encoder seed from Python's `random` (seeded by
    `keras.utils.set_random_seed`)."""
    return random.randrange(_SEED_RANGE)
