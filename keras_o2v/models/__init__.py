from keras_o2v.models.object2vec import Object2Vec
from keras_o2v.models.object2vec import build_object2vec
from keras_o2v.models.object2vec import compile_object2vec

__all__ = ["Object2Vec", "build_object2vec", "compile_object2vec"]
