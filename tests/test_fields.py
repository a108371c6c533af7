"""Feature-rich objects end to end: hyperparameters, records, batches,
negative sampling, the model, training and inference."""

import json

import numpy as np
import pytest
from keras import ops

import keras_o2v
from keras_o2v.batch_predict import predict_file
from keras_o2v.data import FieldSpec
from keras_o2v.data import InputSpec
from keras_o2v.data import JsonlChannel
from keras_o2v.data import RecordSpec
from keras_o2v.data import read_records
from keras_o2v.data.negative_sampling import make_negatives
from keras_o2v.data.records import Records
from keras_o2v.hyperparameters import resolve_hyperparameters
from keras_o2v.hyperparameters import to_sagemaker_strings
from keras_o2v.inference import embed
from keras_o2v.inference import embed_file
from keras_o2v.inference import predict
from keras_o2v.training import train

FIELDS0 = [{"name": "hist", "vocab_size": 12, "max_seq_len": 3,
            "weighted": True, "combiner": "sqrtn"}]
FIELDS1 = [{"name": "meta", "vocab_size": 8, "max_seq_len": 4}]
HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 10,
      "enc0_max_seq_len": 1, "enc1_network": "pooled_embedding",
      "enc1_vocab_size": 12, "enc1_max_seq_len": 1, "enc_dim": 8,
      "mlp_layers": 0, "comparator_list": "hadamard",
      "output_layer": "mean_squared_error", "enc0_fields": FIELDS0,
      "enc1_fields": FIELDS1, "enc0_id_bias": True, "enc1_id_bias": True,
      "bias_l2": 0.01, "mini_batch_size": 16}
SPEC = RecordSpec.from_hyperparameters(resolve_hyperparameters(HP))


def record(label=3.0, user=1, hist=(4, 5), weights=(1.0, 0.5), item=2,
           meta=(1,)):
    return {"label": label, "in0": [user], "in0_hist": list(hist),
            "in0_hist_weights": list(weights), "in1": [item],
            "in1_meta": list(meta)}


# === Hyperparameters ===

def test_fields_resolve_with_defaults_and_round_trip():
    hp = resolve_hyperparameters(HP)
    assert hp["enc1_fields"] == [{"name": "meta", "vocab_size": 8,
                                  "max_seq_len": 4, "weighted": False,
                                  "combiner": "mean", "l2": None,
                                  "embedding": None}]
    assert resolve_hyperparameters(hp) == hp
    # SageMaker's string map carries them as JSON text.
    strings = to_sagemaker_strings(hp)
    assert json.loads(strings["enc0_fields"])[0]["combiner"] == "sqrtn"
    assert resolve_hyperparameters(strings) == hp
    plain = resolve_hyperparameters(enc0_vocab_size=5, enc0_max_seq_len=2)
    assert plain["enc0_fields"] == [] and not plain["enc0_id_bias"]


@pytest.mark.parametrize("value,why", [
    ('[{"name": "x"', "not JSON"),
    ({"name": "x"}, "not a list"),
    ([{"name": "x", "vocab_size": 5, "size": 3}], r"unknown keys \['size'\]"),
    ([{"name": "Bad", "vocab_size": 5}], "`name` must be lower-case"),
    ([{"name": "x_weights", "vocab_size": 5}], "not ending in 'weights'"),
    ([{"name": "x", "vocab_size": 5}, {"name": "x", "vocab_size": 6}],
     "name 'x' repeats"),
    ([{"name": "x", "vocab_size": 1}], r"`vocab_size` must be an integer in "
                                       r"\[2, 3000000\]"),
    ([{"name": "x", "vocab_size": 5, "combiner": "max"}],
     "`combiner` must be one of"),
    ([{"name": "x", "vocab_size": 5, "weighted": "yes"}],
     "`weighted` must be true or false"),
    ([{"name": "x", "vocab_size": 5, "l2": -1}], "`l2` must be null or"),
    ([{"name": "x", "vocab_size": 5, "embedding": "in2"}],
     "`embedding` must be null, 'in0' or 'in1'"),
])
def test_bad_fields_say_what_is_valid(value, why):
    with pytest.raises(ValueError, match=r"^`enc0_fields` must be a list of "
                       r"field objects such as .*; .*" + why):
        resolve_hyperparameters(enc0_vocab_size=5, enc0_max_seq_len=2,
                                enc0_fields=value)


