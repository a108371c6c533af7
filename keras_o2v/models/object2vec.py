"""The Object2Vec model and its `build_object2vec` factory."""

import keras

from keras_o2v.api_export import register
from keras_o2v.hyperparameters import ENCODERS
from keras_o2v.hyperparameters import input_keys
from keras_o2v.hyperparameters import is_weights_key
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.hyperparameters import weights_key
from keras_o2v.layers import MLP
from keras_o2v.layers import Comparator
from keras_o2v.layers import FieldEncoder
from keras_o2v.layers import IdBias
from keras_o2v.layers.fields import field_lookup
from keras_o2v.layers.encoders.base import new_seed
from keras_o2v.optimizers import LAZY_OPTIMIZERS

_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adagrad": keras.optimizers.Adagrad,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adadelta": keras.optimizers.Adadelta,
}

# SageMaker's metric names for each `output_layer`, and their Keras metrics:
# what the model reports and training logs as `#quality_metric`.
SAGEMAKER_METRICS = {
    "softmax": {
        "accuracy": keras.metrics.SparseCategoricalAccuracy,
        "cross_entropy": keras.metrics.SparseCategoricalCrossentropy,
    },
    "mean_squared_error": {
        "mean_squared_error": keras.metrics.MeanSquaredError,
        "root_mean_squared_error": keras.metrics.RootMeanSquaredError,
        "mean_absolute_error": keras.metrics.MeanAbsoluteError,
    },
}


def make_encoder(hp, prefix, name, token_embedding=None, seed=None):
    """Builds the encoder that `hp` (resolved) describes for `prefix`.

    The registry entry of `hp["<prefix>_network"]` (`ENCODERS`) gives the
    layer class and which `<prefix>_*` settings it takes as which argument.
    `seed` seeds its initialisers (see `keras_o2v.layers.Encoder`).
    """
    entry = ENCODERS[hp[f"{prefix}_network"]]
    knobs = {argument: hp[f"{prefix}_{setting}"]
             for setting, argument in entry.knobs.items()}
    return entry.layer_class()(
        vocab_size=hp[f"{prefix}_vocab_size"],
        token_embedding_dim=hp[f"{prefix}_token_embedding_dim"],
        enc_dim=hp["enc_dim"],
        embedding_l2=hp["embedding_l2"],
        token_embedding=token_embedding,
        # Frozen pretrained vectors freeze only the rows found in the file.
        freezable_rows=bool(hp[f"{prefix}_pretrained_embedding_file"]
                            and hp[f"{prefix}_freeze_pretrained_embedding"]),
        seed=seed,
        name=name,
        **knobs,
    )


def make_encoders(hp):
    """Encoders 0 and 1 for `hp` (resolved), sharing what `hp` ties.

    With `tied_encoder_weights` both are the same layer; with
    `tied_token_embedding_weight` encoder 1 reuses encoder 0's token table.
    Both get one seed, so two towers of one network start with the same
    weights: their encodings start in one space, where `hadamard` and
    `abs_diff` compare like with like. Two independently drawn towers must
    first learn to align, which a small data set does not teach (STS-B's
    two `bilstm` towers: Pearson 0.39 with independent draws, 0.65 with one
    seed; examples/README.md).
    """
    seed = new_seed()
    encoder0 = make_encoder(hp, "enc0", "encoder0", seed=seed)
    if hp["tied_encoder_weights"]:
        return encoder0, encoder0
    shared = (encoder0.token_embedding
              if hp["tied_token_embedding_weight"] else None)
    return encoder0, make_encoder(hp, "enc1", "encoder1",
                                  token_embedding=shared, seed=seed)


def make_field_encoders(hp, side, shared=None, encoders=None):
    """`{record key: FieldEncoder}` of the extra fields of `side` ("in0").

    `shared` (side 0's, with `tied_encoder_weights`) is reused under side 1's
    keys: the fields are then the same layers, as the encoders are.
    `encoders` (`(encoder0, encoder1)`) lends its token tables to fields
    declared with `"embedding": "in0"` or `"in1"`.
    """
    fields = hp[f"enc{side[-1]}_fields"]
    if shared is not None:
        return {f"{side}_{f['name']}": shared[f"in0_{f['name']}"]
                for f in fields}
    layers = {}
    for f in fields:
        table = None
        if f.get("embedding"):
            table = encoders[int(f["embedding"][-1])].token_embedding
        layers[f"{side}_{f['name']}"] = FieldEncoder(
            f["vocab_size"], hp["enc_dim"], combiner=f["combiner"],
            weighted=f["weighted"],
            embedding_l2=(hp["embedding_l2"] if f.get("l2") is None
                          else f["l2"]),
            token_embedding=table,
            lookup=field_lookup(f["vocab_size"], f["max_seq_len"]),
            name=f"{side}_{f['name']}_encoder")
    return layers


