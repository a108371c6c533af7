from keras_o2v.layers.encoders.base import Encoder
from keras_o2v.layers.encoders.bilstm import BiLSTMEncoder
from keras_o2v.layers.encoders.hcnn import HCNNEncoder
from keras_o2v.layers.encoders.pooled_embedding import PooledEmbeddingEncoder

ENCODERS = {
    "pooled_embedding": PooledEmbeddingEncoder,
    "hcnn": HCNNEncoder,
    "bilstm": BiLSTMEncoder,
}

__all__ = ["Encoder", "BiLSTMEncoder", "HCNNEncoder",
           "PooledEmbeddingEncoder", "ENCODERS"]
