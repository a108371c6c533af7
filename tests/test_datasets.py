"""keras_o2v.datasets: loaders on tiny files, and on the real ones if here."""

import json
import os

import numpy as np
import pytest

from keras_o2v import datasets
from keras_o2v.datasets import movielens
from keras_o2v.datasets import reuters
from keras_o2v.datasets import text_pairs
from tests.conftest import SHARED_DATA


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return str(path)


# === default_data_dir and glove_file ===


def test_default_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_O2V_DATA", str(tmp_path))
    assert datasets.default_data_dir() == str(tmp_path)
    # A loader without `data_dir` reads there.
    write(tmp_path / "ml-100k" / "ua.base", "1\t2\t5\t0\n")
    write(tmp_path / "ml-100k" / "ua.test", "1\t3\t4\t0\n")
    base, test = movielens.load_ratings()
    assert base.tolist() == [[1, 2, 5]] and test.tolist() == [[1, 3, 4]]


def test_default_data_dir_without_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_O2V_DATA", raising=False)
    # ../shared/data seen from the working directory comes first.
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    assert datasets.default_data_dir() == os.path.join("..", "shared", "data")
    # Else the folder beside the checkout, else the name to fix.
    (tmp_path / "elsewhere" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "elsewhere" / "deeper")
    checkout = os.path.normpath(os.path.join(
        os.path.dirname(datasets.__file__), "..", "..", "..", "shared",
        "data"))
    expected = (checkout if os.path.isdir(checkout)
                else os.path.join("..", "shared", "data"))
    assert datasets.default_data_dir() == expected


def test_glove_file_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r"missing: glove/glove\.6B\.50d\.top100k\.txt"
                             r".*Received: data_dir="):
        datasets.glove_file(str(tmp_path))
    path = write(tmp_path / "glove" / "glove.6B.50d.top100k.txt", "the 1 2\n")
    assert datasets.glove_file(str(tmp_path)) == path


# === MovieLens ===


def test_read_ratings_keeps_user_item_rating(tmp_path):
    path = write(tmp_path / "u.data", "196\t242\t3\t881250949\n"
                                      "186\t302\t3\t891717742\n"
                                      "22\t377\t1\t878887116\n")
    ratings = movielens.read_ratings(path)
    assert ratings.dtype == np.int64
    np.testing.assert_array_equal(
        ratings, [[196, 242, 3], [186, 302, 3], [22, 377, 1]])
    # One line is still one row of three.
    one = write(tmp_path / "one.data", "1\t2\t5\t0\n")
    assert movielens.read_ratings(one).shape == (1, 3)


def test_read_ratings_errors_name_the_file(tmp_path):
    bad = write(tmp_path / "bad.data", "1\t2\t5\t0\n1\tx\t5\t0\n")
    with pytest.raises(ValueError, match="bad.data: ML-100k ratings must be"):
        movielens.read_ratings(bad)
    with pytest.raises(FileNotFoundError, match="`path` must be an ML-100k"):
        movielens.read_ratings(str(tmp_path / "absent.data"))


def test_load_ratings_reads_the_split(tmp_path):
    write(tmp_path / "ml-100k" / "u2.base", "1\t10\t4\t0\n2\t11\t2\t0\n")
    write(tmp_path / "ml-100k" / "u2.test", "1\t12\t5\t0\n")
    base, test = movielens.load_ratings(str(tmp_path), "u2")
    assert base.shape == (2, 3) and test.shape == (1, 3)
    assert test[0].tolist() == [1, 12, 5]


def test_load_ratings_errors(tmp_path):
    with pytest.raises(ValueError, match=r"`split` must be one of .*'ua'.*"
                                         r"Received: split='u9'"):
        movielens.load_ratings(str(tmp_path), "u9")
    write(tmp_path / "ml-100k" / "ua.base", "1\t10\t4\t0\n")
    with pytest.raises(FileNotFoundError) as info:
        movielens.load_ratings(str(tmp_path), "ua")
    message = str(info.value)
    assert "missing: ml-100k/ua.test" in message
    assert "ua.base" not in message.split("missing:")[1]
    assert f"Received: data_dir={str(tmp_path)!r}" in message


def test_load_movies_decodes_titles_and_genres(tmp_path):
    flags = ["0"] * 19
    flags[1] = flags[15] = "1"  # Action, Sci-Fi
    write(tmp_path / "ml-100k" / "u.item",
          "1|Amélie (2001)|01-Jan-2001||http://x|" + "|".join(flags) + "\n"
          "2|Nothing (1990)|||http://y|" + "|".join(["0"] * 19) + "\n",
          encoding="latin-1")
    movies = movielens.load_movies(str(tmp_path))
    assert movies[1] == {"title": "Amélie (2001)", "release_date":
                         "01-Jan-2001", "url": "http://x",
                         "genres": ["Action", "Sci-Fi"]}
    assert movies[2]["genres"] == [] and movies[2]["release_date"] == ""


