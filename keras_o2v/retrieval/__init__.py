"""Retrieval: embedding index, recommendations, ranking metrics and losses.

Beyond SageMaker's Object2Vec, which stops at emitting vectors: exact and
approximate top-k search over embeddings, top-k items for a user, similar
items, hits@k / recall@k / MRR / NDCG@k / mean rank, and a two-tower model
trained with the in-batch softmax.
"""

from keras_o2v.retrieval.index import EmbeddingIndex
from keras_o2v.retrieval.losses import InBatchSoftmaxLoss
from keras_o2v.retrieval.losses import in_batch_softmax_loss
from keras_o2v.retrieval.losses import similarity_matrix
from keras_o2v.retrieval.metrics import HitsAtK
from keras_o2v.retrieval.metrics import MeanRank
from keras_o2v.retrieval.metrics import MeanReciprocalRank
from keras_o2v.retrieval.metrics import NDCGAtK
from keras_o2v.retrieval.metrics import RecallAtK
from keras_o2v.retrieval.metrics import hits_at_k
from keras_o2v.retrieval.metrics import mean_rank
from keras_o2v.retrieval.metrics import mean_reciprocal_rank
from keras_o2v.retrieval.metrics import ndcg_at_k
from keras_o2v.retrieval.metrics import recall_at_k
from keras_o2v.retrieval.model import RetrievalModel
from keras_o2v.retrieval.model import build_retrieval_model
from keras_o2v.retrieval.model import retrieval_dataset
from keras_o2v.retrieval.model import sampling_probabilities
from keras_o2v.retrieval.recommend import build_index
from keras_o2v.retrieval.recommend import evaluate_retrieval
from keras_o2v.retrieval.recommend import query_instances
from keras_o2v.retrieval.recommend import read_jsonl
from keras_o2v.retrieval.recommend import recommend
from keras_o2v.retrieval.recommend import similar_items

__all__ = [
    "EmbeddingIndex", "InBatchSoftmaxLoss", "in_batch_softmax_loss",
    "similarity_matrix", "HitsAtK", "MeanRank", "MeanReciprocalRank",
    "NDCGAtK", "RecallAtK", "hits_at_k", "mean_rank", "mean_reciprocal_rank",
    "ndcg_at_k", "recall_at_k", "RetrievalModel", "build_retrieval_model",
    "retrieval_dataset", "sampling_probabilities", "build_index",
    "evaluate_retrieval", "query_instances", "read_jsonl", "recommend",
    "similar_items",
]