def test_id_bias_needs_regression_and_tied_towers_need_equal_fields():
    with pytest.raises(ValueError, match="`enc1_id_bias=True` adds a scalar "
                       "per id to the regression output"):
        resolve_hyperparameters(enc0_vocab_size=5, enc0_max_seq_len=2,
                                enc1_id_bias=True)
    with pytest.raises(ValueError, match="`enc1_fields` must equal "
                       "`enc0_fields`"):
        resolve_hyperparameters(enc0_vocab_size=12, enc0_max_seq_len=2,
                                tied_encoder_weights=True,
                                enc0_fields=FIELDS0)


# === Records ===

def test_read_records_holds_fields_and_aligned_weights(write_jsonl):
    path = write_jsonl([record(hist=(4, 5, 6, 7), weights=(1, 2, 3, 4)),
                        record(hist=(), weights=(), meta=(3, 3))])
    chunk, = read_records(path, SPEC)
    # Ids and weights are cut to the field's max_seq_len (3) together.
    np.testing.assert_array_equal(chunk.extra["in0_hist"].to_padded(),
                                  [[4, 5, 6], [0, 0, 0]])
    weights = chunk.extra["in0_hist_weights"]
    assert weights.values.dtype == np.float32
    np.testing.assert_array_equal(weights.to_padded(), [[1, 2, 3], [0, 0, 0]])
    np.testing.assert_array_equal(chunk.extra["in1_meta"].lengths, [1, 2])


@pytest.mark.parametrize("change,field,message", [
    ({"in0_hist_weights": [1.0]}, "in0_hist_weights",
     "1 weights for 2 ids in `in0_hist`"),
    ({"in0_hist_weights": [1.0, "a"]}, "in0_hist_weights",
     "weight at position 1 is not a finite number: 'a'"),
    ({"in0_hist": [4, 12], "in0_hist_weights": [1, 1]}, "in0_hist",
     "id 12 at position 1 is >= vocab_size=12 \\(set `vocab_size` of field "
     "'hist' in `enc0_fields` to at least 13\\)"),
    ({"in1_genre": [1]}, "in1_genre", "unknown field. The declared fields"),
    ({"in1_meta": None}, "in1_meta", "expected a list of ids"),
])
def test_bad_fields_name_file_line_and_field(write_jsonl, change, field,
                                             message):
    path = write_jsonl([record(), {**record(), **change}])
    with pytest.raises(ValueError, match=f"^{path}, line 2, field "
                       f"`{field}`: {message}"):
        list(read_records(path, SPEC))


def test_missing_field_and_nan_weight(tmp_path):
    path = tmp_path / "a.jsonl"
    good = json.dumps(record())
    missing = dict(record())
    del missing["in1_meta"]
    path.write_text(good + "\n" + json.dumps(missing) + "\n")
    with pytest.raises(ValueError, match=f"^{path}, line 2, field "
                       "`in1_meta`: missing"):
        list(read_records(str(path), SPEC))
    path.write_text(good.replace('"in0_hist_weights": [1.0, 0.5]',
                                 '"in0_hist_weights": [NaN, 0.5]') + "\n")
    with pytest.raises(ValueError, match="line 1, field `in0_hist_weights`: "
                       "NaN is not a JSON number.*one per id of `in0_hist`"):
        list(read_records(str(path), SPEC))


def test_sagemaker_specs_ignore_other_keys(write_jsonl):
    plain = RecordSpec({"in0": InputSpec(10, 1), "in1": InputSpec(12, 1)},
                       "regression")
    chunk, = read_records(write_jsonl([record()]), plain)
    assert chunk.extra == {}