def test_load_movies_names_a_bad_line(tmp_path):
    write(tmp_path / "ml-100k" / "u.item",
          "1|A|d||u|" + "|".join(["0"] * 19) + "\n2|B|d||u|0|1\n")
    with pytest.raises(ValueError, match=r"u\.item, line 2: expected at "
                                         r"least 24"):
        movielens.load_movies(str(tmp_path))
    write(tmp_path / "ml-100k" / "u.item",
          "1|A|d||u|" + "|".join(["2"] * 19) + "\n")
    with pytest.raises(ValueError, match="line 1: the 19 genre flags must "
                                         "be 0 or 1"):
        movielens.load_movies(str(tmp_path))


def test_load_users(tmp_path):
    write(tmp_path / "ml-100k" / "u.user",
          "1|24|M|technician|85711\n2|53|F|other|94043\n")
    users = movielens.load_users(str(tmp_path))
    assert users[2] == {"age": 53, "gender": "F", "occupation": "other",
                        "zip_code": "94043"}
    write(tmp_path / "ml-100k" / "u.user", "1|old|M|technician|85711\n")
    with pytest.raises(ValueError, match="line 1: the age must be an "
                                         "integer. Received: 'old'"):
        movielens.load_users(str(tmp_path))


# === Text pairs ===


def test_stsb_columns_and_scores(tmp_path):
    for split in ("train", "dev", "test"):
        write(tmp_path / "stsb" / f"sts-{split}.csv",
              'main-captions\tMSRvid\t2012\t0001\t4.250\tA "plane" takes '
              'off.\tAn air plane is taking off.\n'
              "main-news\theadlines\t2013\t0002\t0.5\tOne.\tTwo.\textra\t"
              "fields\n")
    sts = text_pairs.stsb(str(tmp_path))
    assert sorted(sts.paths) == ["dev", "test", "train"]
    first, second, scores = text_pairs.read_text_pairs(sts, "dev")
    # Bare quotes kept; fields after the 7th ignored.
    assert first == ['A "plane" takes off.', "One."]
    assert second == ["An air plane is taking off.", "Two."]
    assert scores == [4.25, 0.5]


def test_sick_labels(tmp_path):
    header = ("pair_ID\tsentence_A\tsentence_B\trelatedness_score\t"
              "entailment_judgment\n")
    for name in ("SICK_train", "SICK_trial", "SICK_test_annotated"):
        write(tmp_path / "sick" / "semeval2014_splits" / f"{name}.txt",
              header + "1\tA dog runs.\tA dog is running.\t4.9\tENTAILMENT\n"
                       "2\tA cat.\tNo cat.\t3.1\tCONTRADICTION\n")
    relatedness = text_pairs.sick(str(tmp_path))
    assert text_pairs.read_text_pairs(relatedness, "trial")[2] == [4.9, 3.1]
    entailment = text_pairs.sick(str(tmp_path), "entailment_judgment")
    assert text_pairs.read_text_pairs(entailment, "test")[2] == [1, 2]
    with pytest.raises(ValueError, match=r"`label` must be one of .*"
                                         r"Received: label='score'"):
        text_pairs.sick(str(tmp_path), "score")


def write_nli(tmp_path):
    rows = [{"sentence1": "A man sleeps.", "sentence2": "A person rests.",
             "gold_label": "entailment"},
            {"sentence1": "A man sleeps.", "sentence2": "He runs.",
             "gold_label": "contradiction"},
            {"sentence1": "Odd.", "sentence2": "Pair.", "gold_label": "-"}]
    for split in ("dev", "test"):
        write(tmp_path / "snli" / f"snli_1.0_{split}_gold.jsonl",
              "".join(json.dumps(r) + "\n" for r in rows))
    write(tmp_path / "multinli" / "multinli_1.0_dev_matched_gold.jsonl",
          json.dumps({"premise": "P.", "hypothesis": "H.",
                      "label": "entailment"}) + "\n")


def test_snli_skips_labels_outside_the_map(tmp_path):
    write_nli(tmp_path)
    first, second, classes = text_pairs.read_text_pairs(
        text_pairs.snli(str(tmp_path)), "test")
    assert classes == [0, 2]  # "-" left out, as `prepare` leaves it out
    assert second == ["A person rests.", "He runs."]


def test_entailment_pairs_in_source_order(tmp_path):
    write_nli(tmp_path)
    premises, hypotheses = text_pairs.entailment_pairs(str(tmp_path))
    assert premises == ["A man sleeps.", "A man sleeps.", "P."]
    assert hypotheses == ["A person rests.", "A person rests.", "H."]


