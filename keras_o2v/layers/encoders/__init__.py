"""Sequence encoders: token ids -> one vector per sequence.

The `encX_network` names are the encoder registry of
`keras_o2v.hyperparameters` (`ENCODERS`); `register_encoder` adds one.
"""

from keras_o2v.hyperparameters import ENCODERS
from keras_o2v.hyperparameters import register_encoder
from keras_o2v.hyperparameters import unregister_encoder
from keras_o2v.layers.encoders.base import Encoder
from keras_o2v.layers.encoders.bilstm import BiLSTMEncoder
from keras_o2v.layers.encoders.hcnn import HCNNEncoder
from keras_o2v.layers.encoders.pooled_embedding import PooledEmbeddingEncoder

__all__ = ["Encoder", "BiLSTMEncoder", "HCNNEncoder",
           "PooledEmbeddingEncoder", "ENCODERS", "register_encoder",
           "unregister_encoder"]
