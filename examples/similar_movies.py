"""Similar movies from the in1 (movie) embeddings of a MovieLens model.

Uses the model and item index that `examples/movielens_implicit.py` writes
(`--work-dir`, default runs/movielens_implicit), prints the 5 nearest
neighbours (cosine) of a few well-known titles, and writes a PCA map of the
movies coloured by first genre (`movies.png`) and TensorBoard projector
files (`projector/`) beside them.

    python examples/movielens_implicit.py --data-dir ../shared/data
    python examples/similar_movies.py --data-dir ../shared/data
"""

import argparse
import os

import numpy as np

from keras_o2v.datasets import default_data_dir
from keras_o2v.datasets import movielens
from keras_o2v.retrieval import EmbeddingIndex
from keras_o2v.visualization import export_projector
from keras_o2v.visualization import plot_embeddings

TITLES = ("Star Wars (1977)", "Toy Story (1995)", "Fargo (1996)",
          "Godfather, The (1972)", "Scream (1996)", "Sense and Sensibility "
          "(1995)")


def read_movies(data_dir):
    """{movie id: (title, first genre)}; the map colours by first genre."""
    return {movie: (row["title"], (row["genres"] or ["unknown"])[0])
            for movie, row in movielens.load_movies(data_dir).items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--work-dir", default=os.path.join(
        "runs", "movielens_implicit"))
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--min-ratings", type=int, default=20,
                        help="movies with fewer train ratings are left off "
                             "the map (their vectors are mostly noise)")
    args = parser.parse_args()
    index_path = os.path.join(args.work_dir, "items.index")
    if not os.path.isdir(index_path):
        parser.error(f"no {index_path}: run examples/movielens_implicit.py "
                     "first (same --work-dir)")
    index = EmbeddingIndex.load(index_path)
    try:
        movies = read_movies(args.data_dir)
        base, _ = movielens.load_ratings(args.data_dir, "u1")
    except (FileNotFoundError, ValueError) as e:
        parser.error(str(e))
    by_title = {title: movie for movie, (title, _) in movies.items()}
    for title in TITLES:
        found, scores = index.similar([by_title[title]], k=args.k)
        neighbours = ", ".join(f"{movies[int(m)][0]} ({s:.2f})"
                               for m, s in zip(found[0], scores[0]))
        print(f"{title}: {neighbours}")

    # Train ratings per movie (u1.base, the split the model was trained on).
    counts = np.bincount(base[:, 1], minlength=max(movies) + 1)
    keep = [m for m in index.ids.tolist() if counts[m] >= args.min_ratings]
    vectors = index.vectors_of(keep)
    png = os.path.join(args.work_dir, "movies.png")
    plot_embeddings(vectors, png, labels=[movies[m][0] for m in keep],
                    colors=[movies[m][1] for m in keep], max_labels=25,
                    title=f"MovieLens movies with >= {args.min_ratings} "
                          "ratings, in1 embeddings (PCA)")
    export_projector(vectors, os.path.join(args.work_dir, "projector"),
                     metadata={"title": [movies[m][0] for m in keep],
                               "genre": [movies[m][1] for m in keep]})
    print(f"Wrote {png} and {args.work_dir}/projector/ ({len(keep)} movies)")


if __name__ == "__main__":
    main()