def encode_side(encoder, field_encoders, inputs, side, activation="linear",
                training=None):
    """A side's encoding: its encoder's, plus each extra field's.

    Args:
        encoder: the side's encoder layer.
        field_encoders: `make_field_encoders` of the side.
        inputs: dict holding `side` and its fields' keys (`in0_genres`,
            `in0_genres_weights`).
        activation: str. The side's `encX_activation`, applied to the sum.
    """
    encoding = encoder(inputs[side], training=training)
    for key, layer in field_encoders.items():
        weights = inputs[weights_key(key)] if layer.weighted else None
        encoding = encoding + layer(inputs[key], weights)
    if activation == "linear":
        return encoding
    return keras.activations.get(activation)(encoding)


def field_inputs(hp, side):
    """`keras.Input`s of the extra fields of `side`, by record key."""
    return {key: keras.Input((None,), name=key, dtype="float32"
                             if is_weights_key(key) else "int32")
            for key in input_keys(hp, (side,))[1:]}


@register
class Object2Vec(keras.Model):
    """Object2Vec: two encoders, a comparator, an MLP and an output layer.

    A functional model with inputs `in0` and `in1` (int32 token ids, shape
    `(batch, None)`, 0 = padding) and, for `output_layer="softmax"`,
    probabilities over `num_classes`, or for `"mean_squared_error"` one
    regression value per pair, shape `(batch, 1)`.

    Feature-rich objects (`enc0_fields`, `enc1_fields`): one more input per
    extra field (`in0_genres`, and float32 `in0_genres_weights` for a
    weighted one), each pooled by a `FieldEncoder` layer
    (`in0_genres_encoder`) whose output is added to its side's encoding;
    `encode(side, inputs)` gives that sum. With `encX_id_bias`, an `IdBias`
    layer (`in0_bias`) adds a learned scalar per id to the regression
    output. `encX_activation` applies to that sum.

    The encoders are the layers `encoder0` and `encoder1` (also the properties
    of the same names): call them on ids to get embeddings. With
    `tied_encoder_weights` there is one layer, `encoder0`, and the property
    `encoder1` returns it. Dropout (rate `dropout`) is applied to both
    encodings before the comparator and after each MLP layer.

    The config is the resolved hyperparameter dict: the model is rebuilt from
    it on load (so tied embeddings stay tied), and pretrained or learned
    weights come from the weights file.

    Args:
        hyperparameters: dict. SageMaker-named hyperparameters, strings or
            typed values (see `keras_o2v.hyperparameters`).
    """

    def __init__(self, hyperparameters, **kwargs):
        hp = resolve_hyperparameters(hyperparameters)
        # === Layers ===
        encoder0, encoder1 = make_encoders(hp)
        encoding_dropout = keras.layers.Dropout(hp["dropout"],
                                                name="encoding_dropout")
        comparator = Comparator(hp["comparator_list"], name="comparator")
        mlp = MLP(hp["mlp_layers"], hp["mlp_dim"], hp["mlp_activation"],
                  hp["dropout"], name="mlp")
        if hp["output_layer"] == "softmax":
            head = keras.layers.Dense(hp["num_classes"], activation="softmax",
                                      dtype="float32", name="output")
        else:
            head = keras.layers.Dense(1, dtype="float32", name="output")

        fields0 = make_field_encoders(hp, "in0",
                                      encoders=(encoder0, encoder1))
        fields1 = make_field_encoders(
            hp, "in1", fields0 if hp["tied_encoder_weights"] else None,
            encoders=(encoder0, encoder1))
        biases = [
            IdBias(hp[f"enc{i}_vocab_size"], l2=hp["bias_l2"],
                   dtype="float32", name=f"in{i}_bias")
            if hp[f"enc{i}_id_bias"] else None for i in (0, 1)]

        # === Functional Model ===
        inputs = {"in0": keras.Input((None,), dtype="int32", name="in0"),
                  "in1": keras.Input((None,), dtype="int32", name="in1"),
                  **field_inputs(hp, "in0"), **field_inputs(hp, "in1")}
        x = comparator(
            encoding_dropout(encode_side(encoder0, fields0, inputs, "in0",
                                         hp["enc0_activation"])),
            encoding_dropout(encode_side(encoder1, fields1, inputs, "in1",
                                         hp["enc1_activation"])))
        outputs = head(mlp(x))
        for side, bias in zip(("in0", "in1"), biases):
            if bias is not None:
                outputs = outputs + bias(inputs[side])
        kwargs.setdefault("name", "object2vec")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.hyperparameters = hp

    @property
    def encoder0(self):
        return self.get_layer("encoder0")

    @property
    def encoder1(self):
        if self.hyperparameters["tied_encoder_weights"]:
            return self.encoder0  # one layer serves both inputs
        return self.get_layer("encoder1")

    def field_encoders(self, side):
        """`{record key: FieldEncoder}` of the extra fields of `side`."""
        return {f"{side}_{f['name']}": self.get_layer(
                    f"{self._field_side(side)}_{f['name']}_encoder")
                for f in self.hyperparameters[f"enc{side[-1]}_fields"]}

    def _field_side(self, side):
        return "in0" if self.hyperparameters["tied_encoder_weights"] else side

    def encode(self, side, inputs, training=False):
        """Embeddings of one side (`"in0"` or `"in1"`), in inference mode
        unless `training`.

        `inputs` holds `side` and, for feature-rich objects, the side's
        extra fields (`in0_genres`, ...): the encoder's output plus each
        field's, as the model compares them. `training=True` serves custom
        training loops that encode each side once (the model's `dropout`
        on the encodings stays the caller's).
        """
        encoder = self.encoder0 if side == "in0" else self.encoder1
        return encode_side(encoder, self.field_encoders(side), inputs, side,
                           self.hyperparameters[f"enc{side[-1]}_activation"],
                           training=training)

    def pair_scores(self, inputs):
        """The output for each pair `(in0[i], in1[i])`, in inference mode.

        What inference, batch prediction and the serving signature call on
        any keras_o2v model: here the model's own output; a
        `RetrievalModel`, whose call scores a batch against itself, gives
        each pair's similarity.
        """
        return self(inputs, training=False)

    def get_config(self):
        # Not the functional config: __init__ rebuilds the graph from hp.
        return {"name": self.name, "hyperparameters": dict(self.hyperparameters)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def compile_from_config(self, config):
        super().compile_from_config(config)
        # `load_model` rebuilds the optimizer without its exclusions.
        exclude_frozen_from_weight_decay(self)


def exclude_frozen_from_weight_decay(model):
    """Decoupled weight decay would shrink frozen pretrained rows."""
    frozen = [encoder.token_embedding.embeddings
              for encoder in (model.encoder0, model.encoder1)
              if encoder.token_embedding.freezable_rows]
    if frozen and getattr(model.optimizer, "weight_decay", None):
        model.optimizer.exclude_from_weight_decay(var_list=frozen)


def check_storage_type(hp):
    """Raises unless the backend can do what `token_embedding_storage_type`
    asks: lazy row updates need TensorFlow's sparse (`IndexedSlices`)
    gradients; JAX and PyTorch give a dense gradient for the whole table."""
    storage = hp["token_embedding_storage_type"]
    backend = keras.backend.backend()
    if storage == "row_sparse" and backend != "tensorflow":
        raise ValueError(
            "`token_embedding_storage_type='row_sparse'` (lazy row updates) "
            "needs the TensorFlow backend, whose gradients of a token table "
            f"are sparse; the {backend} backend's are dense. Use "
            "token_embedding_storage_type='dense' (the default), or run with "
            "KERAS_BACKEND=tensorflow. Received: "
            f"token_embedding_storage_type={storage!r} with "
            f"KERAS_BACKEND={backend!r}")


def make_optimizer(hp):
    """The optimizer named by `hp["optimizer"]` with lr and weight decay.

    Keras applies `weight_decay` decoupled from the gradient (AdamW style):
    each step subtracts `learning_rate * weight_decay * w`. With
    `token_embedding_storage_type="row_sparse"` it is the lazy variant from
    `keras_o2v.optimizers` (`LazyAdam`...): token tables get sparse row
    updates, decay included; the other weights are updated as in Keras.
    That needs the TensorFlow backend: on JAX and PyTorch it raises a
    `ValueError` (see `check_storage_type`).
    """
    check_storage_type(hp)
    if hp["token_embedding_storage_type"] == "row_sparse":
        optimizers = LAZY_OPTIMIZERS
    else:
        optimizers = _OPTIMIZERS
    return optimizers[hp["optimizer"]](
        learning_rate=hp["learning_rate"],
        weight_decay=hp["weight_decay"] or None,
    )


def jit_compile_for(hp):
    """`jit_compile` to compile a model of `hp` with: `"auto"`, but `False`
    on the TensorFlow backend when an input or field is a sequence.

    XLA compiles one program per input shape, and every channel pads each
    batch to its own longest row, so sequences arrive in many shapes. Keras'
    `"auto"` turns XLA on for TensorFlow on one GPU, which would then wait
    on a compilation for each new pair of widths: on 2 CPU cores, 300 steps
    of a pooled model over 17 (in0, in1) widths took 46.3 s with XLA and
    7.1 s without (`benchmarks/xla_widths.py`). One-token inputs have one
    shape and keep `"auto"`; JAX always compiles. With fixed-length
    sequences, set `model.jit_compile = True`.
    """
    if keras.backend.backend() != "tensorflow":
        return "auto"
    lengths = [hp["enc0_max_seq_len"], hp["enc1_max_seq_len"]] + [
        field["max_seq_len"] for side in ("enc0", "enc1")
        for field in hp[f"{side}_fields"]]
    return "auto" if max(lengths) <= 1 else False


def compile_object2vec(model):
    """Compiles with the optimizer, loss and SageMaker-named metrics
    (`jit_compile` from `jit_compile_for`)."""
    hp = model.hyperparameters
    loss = (keras.losses.SparseCategoricalCrossentropy()
            if hp["output_layer"] == "softmax"
            else keras.losses.MeanSquaredError())
    metrics = [metric(name=name) for name, metric in
               SAGEMAKER_METRICS[hp["output_layer"]].items()]
    model.compile(optimizer=make_optimizer(hp), loss=loss, metrics=metrics,
                  jit_compile=jit_compile_for(hp))
    exclude_frozen_from_weight_decay(model)
    return model


def build_object2vec(hyperparameters=None, *, compile=True, **kwargs):
    """Builds (and by default compiles) an `Object2Vec` model.

    Args:
        hyperparameters: optional dict of SageMaker-named hyperparameters;
            strings such as `{"enc_dim": "64", "enc0_layers": "auto"}` work.
        compile: bool. Compile with the configured optimizer, loss and
            metrics. Defaults to `True`.
        **kwargs: more hyperparameters, overriding `hyperparameters`.

    Example:

    ```python
    # (user id, movie id) -> rating, as in SageMaker's MovieLens notebook.
    model = keras_o2v.build_object2vec(
        enc0_network="pooled_embedding", enc0_vocab_size=944,
        enc0_max_seq_len=1, enc1_network="pooled_embedding",
        enc1_vocab_size=1684, enc1_max_seq_len=1, enc_dim=64,
        output_layer="mean_squared_error")
    rng = np.random.default_rng(0)
    pairs = {"in0": rng.integers(1, 944, size=(256, 1)),
             "in1": rng.integers(1, 1684, size=(256, 1))}
    ratings = rng.integers(1, 6, size=256).astype("float32")
    model.fit(pairs, ratings, batch_size=64, epochs=1)
    model.predict(pairs).shape  # (256, 1)
    ```

    `keras_o2v.training.train` does the same from JSON Lines files, with
    SageMaker's early stopping and output folder.
    """
    merged = {**(hyperparameters or {}), **kwargs}
    # Before building: fail fast, also with `compile=False`.
    check_storage_type(resolve_hyperparameters(merged))
    model = Object2Vec(merged)
    return compile_object2vec(model) if compile else model