def test_text_pair_errors(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r"missing: stsb/sts-train\.csv, stsb/sts-dev\."
                             r"csv, stsb/sts-test\.csv"):
        text_pairs.stsb(str(tmp_path))
    write_nli(tmp_path)
    snli = text_pairs.snli(str(tmp_path))
    with pytest.raises(ValueError, match=r"`split` must be one of \['dev', "
                                         r"'test'\] for snli"):
        text_pairs.read_text_pairs(snli, "train")
    for split in ("train", "dev", "test"):
        write(tmp_path / "stsb" / f"sts-{split}.csv",
              "g\tf\ty\t1\thigh\tA.\tB.\n")
    with pytest.raises(ValueError, match=r"sts-dev\.csv, line 1: the label "
                                         r"must be a number"):
        text_pairs.read_text_pairs(text_pairs.stsb(str(tmp_path)), "dev")


# === Reuters ===


def test_reuters_documents_and_categories(tmp_path):
    folder = tmp_path / "reuters21578"
    write(folder / "modapte90_train.jsonl",
          json.dumps({"newid": 1, "labels": ["earn"], "title": "A &lt;B&gt;",
                      "body": "Profit &amp; loss"}) + "\n\n"
          + json.dumps({"newid": 2, "labels": ["acq", "earn"]}) + "\n")
    write(folder / "modapte90_test.jsonl",
          json.dumps({"newid": 9, "labels": ["acq"], "title": "T",
                      "body": "B"}) + "\n")
    write(folder / "modapte90_categories.txt", "acq\nearn\n\n")
    train, test, categories = reuters.load_data(str(tmp_path))
    assert categories == ["acq", "earn"]
    assert train[0] == {"newid": 1, "title": "A <B>",
                        "body": "Profit & loss", "labels": ["earn"]}
    assert train[1]["title"] == "" and train[1]["labels"] == ["acq", "earn"]
    assert [d["newid"] for d in test] == [9]


def test_reuters_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing: reuters21578/"
                                                "modapte90_train.jsonl"):
        reuters.load_data(str(tmp_path))
    bad = write(tmp_path / "bad.jsonl", '{"labels": ["a"]}\n{"title": "x"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 2: each line "
                                         r"must be an object with a "
                                         r"`labels` list"):
        reuters.read_documents(bad)
    broken = write(tmp_path / "broken.jsonl", "{not json\n")
    with pytest.raises(ValueError, match=r"broken\.jsonl, line 1: not JSON"):
        reuters.read_documents(broken)


# === The real files, where they are ===


def needs(folder):
    return pytest.mark.skipif(
        not os.path.isdir(os.path.join(SHARED_DATA, folder)),
        reason=f"no {folder} under {SHARED_DATA}")


@needs("ml-100k")
def test_real_movielens():
    base, test = movielens.load_ratings(SHARED_DATA, "ua")
    assert base.shape == (90570, 3) and test.shape == (9430, 3)
    base, test = movielens.load_ratings(SHARED_DATA, "u1")
    assert len(base) + len(test) == 100000
    everything = np.concatenate([base, test])
    assert everything[:, 0].max() == movielens.NUM_USERS
    assert everything[:, 1].max() == movielens.NUM_ITEMS
    assert set(np.unique(everything[:, 2])) == {1, 2, 3, 4, 5}
    movies = movielens.load_movies(SHARED_DATA)
    assert len(movies) == movielens.NUM_ITEMS
    assert movies[50]["title"] == "Star Wars (1977)"
    assert "Sci-Fi" in movies[50]["genres"]
    assert len(movielens.load_users(SHARED_DATA)) == movielens.NUM_USERS
    with open(os.path.join(SHARED_DATA, "ml-100k", "u.genre")) as f:
        genres = [line.split("|")[0] for line in f if line.strip()]
    assert tuple(genres) == movielens.GENRES


@needs("stsb")
@needs("sick")
@needs("snli")
@needs("multinli")
def test_real_text_pairs():
    sizes = {(text_pairs.stsb, "train"): 5749, (text_pairs.stsb, "test"): 1379,
             (text_pairs.sick, "train"): 4500, (text_pairs.sick, "trial"): 500,
             (text_pairs.sick, "test"): 4927, (text_pairs.snli, "dev"): 9842,
             (text_pairs.snli, "test"): 9824,
             (text_pairs.multinli, "dev_matched"): 9815}
    for (load, split), size in sizes.items():
        first, second, labels = text_pairs.read_text_pairs(
            load(SHARED_DATA), split)
        assert len(first) == len(second) == len(labels) == size, (
            load.__name__, split)
    scores = text_pairs.read_text_pairs(text_pairs.stsb(SHARED_DATA),
                                        "dev")[2]
    assert min(scores) == 0.0 and max(scores) == 5.0
    premises, _ = text_pairs.entailment_pairs(SHARED_DATA)
    assert len(premises) == 10176  # about a third of the 29481 NLI pairs


@needs("reuters21578")
def test_real_reuters():
    train, test, categories = reuters.load_data(SHARED_DATA)
    assert (len(train), len(test), len(categories)) == (7770, 3019, 90)
    assert all(d["labels"] for d in train + test)
    assert not any("&lt;" in d["body"] for d in train)
