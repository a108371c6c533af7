"""Keras layers of Object2Vec: token embedding, encoders, comparator, MLP and
masked pooling. Every layer is registered for `.keras` loading."""

from keras_o2v.layers.comparator import Comparator
from keras_o2v.layers.encoders import ENCODERS
from keras_o2v.layers.encoders import BiLSTMEncoder
from keras_o2v.layers.encoders import Encoder
from keras_o2v.layers.encoders import HCNNEncoder
from keras_o2v.layers.encoders import PooledEmbeddingEncoder
from keras_o2v.layers.encoders import register_encoder
from keras_o2v.layers.encoders import unregister_encoder
from keras_o2v.layers.mlp import MLP
from keras_o2v.layers.pooling import MaskedGlobalAveragePooling1D
from keras_o2v.layers.pooling import MaskedGlobalMaxPooling1D
from keras_o2v.layers.token_embedding import TokenEmbedding

__all__ = [
    "Comparator", "ENCODERS", "BiLSTMEncoder", "Encoder", "HCNNEncoder",
    "PooledEmbeddingEncoder", "MLP", "MaskedGlobalAveragePooling1D",
    "MaskedGlobalMaxPooling1D", "TokenEmbedding", "register_encoder",
    "unregister_encoder",
]