def test_negatives_take_in1_fields_from_the_drawn_record(write_jsonl):
    # Each item has its own meta: a negative's meta must be its item's.
    rows = [record(label=1, user=k % 9 + 1, item=k % 11 + 1,
                   meta=(k % 11 % 7 + 1, k % 11 // 7 + 1),
                   hist=(k % 11 + 1,), weights=(1.0,)) for k in range(40)]
    spec = RecordSpec(SPEC.inputs, "softmax", 2, SPEC.fields)
    chunk = Records.concat(list(read_records(write_jsonl(rows), spec)))
    negatives = make_negatives(chunk, chunk, 2, np.random.default_rng(0))
    assert len(negatives) == 80
    items = negatives.in1.values
    metas = negatives.extra["in1_meta"].to_padded()
    item_meta = dict(zip(chunk.in1.values.tolist(),
                         chunk.extra["in1_meta"].to_padded().tolist()))
    assert all(item_meta[i] == m for i, m in zip(items.tolist(),
                                                 metas.tolist()))
    # in0's fields stay with in0.
    np.testing.assert_array_equal(negatives.extra["in0_hist"].values,
                                  np.repeat(chunk.extra["in0_hist"].values, 2))


def test_channel_batches_hold_every_field(write_jsonl):
    path = write_jsonl([record(hist=(4,) * (k % 3 + 1),
                               weights=(0.5,) * (k % 3 + 1))
                        for k in range(10)])
    channel = JsonlChannel(path, SPEC, 4, shuffle=False)
    x, y = next(iter(channel.as_dataset()))
    assert sorted(x) == ["in0", "in0_hist", "in0_hist_weights", "in1",
                         "in1_meta"]
    assert x["in0_hist_weights"].dtype == "float32"
    assert x["in0_hist"].dtype == "int32" and tuple(y.shape) == (4, 1)
    np.testing.assert_array_equal(x["in0_hist"].numpy()[:, 0], [4] * 4)


# === Model, training, inference ===

@pytest.fixture(scope="module")
def model():
    return keras_o2v.build_object2vec(HP)


def test_model_inputs_encode_and_biases(model):
    x = {"in0": np.array([[1], [2]]), "in1": np.array([[3], [3]]),
         "in0_hist": np.array([[4, 5], [0, 0]]),
         "in0_hist_weights": np.array([[1.0, 2.0], [0, 0]], "float32"),
         "in1_meta": np.array([[1, 2], [1, 2]])}
    assert sorted(model.input_names if hasattr(model, "input_names") else
                  [i.name for i in model.inputs]) == sorted(x)
    hist = model.get_layer("in0_hist_encoder")
    table = ops.convert_to_numpy(hist.token_embedding.embeddings)
    enc = ops.convert_to_numpy(model.encode("in0", x))
    base = ops.convert_to_numpy(model.encoder0(x["in0"]))
    expected = (table[4] + 2 * table[5]) / np.sqrt(5)  # sqrtn, weighted
    np.testing.assert_allclose(enc[0], base[0] + expected, rtol=1e-5)
    np.testing.assert_allclose(enc[1], base[1], rtol=1e-6)  # empty field
    before = ops.convert_to_numpy(model.pair_scores(x))
    model.get_layer("in1_bias").table.embeddings.assign(
        np.full((12, 1), 0.25, "float32"))
    after = ops.convert_to_numpy(model.pair_scores(x))
    np.testing.assert_allclose(after - before, 0.25, atol=1e-6)
    model.get_layer("in1_bias").table.embeddings.assign(
        np.zeros((12, 1), "float32"))


def test_each_field_gets_its_lookup_and_both_encode_alike(model):
    import keras

    matmul = "gather" if keras.backend.backend() == "torch" else "matmul"
    # 12 ids over 3 steps, 8 over 4: small tables, matrix lookup.
    assert model.get_layer("in0_hist_encoder").lookup == matmul
    wide = keras_o2v.build_object2vec(
        {**HP, "enc0_fields": [{**FIELDS0[0], "vocab_size": 200}]})
    assert wide.get_layer("in0_hist_encoder").lookup == "gather"
    x = {"in0": np.array([[1], [2], [3]]), "in1": np.array([[3], [4], [5]]),
         "in0_hist": np.array([[4, 5, 4], [6, 0, 0], [0, 0, 0]]),
         "in0_hist_weights": np.array(
             [[1.0, 2.0, 0.5], [3.0, 0.0, 0.0], [0.0, 0.0, 0.0]], "float32"),
         "in1_meta": np.array([[1, 2, 7, 0], [0, 0, 0, 0], [3, 3, 3, 3]])}
    gathering = keras_o2v.build_object2vec(HP)
    gathering.set_weights(model.get_weights())
    for name in ("in0_hist_encoder", "in1_meta_encoder"):
        gathering.get_layer(name).lookup = "gather"
    for side in ("in0", "in1"):
        np.testing.assert_allclose(
            ops.convert_to_numpy(gathering.encode(side, x)),
            ops.convert_to_numpy(model.encode(side, x)), rtol=1e-5,
            atol=1e-6)


def test_encoding_activation_applies_to_the_whole_side(tmp_path):
    import keras
    import tensorflow as tf

    model = keras_o2v.build_object2vec({**HP, "enc1_activation": "sigmoid"})
    x = {"in0": np.array([[1], [2]]), "in1": np.array([[3], [4]]),
         "in0_hist": np.array([[4, 5], [6, 0]]),
         "in0_hist_weights": np.array([[1.0, 2.0], [3.0, 0.0]], "float32"),
         "in1_meta": np.array([[1, 2], [0, 0]])}
    meta = ops.convert_to_numpy(
        model.get_layer("in1_meta_encoder").token_embedding.embeddings)
    raw = ops.convert_to_numpy(model.encoder1(x["in1"]))
    raw[0] += (meta[1] + meta[2]) / 2  # the field's mean, before the sigmoid
    encoding = ops.convert_to_numpy(model.encode("in1", x))
    np.testing.assert_allclose(encoding, 1 / (1 + np.exp(-raw)), rtol=1e-5)
    # The comparator sees the activated encoding; side 0 stays linear.
    kernel, bias = (ops.convert_to_numpy(w)
                    for w in model.get_layer("output").weights)
    expected = (ops.convert_to_numpy(model.encode("in0", x)) * encoding
                ) @ kernel + bias
    np.testing.assert_allclose(ops.convert_to_numpy(model.pair_scores(x)),
                               expected, rtol=1e-5, atol=1e-6)
    # .keras and SavedModel keep it: the config is the hyperparameters.
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.hyperparameters["enc1_activation"] == "sigmoid"
    np.testing.assert_allclose(ops.convert_to_numpy(loaded.encode("in1", x)),
                               encoding, atol=1e-6)
    exported = tf.saved_model.load(keras_o2v.export_saved_model(
        model, str(tmp_path / "export")))
    vectors = exported.signatures["embed_in1"](**{
        k: tf.constant(v) for k, v in x.items() if k.startswith("in1")})
    np.testing.assert_allclose(vectors["embeddings"].numpy(), encoding,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"`enc0_activation` must be one of "
                       r"\['linear', 'sigmoid', 'tanh', 'relu'\]"):
        resolve_hyperparameters({**HP, "enc0_activation": "softmax"})


def test_save_load_keeps_fields(model, tmp_path):
    import keras

    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = {"in0": np.array([[1]]), "in1": np.array([[3]]),
         "in0_hist": np.array([[4]]),
         "in0_hist_weights": np.array([[2.0]], "float32"),
         "in1_meta": np.array([[5]])}
    np.testing.assert_allclose(ops.convert_to_numpy(loaded.pair_scores(x)),
                               ops.convert_to_numpy(model.pair_scores(x)),
                               atol=1e-6)


def test_train_predict_embed_with_fields(write_jsonl, tmp_path):
    # The rating is the item's meta token: only the in1 field knows it.
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(600):
        meta = int(rng.integers(1, 6))
        rows.append(record(label=float(meta), user=int(rng.integers(1, 10)),
                           item=int(rng.integers(1, 12)), meta=(meta,)))
    path = write_jsonl(rows)
    result = train(path, {**HP, "epochs": 25,
                           "learning_rate": 0.05},
                   validation=path, seed=0, verbose=0, early_stopping=False)
    trained = result.model
    assert result.metrics["validation:root_mean_squared_error"] < 0.5
    scores = predict(trained, [rows[0], rows[1]])
    assert scores.shape == (2, 1)
    assert abs(float(scores[0, 0]) - rows[0]["label"]) < 0.6
    side1 = {k: v for k, v in rows[0].items() if k.startswith("in1")}
    vectors = embed(trained, [side1], channel="in1")
    assert vectors.shape == (1, 8)
    out = str(tmp_path / "e.jsonl")
    assert embed_file(trained, path, out, channel="in1") == 600
    with open(out) as f:
        first = json.loads(f.readline())["embeddings"]
    np.testing.assert_allclose(first, vectors[0], atol=1e-5)
    with pytest.raises(ValueError, match="^instance 0, field `in1_meta`: "
                       "missing"):
        embed(trained, [{"in1": [3]}], channel="in1")
    # Batch prediction (`keras-o2v predict`) calls the model directly.
    out = str(tmp_path / "p.jsonl")
    assert predict_file(trained, path, out) == 600
    with open(out) as f:
        np.testing.assert_allclose(json.loads(f.readline())["scores"],
                                   scores[0], atol=1e-5)


def test_saved_model_signatures_take_the_fields(model, tmp_path):
    import tensorflow as tf

    from keras_o2v.export import signature_inputs

    hp = model.hyperparameters
    assert signature_inputs(hp, "embed_in0") == (
        "in0", "in0_hist", "in0_hist_weights")
    assert signature_inputs(hp, "serving_default") == (
        "in0", "in1", "in0_hist", "in0_hist_weights", "in1_meta")
    path = keras_o2v.export_saved_model(model, str(tmp_path / "export"))
    loaded = tf.saved_model.load(path)
    x = {"in0": np.array([[1], [2]]), "in1": np.array([[3], [4]]),
         "in0_hist": np.array([[4, 5], [6, 0]]),
         "in0_hist_weights": np.array([[1.0, 2.0], [3.0, 0.0]], "float32"),
         "in1_meta": np.array([[1], [2]])}
    signature = loaded.signatures["serving_default"]
    assert signature.structured_input_signature[1][
        "in0_hist_weights"].dtype == tf.float32
    assert signature.structured_input_signature[1]["in0"].dtype == tf.int64
    scores = signature(**{k: tf.constant(v) for k, v in x.items()})["scores"]
    np.testing.assert_allclose(scores.numpy(), ops.convert_to_numpy(
        model.pair_scores(x)), atol=1e-5)
    side0 = {k: tf.constant(v) for k, v in x.items() if k.startswith("in0")}
    vectors = loaded.signatures["embed_in0"](**side0)["embeddings"]
    np.testing.assert_allclose(vectors.numpy(), ops.convert_to_numpy(
        model.encode("in0", x)), atol=1e-5)
    int32 = loaded.signatures["embed_in0_int32"](**{
        k: tf.constant(v if k.endswith("_weights") else v.astype("int32"))
        for k, v in x.items() if k.startswith("in0")})["embeddings"]
    np.testing.assert_allclose(int32.numpy(), vectors.numpy(), atol=1e-6)


def test_serving_predictor_reads_fields(model):
    from keras_o2v.serving.predictor import Predictor

    predictor = Predictor(model)
    predictor.warm_up()
    instance = {k: v for k, v in record().items() if k != "label"}
    batch = predictor.prepare([instance])
    assert batch.signature == "serving_default"
    np.testing.assert_allclose(
        predictor.run(batch), predict(model, [instance]), atol=1e-5)
    side = {k: v for k, v in instance.items() if k.startswith("in1")}
    batch = predictor.prepare_signature("embed_in1", [side])
    np.testing.assert_allclose(predictor.run(batch),
                               embed(model, [side], "in1"), atol=1e-5)


def field_rows(n, label=None, seed=0):
    """Records whose in1 fields are a function of in1 (item 1 + k % 11)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        item = k % 11 + 1
        hist = rng.integers(1, 12, rng.integers(0, 6)).tolist()
        rows.append(record(
            label=float(rng.integers(0, 2)) if label is None else label,
            user=int(rng.integers(1, 10)), hist=hist,
            weights=np.round(rng.random(len(hist)), 3).tolist(), item=item,
            meta=[item % 7 + 1] * (item % 3)))
    return rows


def as_tuples(x, y):
    """One hashable tuple per record of a batch: every input unpadded."""
    out = []
    for i, label in enumerate(np.asarray(y).reshape(len(y), -1)[:, 0]):
        row = [float(label)]
        for key in sorted(x):
            values = np.asarray(x[key])[i]
            if key.endswith("_weights"):
                ids = np.asarray(x[key[:-8]])[i]
                values = np.round(values[ids != 0], 3)
            else:
                values = values[values != 0]
            row.append((key, tuple(values.tolist())))
        out.append(tuple(row))
    return out


def epoch_tuples(dataset):
    return [t for x, y in dataset for t in as_tuples(
        {k: v.numpy() for k, v in x.items()}, y.numpy())]


def test_prepared_data_with_fields_reads_the_json_lines_records(
        write_jsonl, tmp_path):
    from keras_o2v.data.prepared import PreparedChannel
    from keras_o2v.data.prepared import convert

    source = write_jsonl(field_rows(200))
    out = str(tmp_path / "prep")
    manifest = convert(source, out, SPEC, records_per_shard=50,
                       block_records=20, workers=2)
    assert manifest["fields"]["in0_hist"]["weighted"]
    assert manifest["fields"]["in0_hist"]["max_len"] == 5  # stored whole
    jsonl = JsonlChannel(source, SPEC, 32, shuffle=False)
    prepared = PreparedChannel(out, SPEC, 32, shuffle_buffer=64, seed=1)
    assert prepared.element_spec() == jsonl.element_spec()
    got = epoch_tuples(prepared.as_dataset())
    want = epoch_tuples(jsonl.as_dataset())
    assert len(got) == 200
    assert sorted(got) == sorted(want)  # truncated to max_seq_len 3 too
    # A model that reads a field the data lacks is refused before reading.
    other = RecordSpec(SPEC.inputs, "regression", fields={
        **SPEC.fields, "in1_tags": FieldSpec(5, 2)})
    with pytest.raises(ValueError, match="the model reads field `in1_tags`, "
                       "which this data lacks"):
        PreparedChannel(out, other, 32)


def test_bucketing_goes_by_the_longest_field(write_jsonl, tmp_path):
    from keras_o2v.data.prepared import PreparedChannel
    from keras_o2v.data.prepared import convert

    # One-token in0/in1: only the field's length can group the batches.
    spec = RecordSpec({"in0": InputSpec(10, 1), "in1": InputSpec(12, 1)},
                      "regression", fields={"in1_raters": FieldSpec(10, 40)})
    # Lengths 4..43, 16 records each: 10 buckets of 64 records.
    rows = [{"label": 1.0, "in0": [1], "in1": [2],
             "in1_raters": [3] * (4 + i % 40)} for i in range(640)]
    np.random.default_rng(0).shuffle(rows)
    path = write_jsonl(rows)
    jsonl = JsonlChannel(path, spec, batch_size=32, bucket_width=4, seed=0)
    batches = list(jsonl.batches())
    assert sum(len(b) for b in batches) == 640
    # A batch spans at most two adjacent buckets; unbucketed, most span 9.
    assert max(np.ptp(b.extra["in1_raters"].lengths // 4)
               for b in batches) <= 1
    unbucketed = JsonlChannel(path, spec, batch_size=32, seed=0)
    assert np.mean([np.ptp(b.extra["in1_raters"].lengths // 4)
                    for b in unbucketed.batches()]) > 7
    out = str(tmp_path / "p")
    convert(path, out, spec)
    prepared = PreparedChannel(out, spec, batch_size=32, shuffle_buffer=640,
                               bucket_width=4, seed=0, drop_remainder=True)
    widths = []
    for x, _ in prepared.as_dataset():
        lengths = (x["in1_raters"].numpy() != 0).sum(axis=1)
        assert lengths.max() // 4 == lengths.min() // 4
        widths.append(x["in1_raters"].shape[1])
    assert len(widths) == 20 and min(widths) == 7  # short batches pad less


def test_prepared_negatives_carry_in1_fields(write_jsonl, tmp_path):
    from keras_o2v.data.prepared import PreparedChannel
    from keras_o2v.data.prepared import convert

    spec = RecordSpec(SPEC.inputs, "softmax", 2, SPEC.fields)
    out = str(tmp_path / "prep")
    convert(write_jsonl(field_rows(120, label=1)), out, spec)
    channel = PreparedChannel(out, spec, 64, negative_sampling_rate=1,
                              seed=0)
    records = epoch_tuples(channel.as_dataset())
    assert len(records) == 240
    for row in records:
        fields = dict(row[1:])
        item = fields["in1"][0]
        assert fields["in1_meta"] == (item % 7 + 1,) * (item % 3)


def test_field_spec_keys():
    spec = RecordSpec({"in0": InputSpec(5, 1)},
                      fields={"in0_a": FieldSpec(5, 2, weighted=True)})
    assert spec.keys() == ["in0", "in0_a", "in0_a_weights"]


def test_tuning_ranges_of_the_extensions():
    from keras_o2v.tuning.space import make_dimension

    bias = make_dimension("bias_l2", ("1e-4", "1"))
    assert (bias.low, bias.high, bias.log) == (1e-4, 1.0, True)
    assert make_dimension("enc0_id_bias", [True, False]).values == (
        True, False)
    with pytest.raises(ValueError, match="`enc0_fields` cannot be tuned "
                       r"\(it describes the data's fields\)"):
        make_dimension("enc0_fields", [[]])


def test_retrieval_towers_read_fields(write_jsonl, tmp_path):
    import keras

    from keras_o2v.retrieval import RetrievalModel

    hp = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 10,
          "enc0_max_seq_len": 1, "enc1_network": "pooled_embedding",
          "enc1_vocab_size": 12, "enc1_max_seq_len": 1, "enc_dim": 8,
          "enc0_fields": [{"name": "hist", "vocab_size": 12,
                           "max_seq_len": 4, "combiner": "sqrtn"}],
          "mini_batch_size": 16, "epochs": 2}
    rows = [{"label": 1, "in0": [k % 9 + 1], "in0_hist": [k % 11 + 1],
             "in1": [k % 11 + 1]} for k in range(64)]
    result = train(write_jsonl(rows), hp, objective="retrieval", seed=0,
                   verbose=0)
    model = result.model
    assert isinstance(model, RetrievalModel)
    x = {"in0": np.array([[1]]), "in0_hist": np.array([[3, 4]])}
    table = ops.convert_to_numpy(
        model.fields0["in0_hist"].token_embedding.embeddings)
    base = ops.convert_to_numpy(model.encoder0(x["in0"]))
    np.testing.assert_allclose(
        embed(model, [{"in0": [1], "in0_hist": [3, 4]}], "in0"),
        base + (table[3] + table[4]) / np.sqrt(2), rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "r.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(ops.convert_to_numpy(loaded.encode("in0", x)),
                               ops.convert_to_numpy(model.encode("in0", x)),
                               atol=1e-6)
    with pytest.raises(ValueError, match="`enc0_id_bias` must be False"):
        RetrievalModel({**hp, "enc0_id_bias": True,
                        "output_layer": "mean_squared_error"})


def test_retrieval_towers_apply_the_encoding_activation():
    from keras_o2v.retrieval import RetrievalModel

    model = RetrievalModel({
        "enc0_network": "pooled_embedding", "enc0_vocab_size": 10,
        "enc0_max_seq_len": 1, "enc1_network": "pooled_embedding",
        "enc1_vocab_size": 12, "enc1_max_seq_len": 1, "enc_dim": 8,
        "enc0_activation": "relu"})
    x = {"in0": np.array([[1], [2]]), "in1": np.array([[3], [4]])}
    raw0 = ops.convert_to_numpy(model.encoder0(x["in0"]))
    assert (raw0 < 0).any()
    np.testing.assert_allclose(ops.convert_to_numpy(model.encode("in0", x)),
                               np.maximum(raw0, 0), atol=1e-7)
    np.testing.assert_allclose(ops.convert_to_numpy(model.encode("in1", x)),
                               ops.convert_to_numpy(model.encoder1(x["in1"])),
                               atol=1e-7)


def test_a_field_can_read_an_encoders_token_table(tmp_path):
    import keras

    hp = {**HP, "enc0_fields": [{"name": "hist", "vocab_size": 12,
                                 "max_seq_len": 3, "embedding": "in1"}]}
    model = keras_o2v.build_object2vec(hp)
    field = model.get_layer("in0_hist_encoder")
    assert field.token_embedding is model.encoder1.token_embedding
    x = {"in0": np.array([[1]]), "in1": np.array([[3]]),
         "in0_hist": np.array([[4, 5]]), "in1_meta": np.array([[1]])}
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert (loaded.get_layer("in0_hist_encoder").token_embedding
            is loaded.encoder1.token_embedding)
    np.testing.assert_allclose(ops.convert_to_numpy(loaded.pair_scores(x)),
                               ops.convert_to_numpy(model.pair_scores(x)),
                               atol=1e-6)
    with pytest.raises(ValueError, match="Field 'hist' of `enc0_fields` "
                       "reads the token table of `in1`.*so its vocab_size "
                       "must be the table's: 12. Received: 9"):
        resolve_hyperparameters({**hp, "enc0_fields": [{
            "name": "hist", "vocab_size": 9, "embedding": "in1"}]})


def test_input_keys_match_the_record_spec():
    from keras_o2v.hyperparameters import input_keys
    from keras_o2v.instances import record_spec

    hp = resolve_hyperparameters(HP)
    assert input_keys(hp) == SPEC.keys()
    assert input_keys(hp, ("in1",)) == record_spec(hp, ("in1",)).keys() == [
        "in1", "in1_meta"]


def test_rest_server_routes_take_fields(model):
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from keras_o2v.serving.app import create_app
    from keras_o2v.serving.predictor import Predictor
    from tests.serving.helpers import post_json
    from tests.serving.helpers import running_server

    predictor = Predictor(model)
    instance = {k: v for k, v in record().items() if k != "label"}
    side = {k: v for k, v in instance.items() if k.startswith("in0")}
    with running_server(create_app(predictor)) as port:
        status, body = post_json(port, "/invocations",
                                 json.dumps({"instances": [instance]}))
        assert status == 200
        np.testing.assert_allclose(body["predictions"][0]["scores"],
                                   predict(model, [instance])[0], atol=1e-5)
        status, body = post_json(
            port, "/v1/models/object2vec:predict", json.dumps(
                {"signature_name": "embed_in0", "instances": [side]}))
        assert status == 200
        np.testing.assert_allclose(body["predictions"][0],
                                   embed(model, [side], "in0")[0], atol=1e-5)
        # A TF Serving request without a field the signature takes.
        status, body = post_json(
            port, "/v1/models/object2vec:predict", json.dumps(
                {"signature_name": "embed_in0", "instances": [{"in0": [1]}]}))
        assert status == 400 and "in0_hist" in body["error"]
