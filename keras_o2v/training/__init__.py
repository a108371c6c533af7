from keras_o2v.training.train import TrainResult
from keras_o2v.training.train import evaluate
from keras_o2v.training.train import load_model
from keras_o2v.training.train import train

__all__ = ["TrainResult", "evaluate", "load_model", "train"]
