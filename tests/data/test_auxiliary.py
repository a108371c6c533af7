import json
import re

import keras
import numpy as np
import pytest

from keras_o2v import build_object2vec
from keras_o2v.data.auxiliary import load_vocab
from keras_o2v.data.auxiliary import pretrained_matrix
from keras_o2v.training import train
from keras_o2v.training.pretrained import load_pretrained_embeddings

GLOVE = """the 0.1 0.2 0.3
cat 1.0 -1.0 0.5
Dog 2.0 2.0 2.0
dog 3.0 3.0 3.0
sat -0.5 0.25 0.0
"""


@pytest.fixture
def aux(tmp_path):
    def write(vocab, glove=GLOVE, vocab_name="vocab.json",
              glove_name="glove.txt"):
        (tmp_path / vocab_name).write_text(
            vocab if isinstance(vocab, str) else json.dumps(vocab))
        (tmp_path / glove_name).write_text(glove)
        return str(tmp_path)

    return write


VOCAB = {"<pad>": 0, "<unk>": 1, "the": 2, "CAT": 3, "dog": 4, "zebra": 5}


def test_rows_land_on_their_ids_exact_then_lowercased(aux):
    folder = aux(VOCAB)
    vocab = load_vocab(f"{folder}/vocab.json", 8)
    result = pretrained_matrix(vocab, f"{folder}/glove.txt", 8, 3, seed=0)
    m = result.matrix
    np.testing.assert_allclose(m[2], [0.1, 0.2, 0.3])
    np.testing.assert_allclose(m[3], [1.0, -1.0, 0.5])  # CAT -> cat
    np.testing.assert_allclose(m[4], [3.0, 3.0, 3.0])  # exact dog, not Dog
    np.testing.assert_array_equal(m[0], 0)  # padding
    assert result.found.tolist() == [False, False, True, True, True, False,
                                     False, False]
    # <unk> and zebra are OOV (5 vocab words besides padding).
    assert (result.vocab_words, result.oov_words) == (5, 2)
    assert result.file_rows == 5
    assert np.abs(m[5]).sum() > 0 and np.abs(m[1]).sum() > 0  # random init


@pytest.mark.parametrize("glove,message", [
    ("a 1 2 3\nb 1 2\n", "line 2: expected a word and 3 values"),
    ("a 1 2 3\nthe 1 x 3\n", "line 2: non-numeric value in the vector of "
                             "'the'"),
    ("the 1 2 3\nb 1 2 3\nthe 4 5 6\n", "line 3: word 'the' already given "
                                        "on line 1"),
    ("a 1 2\n", "line 1: vectors have 2 values but `token_embedding_dim` is "
                "3"),
    ("\n", "holds no vectors"),
])
def test_bad_vector_files(aux, glove, message):
    folder = aux(VOCAB, glove=glove)
    vocab = load_vocab(f"{folder}/vocab.json", 8)
    with pytest.raises(ValueError, match=re.escape(f"{folder}/glove.txt") +
                       ".*" + re.escape(message)):
        pretrained_matrix(vocab, f"{folder}/glove.txt", 8, 3)


@pytest.mark.parametrize("vocab,message", [
    ('{"a": 1, "b": 9}', "word 'b' has id 9; ids must be integers in "
                         "[0, 7]"),
    ('{"a": 1, "b": 1}', "id 1 is given to both 'a' and 'b'"),
    ('{"a": 1, "a": 2}', "word 'a' appears twice"),
    ('{"a": "1"}', "word 'a' has id '1'"),
    ('["a"]', "expected a JSON object"),
    ('{"a": 1', "malformed JSON"),
])
def test_bad_vocab_files(aux, vocab, message):
    folder = aux(vocab)
    with pytest.raises(ValueError, match=re.escape(f"{folder}/vocab.json") +
                       ".*" + re.escape(message)):
        load_vocab(f"{folder}/vocab.json", 8)


HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 8,
      "enc0_max_seq_len": 4, "enc0_token_embedding_dim": 3, "enc_dim": 4,
      "enc0_vocab_file": "vocab.json",
      "enc0_pretrained_embedding_file": "glove.txt", "mlp_layers": 0,
      "learning_rate": 0.1, "mini_batch_size": 4, "epochs": 1}


def _rows(n=32):
    rng = np.random.default_rng(0)
    return [{"label": int(rng.integers(0, 2)),
             "in0": rng.integers(1, 8, 3).tolist(),
             "in1": rng.integers(1, 8, 2).tolist()} for _ in range(n)]


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_keeps_pretrained_rows_and_oov_rows_learn(aux, write_jsonl,
                                                         freeze, tmp_path):
    folder = aux(VOCAB)
    result = train(write_jsonl(_rows()), HP, auxiliary=folder, seed=0,
                   verbose=0, enc0_freeze_pretrained_embedding=freeze,
                   weight_decay=0.01, model_dir=str(tmp_path / "model"))
    table = result.model.encoder0.token_embedding.embeddings.numpy()
    expected = pretrained_matrix(load_vocab(f"{folder}/vocab.json", 8),
                                 f"{folder}/glove.txt", 8, 3)
    pretrained = expected.found
    unchanged = np.isclose(table[pretrained],
                           expected.matrix[pretrained]).all()
    assert unchanged == freeze
    # OOV rows always learn (their start is random: compare to the file's
    # rows only through the model's own initial values).
    model = build_object2vec(result.hyperparameters)
    load_pretrained_embeddings(model, folder, seed=0)
    start = model.encoder0.token_embedding.embeddings.numpy()
    used = np.zeros(8, bool)
    used[np.unique(np.concatenate([r["in0"] for r in _rows()]))] = True
    learned = used & ~pretrained
    assert not np.allclose(table[learned], start[learned])
    # The frozen flags survive save/load.
    loaded = keras.models.load_model(str(tmp_path / "model" / "model.keras"))
    np.testing.assert_array_equal(
        loaded.encoder0.token_embedding.embeddings.numpy(), table)
    if freeze:
        np.testing.assert_array_equal(
            loaded.encoder0.token_embedding.row_trainable.numpy(),
            1.0 - pretrained)
        # Training the loaded model (its optimizer rebuilt from the file,
        # weight decay on) still leaves the frozen rows alone.
        ids = np.array([[2, 3, 4], [5, 1, 2]], np.int32)
        loaded.fit({"in0": ids, "in1": ids[:, :2]}, np.array([0, 1]),
                   epochs=2, verbose=0)
        after = loaded.encoder0.token_embedding.embeddings.numpy()
        np.testing.assert_array_equal(after[pretrained], table[pretrained])


def test_pretrained_file_needs_vocab_and_auxiliary(aux, write_jsonl):
    with pytest.raises(ValueError, match="`enc0_pretrained_embedding_file` "
                                         "needs `enc0_vocab_file`"):
        train(write_jsonl(_rows()), {**HP, "enc0_vocab_file": ""}, verbose=0)
    with pytest.raises(ValueError, match="pass `auxiliary`"):
        train(write_jsonl(_rows()), HP, verbose=0)


def test_tied_embedding_is_one_variable_loaded_once(aux):
    folder = aux(VOCAB)
    model = build_object2vec({**HP, "enc1_vocab_size": 8,
                              "tied_token_embedding_weight": True})
    assert model.encoder0.token_embedding is model.encoder1.token_embedding
    names = [w.path for w in model.weights if "embeddings" in w.path]
    assert len(names) == 1, names
    loaded = load_pretrained_embeddings(model, folder, seed=0)
    assert list(loaded) == ["enc0"]
