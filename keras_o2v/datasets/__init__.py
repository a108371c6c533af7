"""Loaders of the public data sets the examples use, from local files.

Each loader reads a data set in its original form from a folder you give
(`data_dir`, by default `default_data_dir()`), checks that the files are
there and says which are missing. Nothing is downloaded: several of these
data sets may not be redistributed.

* `movielens`: MovieLens-100k ratings, splits, users and movies.
* `text_pairs`: STS Benchmark, SICK, SNLI and MultiNLI sentence pairs.
* `reuters`: Reuters-21578 ModApte-90 multi-label documents.
* `glove_file`: GloVe 6B 50d vectors for the auxiliary channel.
"""

from keras_o2v.datasets import movielens
from keras_o2v.datasets import reuters
from keras_o2v.datasets import text_pairs
from keras_o2v.datasets.paths import default_data_dir
from keras_o2v.datasets.paths import glove_file

__all__ = ["default_data_dir", "glove_file", "movielens", "reuters",
           "text_pairs"]
