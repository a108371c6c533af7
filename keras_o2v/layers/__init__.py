"""Keras layers of Object2Vec: token embedding, encoders, comparator, MLP,
masked pooling, and the extra fields and id biases of feature-rich objects.
Every layer is registered for `.keras` loading."""

from keras_o2v.layers.comparator import Comparator
from keras_o2v.layers.encoders import ENCODERS
from keras_o2v.layers.encoders import BiLSTMEncoder
from keras_o2v.layers.encoders import Encoder
from keras_o2v.layers.encoders import HCNNEncoder
from keras_o2v.layers.encoders import PooledEmbeddingEncoder
from keras_o2v.layers.encoders import register_encoder
from keras_o2v.layers.encoders import unregister_encoder
from keras_o2v.layers.fields import FieldEncoder
from keras_o2v.layers.fields import IdBias
from keras_o2v.layers.fields import WeightedPooling
from keras_o2v.layers.mlp import MLP
from keras_o2v.layers.pooling import MaskedGlobalAveragePooling1D
from keras_o2v.layers.pooling import MaskedGlobalMaxPooling1D
from keras_o2v.layers.token_embedding import TokenEmbedding

__all__ = [
    "Comparator", "ENCODERS", "BiLSTMEncoder", "Encoder", "FieldEncoder",
    "HCNNEncoder", "IdBias", "PooledEmbeddingEncoder", "MLP",
    "MaskedGlobalAveragePooling1D", "MaskedGlobalMaxPooling1D",
    "TokenEmbedding", "WeightedPooling", "register_encoder",
    "unregister_encoder",
]
