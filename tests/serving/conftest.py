import pytest

import keras_o2v

# Big enough for every id in OBJECT2VEC.md §3's examples (up to 10178 in in0,
# 3252 in in1); 3 classes and 16-dimensional embeddings, as the examples.
DOC_HP = {"enc0_network": "pooled_embedding", "enc0_vocab_size": 11000,
          "enc0_max_seq_len": 20, "enc1_network": "hcnn",
          "enc1_vocab_size": 4000, "enc1_max_seq_len": 10, "enc1_layers": 1,
          "enc1_token_embedding_dim": 4, "enc_dim": 16, "mlp_layers": 1,
          "mlp_dim": 8, "num_classes": 3}


@pytest.fixture(scope="session")
def doc_model():
    return keras_o2v.build_object2vec(DOC_HP, compile=False)


@pytest.fixture(scope="session")
def predictor(doc_model):
    from keras_o2v.serving.predictor import Predictor

    predictor = Predictor(doc_model)
    predictor.warm_up()
    return predictor
